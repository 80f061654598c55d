package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/restapi"
)

func init() {
	appCommands["policy"] = command{"show or change an app's login policy, instance limits and webhook", runAppPolicy}
}

func runAppPolicy(ctx context.Context, env *Env, args []string) error {
	const name = "app policy"
	fs := newFlagSet(env, name)
	setUsage(fs, env.Stderr, `usage: imkit app policy [flags]

Shows the app's multi-client login policy, per-platform instance limits and
state-change webhook URL on a running server; with --policy, --max, --webhook
or --no-webhook, changes them first. Changes apply to the next logins.

Policies: single (one instance across all platforms), dual (one native
platform plus Web; the default), triple (one mobile, one desktop, plus Web),
multi (all platforms). Limits: 1..3 per native platform, 1..10 for Web.

flags:
`)
	var rf restFlags
	rf.register(fs, env)
	policy := fs.String("policy", "", "the login `policy`: single, dual, triple or multi")
	maxFlag := fs.String("max", "", "instance limits, `PLATFORM=N,...` (e.g. Web=3,Android=2); platforms not named keep theirs")
	webhook := fs.String("webhook", "", "the `URL` that receives State.StateChange callbacks")
	noWebhook := fs.Bool("no-webhook", false, "turn the webhook off")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr(env, name, "unexpected argument %q", fs.Arg(0))
	}
	if *webhook != "" && *noWebhook {
		return usageErr(env, name, "--webhook and --no-webhook exclude each other")
	}
	if *policy != "" {
		if _, err := imkit.ParseLoginPolicy(*policy); err != nil {
			return usageErr(env, name, "--policy: %s", imkit.ErrorMessage(err))
		}
	}
	limits, err := parseLimits(*maxFlag)
	if err != nil {
		return usageErr(env, name, "--max: %v", err)
	}
	c, err := rf.client(ctx, env, name)
	if err != nil {
		return err
	}
	var p *restapi.Policy
	if *policy != "" || len(limits) > 0 {
		if p, err = c.SetPolicy(ctx, *policy, limits); err != nil {
			return apiErr(err)
		}
	}
	if *webhook != "" || *noWebhook {
		if p, err = c.SetWebhook(ctx, *webhook); err != nil {
			return apiErr(err)
		}
	}
	if p == nil {
		if p, err = c.Policy(ctx); err != nil {
			return apiErr(err)
		}
	}
	fmt.Fprintf(env.Stdout, "login policy:  %s\n", p.LoginPolicy)
	fmt.Fprintf(env.Stdout, "max instances:")
	for _, pl := range imkit.Platforms {
		fmt.Fprintf(env.Stdout, " %s=%d", pl, p.MaxInstances[pl.String()])
	}
	fmt.Fprintln(env.Stdout)
	hook := p.WebhookURL
	if hook == "" {
		hook = "(none)"
	}
	fmt.Fprintf(env.Stdout, "webhook:       %s\n", hook)
	return nil
}

// parseLimits parses "Web=3,Android=2"; the server checks the ranges.
func parseLimits(s string) (map[string]int, error) {
	if s == "" {
		return nil, nil
	}
	out := make(map[string]int)
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, fmt.Errorf("%q is not PLATFORM=N", kv)
		}
		p, err := imkit.ParsePlatform(k)
		if err != nil {
			return nil, fmt.Errorf("%s", imkit.ErrorMessage(err))
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%q: the limit is not a number", kv)
		}
		out[p.String()] = n
	}
	return out, nil
}
