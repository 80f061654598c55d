package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/restapi"
)

// userCommands are the subcommands of "imkit user".
var userCommands = map[string]command{}

func init() {
	register("user", "import, check and kick users; show their online state", runUser)
	userCommands["import"] = command{"create (or update) accounts", runUserImport}
	userCommands["check"] = command{"tell whether accounts exist", runUserCheck}
	userCommands["kick"] = command{"end every session of users and revoke their tickets", runUserKick}
	userCommands["state"] = command{"show whether users are online, and where", runUserState}
}

// runSubcommand runs one of cmds, as "imkit <name> <command>".
func runSubcommand(ctx context.Context, env *Env, name string, cmds map[string]command, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, "usage: imkit %s <command> [flags]\n\ncommands:\n", name)
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-8s %s\n", n, cmds[n].summary)
		}
		if len(args) == 0 {
			return exitError{2}
		}
		return nil
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "imkit %s: unknown command %q\n", name, args[0])
		return exitError{2}
	}
	return cmd.run(ctx, env, args[1:])
}

func runUser(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "user", userCommands, args)
}

// restFlags are the flags of the commands that call a running server's REST
// API as the app's admin.
type restFlags struct {
	server   string
	sdkAppID uint64
	admin    string
	key      string
	data     string
}

func (f *restFlags) register(fs *flag.FlagSet, env *Env) {
	fs.StringVar(&f.server, "server", envOr(env, "IMKIT_SERVER", "http://127.0.0.1:8080"), "the running server's `URL` (env IMKIT_SERVER)")
	fs.Uint64Var(&f.sdkAppID, "sdkappid", 0, "the app's SDKAppID (env IMKIT_SDKAPPID; default with --data: its only app)")
	fs.StringVar(&f.admin, "admin", "", "the app's admin identifier (default with --data: the app's; else administrator)")
	fs.StringVar(&f.key, "key", "", "the app's secret `key`, to sign the admin's tickets (env IMKIT_KEY)")
	fs.StringVar(&f.data, "data", "", "the server's data `directory`, to read the SDKAppID, admin and key from")
}

// usageErr reports a usage error and makes the command exit with 2.
func usageErr(env *Env, name, format string, args ...any) error {
	fmt.Fprintf(env.Stderr, "imkit %s: %s\n", name, fmt.Sprintf(format, args...))
	return exitError{2}
}

// client returns the REST client the flags describe.
func (f *restFlags) client(ctx context.Context, env *Env, name string) (*restapi.Client, error) {
	if f.sdkAppID == 0 {
		if v := env.Getenv("IMKIT_SDKAPPID"); v != "" {
			if _, err := fmt.Sscan(v, &f.sdkAppID); err != nil {
				return nil, usageErr(env, name, "IMKIT_SDKAPPID %q is not a number", v)
			}
		}
	}
	if f.key == "" {
		f.key = env.Getenv("IMKIT_KEY")
	}
	if f.data != "" && (f.key == "" || f.sdkAppID == 0 || f.admin == "") {
		st, err := openStore(ctx, f.data, "")
		if err != nil {
			return nil, err
		}
		apps, err := st.Apps(ctx)
		st.Close()
		if err != nil {
			return nil, fmt.Errorf("list apps in %s: %w", f.data, err)
		}
		found := false
		for _, a := range apps {
			if f.sdkAppID == a.SDKAppID || f.sdkAppID == 0 && len(apps) == 1 {
				f.sdkAppID, found = a.SDKAppID, true
				if f.key == "" {
					f.key = a.Key
				}
				if f.admin == "" {
					f.admin = a.Admin
				}
			}
		}
		if !found {
			if f.sdkAppID == 0 {
				return nil, usageErr(env, name, "%s has %d apps; choose one with --sdkappid", f.data, len(apps))
			}
			return nil, usageErr(env, name, "%s has no app %d", f.data, f.sdkAppID)
		}
	}
	if f.sdkAppID == 0 {
		return nil, usageErr(env, name, "give --sdkappid (or --data)")
	}
	if f.key == "" {
		return nil, usageErr(env, name, "give the app's secret key: --key, IMKIT_KEY or --data")
	}
	if f.admin == "" {
		f.admin = "administrator"
	}
	base, err := httpURL(f.server)
	if err != nil {
		return nil, usageErr(env, name, "--server: %v", err)
	}
	return restapi.NewClient(base, f.sdkAppID, f.admin, f.key), nil
}

// httpURL turns a server address (http://, https://, ws://, wss:// or
// host:port) into the base URL of its REST API.
func httpURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a server URL", s)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%q: want http://, https://, ws:// or wss://", s)
	}
	u.Path, u.RawQuery = "", ""
	return u.String(), nil
}

// apiErr turns an API error into the command's error: its code and
// message (exit status 1).
func apiErr(err error) error {
	if e, ok := errors.AsType[*imkit.Error](err); ok {
		return fmt.Errorf("code %d: %s", e.Code, e.Message)
	}
	return err
}

