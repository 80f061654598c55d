package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/imkit/imkit/internal/store"
)

// appCommands are the subcommands of "imkit app".
var appCommands = map[string]command{}

func init() {
	register("app", "create and list apps; change an app's login policy", runApp)
	appCommands["create"] = command{"create an app (keep an SDKAppID and key from Tencent)", runAppCreate}
	appCommands["list"] = command{"list the apps", runAppList}
}

func runApp(ctx context.Context, env *Env, args []string) error {
	return runSubcommand(ctx, env, "app", appCommands, args)
}

func runAppCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "app create")
	dir := fs.String("data", envOr(env, "IMKIT_DATA", "imkit-data"), "data `directory` (env IMKIT_DATA)")
	pg := postgresFlag(fs)
	id := fs.Uint64("sdkappid", 0, "the app's SDKAppID (default: a random one)")
	key := fs.String("key", "", "the app's secret key (default: a random one; env IMKIT_KEY)")
	admin := fs.String("admin", "administrator", "the admin identifier the REST API requires")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *key == "" {
		*key = env.Getenv("IMKIT_KEY")
	}
	a, err := newApp(*id, *key, *admin)
	if err != nil {
		return err
	}
	dsn := postgresDSN(env, *pg)
	st, err := openDB(ctx, dsn, *dir, "", nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CreateApp(ctx, a); err != nil {
		if errors.Is(err, store.ErrExists) {
			where := *dir
			if dsn != "" {
				where = "the PostgreSQL database"
			}
			return fmt.Errorf("SDKAppID %d already exists in %s", a.SDKAppID, where)
		}
		return fmt.Errorf("create app: %w", err)
	}
	fmt.Fprintln(env.Stdout, "imkit: created app")
	printApp(env.Stdout, a, *key == "")
	return nil
}

func runAppList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "app list")
	dir := fs.String("data", envOr(env, "IMKIT_DATA", "imkit-data"), "data `directory` (env IMKIT_DATA)")
	pg := postgresFlag(fs)
	showKeys := fs.Bool("show-keys", false, "show the secret keys")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dsn := postgresDSN(env, *pg)
	st, err := openDB(ctx, dsn, *dir, "", nil)
	if err != nil {
		return err
	}
	defer st.Close()
	apps, err := st.Apps(ctx)
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	fmt.Fprintf(env.Stdout, "%-12s %-16s %-8s %s\n", "SDKAPPID", "ADMIN", "POLICY", strings.TrimSpace(map[bool]string{true: "KEY", false: ""}[*showKeys]))
	for _, a := range apps {
		key := ""
		if *showKeys {
			key = a.Key
		}
		fmt.Fprintf(env.Stdout, "%-12d %-16s %-8s %s\n", a.SDKAppID, a.Admin, a.Policy, key)
	}
	return nil
}
