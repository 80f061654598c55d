package admin

import (
	"context"
	"errors"
	"net/url"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/store"
)

// The imkit service (/v4/imkit/...) is imkit's own, not Tencent's: an app's
// login policy, per-platform instance limits and webhook URL.

// maxWebhookURL bounds a webhook URL's length.
const maxWebhookURL = 2048

type appPolicyReply struct {
	Envelope
	LoginPolicy  string         `json:"LoginPolicy"`
	MaxInstances map[string]int `json:"MaxInstances"`
	WebhookURL   string         `json:"WebhookURL"`
}

func policyReply(app *store.App) *appPolicyReply {
	r := &appPolicyReply{LoginPolicy: app.Policy.String(), MaxInstances: make(map[string]int), WebhookURL: app.WebhookURL}
	for _, p := range imkit.Platforms {
		r.MaxInstances[p.String()] = app.Limit(p)
	}
	return r
}

func (a *API) appPolicyGet(ctx context.Context, c *call) (any, error) {
	var r struct{}
	if err := c.decode(&r, nil); err != nil {
		return nil, err
	}
	app, err := a.loadApp(ctx, c.app.SDKAppID)
	if err != nil {
		return nil, err
	}
	return policyReply(&app), nil
}

// loadApp reads an app from the store, bypassing the login subsystem's cache.
func (a *API) loadApp(ctx context.Context, id uint64) (store.App, error) {
	app, err := a.store.App(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.App{}, imkit.Errorf(imkit.ErrSvrSDKAppIDNotFound, "SDKAppID %d not found", id)
	}
	if err != nil {
		return store.App{}, internal("load app", err)
	}
	return app, nil
}

// updateApp changes an app's settings with f and makes the change apply to
// the next logins at once: Sessions.ForgetApp tells every node when the
// server runs several (without Redis, the others apply it within their app
// cache's lifetime, one second by default).
func (a *API) updateApp(ctx context.Context, id uint64, f func(*store.App) error) (store.App, error) {
	a.appMu.Lock()
	defer a.appMu.Unlock()
	app, err := a.loadApp(ctx, id)
	if err != nil {
		return store.App{}, err
	}
	if err := f(&app); err != nil {
		return store.App{}, err
	}
	if err := a.store.UpdateApp(ctx, app); err != nil {
		return store.App{}, internal("update app", err)
	}
	a.sessions.ForgetApp(id)
	return app, nil
}

func (a *API) appPolicySet(ctx context.Context, c *call) (any, error) {
	var r struct {
		LoginPolicy  *string        `json:"LoginPolicy"`
		MaxInstances map[string]int `json:"MaxInstances"`
	}
	if err := c.decode(&r, nil); err != nil {
		return nil, err
	}
	if r.LoginPolicy == nil && len(r.MaxInstances) == 0 {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "nothing to set: give LoginPolicy and/or MaxInstances")
	}
	var policy imkit.LoginPolicy
	if r.LoginPolicy != nil {
		p, err := imkit.ParseLoginPolicy(*r.LoginPolicy)
		if err != nil {
			return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "LoginPolicy: %s", imkit.ErrorMessage(err))
		}
		policy = p
	}
	limits := make(map[imkit.Platform]int, len(r.MaxInstances))
	for name, n := range r.MaxInstances {
		p, err := imkit.ParsePlatform(name)
		if err != nil {
			return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "MaxInstances: %s", imkit.ErrorMessage(err))
		}
		if n < 1 || n > p.MaxInstances() {
			return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "MaxInstances: %s allows 1..%d instances, not %d", p, p.MaxInstances(), n)
		}
		limits[p] = n
	}
	app, err := a.updateApp(ctx, c.app.SDKAppID, func(app *store.App) error {
		if policy != 0 {
			app.Policy = policy
		}
		m := make(map[imkit.Platform]int, len(imkit.Platforms))
		for p, n := range app.MaxInstances {
			m[p] = n
		}
		for p, n := range limits {
			m[p] = n
		}
		app.MaxInstances = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return policyReply(&app), nil
}

func (a *API) appWebhookSet(ctx context.Context, c *call) (any, error) {
	var r struct {
		WebhookURL *string `json:"WebhookURL"`
	}
	if err := c.decode(&r, nil); err != nil {
		return nil, err
	}
	if r.WebhookURL == nil {
		return nil, imkit.Errorf(imkit.ErrSvrInvalidParameters, "WebhookURL is required (\"\" turns the webhook off)")
	}
	if err := CheckWebhookURL(*r.WebhookURL); err != nil {
		return nil, err
	}
	app, err := a.updateApp(ctx, c.app.SDKAppID, func(app *store.App) error {
		app.WebhookURL = *r.WebhookURL
		return nil
	})
	if err != nil {
		return nil, err
	}
	return policyReply(&app), nil
}

// CheckWebhookURL accepts "" (no webhook) or an absolute http or https URL
// of at most 2048 bytes.
func CheckWebhookURL(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxWebhookURL {
		return imkit.Errorf(imkit.ErrSvrInvalidParameters, "WebhookURL is longer than %d bytes", maxWebhookURL)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return imkit.Errorf(imkit.ErrSvrInvalidParameters, "WebhookURL must be an absolute http:// or https:// URL")
	}
	return nil
}
