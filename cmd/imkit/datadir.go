package main

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// The SQLite database holds the apps' secret keys: the data directory is
// the owner's only (0700), and so are its files (0600).
const (
	dataDirMode  fs.FileMode = 0o700
	dataFileMode fs.FileMode = 0o600
)

// prepareDataDir tightens the permissions of the data directory, when it
// exists, and of the database's files (imkit.db and SQLite's -wal and
// -shm) that others could read or write, with a warning for each. The database file is made here (0600), before SQLite
// makes it with the umask's mode; SQLite gives its -wal and -shm files the
// database file's mode.
func prepareDataDir(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if err := tighten(dir, dataDirMode, log); os.IsNotExist(err) {
		return nil // sqlite.Open says what is wrong
	} else if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	db := filepath.Join(dir, "imkit.db")
	f, err := os.OpenFile(db, os.O_RDONLY|os.O_CREATE, dataFileMode)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	f.Close()
	for _, name := range []string{db, db + "-wal", db + "-shm"} {
		if err := tighten(name, dataFileMode, log); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("data directory: %w", err)
		}
	}
	return nil
}

// tighten removes the permission bits of name beyond want, and warns when
// there were any.
func tighten(name string, want fs.FileMode, log *slog.Logger) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	mode := fi.Mode().Perm()
	if mode&^want == 0 {
		return nil
	}
	if err := os.Chmod(name, mode&want); err != nil {
		return err
	}
	log.Warn("tightened the permissions of the data directory: it holds the secret keys",
		"path", name, "was", fmt.Sprintf("%#o", mode), "now", fmt.Sprintf("%#o", mode&want))
	return nil
}