// userCall parses the flags of a user command that takes nothing but the
// REST flags and UserIDs, and returns its REST client and the UserIDs.
func userCall(ctx context.Context, env *Env, name, usage string, args []string) (*restapi.Client, []string, error) {
	fs := newFlagSet(env, name)
	setUsage(fs, env.Stderr, usage)
	var rf restFlags
	rf.register(fs, env)
	ids, err := parseUserFlags(fs, env, name, args)
	if err != nil {
		return nil, nil, err
	}
	c, err := rf.client(ctx, env, name)
	return c, ids, err
}

// parseUserFlags parses the flags of a user command that takes UserIDs.
func parseUserFlags(fs *flag.FlagSet, env *Env, name string, args []string) ([]string, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, usageErr(env, name, "give one or more UserIDs")
	}
	return fs.Args(), nil
}

func setUsage(fs *flag.FlagSet, w io.Writer, usage string) {
	fs.Usage = func() {
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
	}
}

func runUserImport(ctx context.Context, env *Env, args []string) error {
	const name = "user import"
	fs := newFlagSet(env, name)
	setUsage(fs, env.Stderr, "usage: imkit user import [flags] USERID...\n\nCreates the accounts, or updates the profile of those that exist.\n\nflags:\n")
	var rf restFlags
	rf.register(fs, env)
	nick := fs.String("nick", "", "the nickname (one UserID only)")
	face := fs.String("face", "", "the avatar `URL` (one UserID only)")
	ids, err := parseUserFlags(fs, env, name, args)
	if err != nil {
		return err
	}
	if len(ids) > 1 && (*nick != "" || *face != "") {
		return usageErr(env, name, "--nick and --face go with one UserID")
	}
	c, err := rf.client(ctx, env, name)
	if err != nil {
		return err
	}
	if len(ids) == 1 {
		if err := c.ImportAccount(ctx, restapi.Account{UserID: ids[0], Nick: *nick, FaceURL: *face}); err != nil {
			return apiErr(err)
		}
		fmt.Fprintf(env.Stdout, "imported %s\n", ids[0])
		return nil
	}
	var failed []string
	for len(ids) > 0 {
		n := min(len(ids), 100)
		accounts := make([]restapi.Account, n)
		for i, id := range ids[:n] {
			accounts[i].UserID = id
		}
		f, err := c.ImportAccounts(ctx, accounts)
		if err != nil {
			return apiErr(err)
		}
		failed = append(failed, f...)
		bad := make(map[string]bool, len(f))
		for _, id := range f {
			bad[id] = true
		}
		for _, id := range ids[:n] {
			if !bad[id] {
				fmt.Fprintf(env.Stdout, "imported %s\n", id)
			}
		}
		ids = ids[n:]
	}
	if len(failed) > 0 {
		return fmt.Errorf("not imported: %s", strings.Join(failed, " "))
	}
	return nil
}

func runUserCheck(ctx context.Context, env *Env, args []string) error {
	c, ids, err := userCall(ctx, env, "user check", "usage: imkit user check [flags] USERID...\n\nPrints each account's status: Imported or NotImported.\n\nflags:\n", args)
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), 100)
		res, err := c.CheckAccounts(ctx, ids[:n])
		if err != nil {
			return apiErr(err)
		}
		for _, r := range res {
			if r.Code != imkit.OK {
				fmt.Fprintf(env.Stdout, "%s\terror %d: %s\n", r.UserID, r.Code, r.Info)
				continue
			}
			fmt.Fprintf(env.Stdout, "%s\t%s\n", r.UserID, r.AccountStatus)
		}
		ids = ids[n:]
	}
	return nil
}

func runUserKick(ctx context.Context, env *Env, args []string) error {
	c, ids, err := userCall(ctx, env, "user kick", "usage: imkit user kick [flags] USERID...\n\nEnds every session of the users (their instances are told: kicked by an\nadmin) and refuses the tickets signed before now.\n\nflags:\n", args)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := c.Kick(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, apiErr(err)))
			continue
		}
		fmt.Fprintf(env.Stdout, "kicked %s\n", id)
	}
	return errors.Join(errs...)
}

func runUserState(ctx context.Context, env *Env, args []string) error {
	c, ids, err := userCall(ctx, env, "user state", "usage: imkit user state [flags] USERID...\n\nPrints whether each user is Online or Offline, and the platforms of its\nonline instances.\n\nflags:\n", args)
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		st, err := c.QueryOnlineStatus(ctx, ids[:n], true)
		if err != nil {
			return apiErr(err)
		}
		for _, u := range st.QueryResult {
			var ps []string
			for _, d := range u.Detail {
				ps = append(ps, d.Platform)
			}
			fmt.Fprintf(env.Stdout, "%s\t%s\t%s\n", u.UserID, u.State, strings.Join(ps, ","))
		}
		for _, e := range st.ErrorList {
			msg := "error"
			if e.Code == imkit.ErrSvrAccountNotFound {
				msg = "no such account"
			}
			fmt.Fprintf(env.Stdout, "%s\t%s (%d)\n", e.UserID, msg, e.Code)
		}
		ids = ids[n:]
	}
	return nil
}
