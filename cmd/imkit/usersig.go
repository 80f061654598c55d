package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/usersig"
)

func init() {
	register("usersig", "sign and verify UserSig tickets", runUserSig)
}

const userSigUsage = `usage:
  imkit usersig gen    --sdkappid N --key K --user U [--expire SECONDS]
  imkit usersig verify --sdkappid N --key K --user U [--now UNIXSECONDS] TICKET

gen prints a new ticket, valid for --expire seconds (default 15552000, 180
days), and a newline.

verify checks TICKET ("-" reads it from stdin) for the app, key and user at
--now (default: the current time). On stdout it prints
  ok expires <time>       and exits 0 when the ticket is valid, or
  <code> <reason>         and exits 1, with Tencent's code: 70001 expired,
                          70002 empty, 70003 undecodable, 70009 signature
                          mismatch, 70013 user mismatch, 70014 app mismatch.

With no --key, the key is read from the environment variable IMKIT_KEY, so
that it does not show in the process list. Usage errors exit 2.
`

func runUserSig(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, userSigUsage)
		return exitError{2}
	}
	switch args[0] {
	case "gen":
		return runUserSigGen(env, args[1:])
	case "verify":
		return runUserSigVerify(env, args[1:])
	case "help", "-h", "-help", "--help":
		fmt.Fprint(env.Stdout, userSigUsage)
		return nil
	}
	fmt.Fprintf(env.Stderr, "imkit usersig: unknown subcommand %q\n\n%s", args[0], userSigUsage)
	return exitError{2}
}

// userSigFlags are the flags gen and verify share.
type userSigFlags struct {
	sdkAppID uint64
	key      string
	user     string
}

func newUserSigFlagSet(env *Env, name string, f *userSigFlags) *flag.FlagSet {
	fs := newFlagSet(env, "usersig "+name)
	fs.Uint64Var(&f.sdkAppID, "sdkappid", 0, "the app's `SDKAppID` (required)")
	fs.StringVar(&f.key, "key", "", "the app's secret `key` (required; default $IMKIT_KEY)")
	fs.StringVar(&f.user, "user", "", "the `UserID` the ticket is for (required)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nflags of %s:\n", userSigUsage, name)
		fs.PrintDefaults()
	}
	return fs
}

// check fills the key from IMKIT_KEY and reports a missing flag.
func (f *userSigFlags) check(env *Env, name string) error {
	if f.key == "" {
		f.key = env.Getenv("IMKIT_KEY")
	}
	var missing []string
	if f.sdkAppID == 0 {
		missing = append(missing, "--sdkappid")
	}
	if f.key == "" {
		missing = append(missing, "--key (or IMKIT_KEY)")
	}
	if f.user == "" {
		missing = append(missing, "--user")
	}
	if len(missing) > 0 {
		return usageError(env, name, "missing %s", strings.Join(missing, ", "))
	}
	return nil
}

// usageError reports a usage mistake on stderr and exits 2.
func usageError(env *Env, name, format string, args ...any) error {
	fmt.Fprintf(env.Stderr, "imkit usersig %s: %s\nrun \"imkit usersig %s -h\" for help\n", name, fmt.Sprintf(format, args...), name)
	return exitError{2}
}

func runUserSigGen(env *Env, args []string) error {
	var f userSigFlags
	fs := newUserSigFlagSet(env, "gen", &f)
	expire := fs.Int64("expire", int64(usersig.DefaultExpire/time.Second), "lifetime of the ticket in `seconds`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, "gen", "unexpected argument %q", fs.Arg(0))
	}
	if err := f.check(env, "gen"); err != nil {
		return err
	}
	if *expire < 0 {
		return usageError(env, "gen", "--expire %d is negative", *expire)
	}
	ticket, err := usersig.SignTicket(f.key, usersig.Ticket{
		Identifier: f.user,
		SDKAppID:   f.sdkAppID,
		Time:       time.Now().Unix(),
		Expire:     *expire,
	})
	if err != nil {
		return usageError(env, "gen", "%s", imkit.ErrorMessage(err))
	}
	_, err = fmt.Fprintln(env.Stdout, ticket)
	return err
}

func runUserSigVerify(env *Env, args []string) error {
	var f userSigFlags
	fs := newUserSigFlagSet(env, "verify", &f)
	nowUnix := fs.Int64("now", 0, "check at this time, in Unix `seconds` (default: now)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usageError(env, "verify", "missing TICKET")
	case fs.NArg() > 1:
		return usageError(env, "verify", "one TICKET expected, got %d arguments (flags go before TICKET)", fs.NArg())
	}
	if err := f.check(env, "verify"); err != nil {
		return err
	}
	now := time.Now()
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "now" {
			now = time.Unix(*nowUnix, 0)
		}
	})
	ticket := fs.Arg(0)
	if ticket == "-" {
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 4*usersig.MaxTicketLen))
		if err != nil {
			return fmt.Errorf("read the ticket from stdin: %w", err)
		}
		ticket = strings.TrimSpace(string(b))
	}

	t, err := usersig.Verify(ticket, f.sdkAppID, f.key, f.user, now)
	if err != nil {
		fmt.Fprintf(env.Stdout, "%d %s\n", imkit.ErrorCode(err), imkit.ErrorMessage(err))
		return exitError{1}
	}
	_, err = fmt.Fprintf(env.Stdout, "ok expires %s\n", t.ExpiresAt().UTC().Format(time.RFC3339))
	return err
}
