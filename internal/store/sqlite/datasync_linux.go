package sqlite

import (
	"os"
	"syscall"
)

// datasync writes f's data to the disk: fdatasync, as SQLite syncs.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
