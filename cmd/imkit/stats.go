package main

import (
	"context"
	"fmt"
	"text/tabwriter"
)

func init() {
	register("stats", "show an app's daily and monthly statistics", runStats)
}

func runStats(ctx context.Context, env *Env, args []string) error {
	const name = "stats"
	fs := newFlagSet(env, name)
	setUsage(fs, env.Stderr, `usage: imkit stats [flags]

Prints the app's statistics of the last 30 days (REST getappinfo) from a
running server: daily active users (distinct users with a successful login),
logins (resumes after reconnects are not logins), peak of instances online,
new and total accounts, messages and senders; then the monthly active users.

flags:
`)
	var rf restFlags
	rf.register(fs, env)
	days := fs.Int("days", 30, "how many of the last 30 days to show")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(env, name, "unexpected argument %q", fs.Arg(0))
	}
	if *days < 1 || *days > 30 {
		return usageErr(env, name, "--days must be 1..30")
	}
	c, err := rf.client(ctx, env, name)
	if err != nil {
		return err
	}
	info, err := c.AppInfo(ctx)
	if err != nil {
		return apiErr(err)
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "DATE\tDAU\tLOGINS\tPEAK ONLINE\tNEW USERS\tUSERS\tMESSAGES\tSENDERS\t")
	shown := info.Days[max(len(info.Days)-*days, 0):]
	for _, d := range shown {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Date, d.ActiveUsers, d.Logins, d.PeakOnline, d.NewUsers, d.TotalUsers, d.Messages, d.Senders)
	}
	fmt.Fprintln(w, "\t\t\t\t\t\t\t\t")
	fmt.Fprintln(w, "MONTH\tMAU\t\t\t\t\t\t\t")
	for _, m := range info.Months {
		fmt.Fprintf(w, "%s\t%d\t\t\t\t\t\t\t\n", m.Month, m.ActiveUsers)
	}
	return w.Flush()
}
