package admin_test

import (
	"context"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
)

// active returns how many sessions of user are active in the store.
func active(t *testing.T, srv *imkittest.Server, user string) int {
	t.Helper()
	ss, err := srv.Store.ActiveSessions(context.Background(), imkittest.SDKAppID, []string{user})
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

func TestAppPolicy(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	got := r.post("imkit/app_policy_get", `{}`)
	sameJSON(t, "app_policy_get", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"LoginPolicy":"dual",
		"MaxInstances":{"Android":1,"iPhone":1,"iPad":1,"Windows":1,"Mac":1,"Linux":1,"Web":1},"WebhookURL":""}`)

	// Under the default dual policy, Android and Windows conflict.
	a := newClient(t, srv, imkit.PlatformAndroid)
	a.login(srv, "u")
	w := newClient(t, srv, imkit.PlatformWindows)
	w.login(srv, "u")
	a.waitFor("kicked:multi-device")

	// A change applies to the next login at once.
	got = r.post("imkit/app_policy_set", `{"LoginPolicy":"multi","MaxInstances":{"Web":2,"Android":2}}`)
	sameJSON(t, "app_policy_set", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"LoginPolicy":"multi",
		"MaxInstances":{"Android":2,"iPhone":1,"iPad":1,"Windows":1,"Mac":1,"Linux":1,"Web":2},"WebhookURL":""}`)
	a2 := newClient(t, srv, imkit.PlatformAndroid)
	a2.login(srv, "u")
	a3 := newClient(t, srv, imkit.PlatformAndroid)
	a3.login(srv, "u")
	if n := active(t, srv, "u"); n != 3 {
		t.Fatalf("after the change to multi with 2 Android instances: %d sessions active, want 3 (Windows, 2 Android)", n)
	}
	a4 := newClient(t, srv, imkit.PlatformAndroid)
	a4.login(srv, "u")
	a2.waitFor("kicked:multi-instance")

	// Limits not named keep their value.
	got = r.ok("imkit/app_policy_set", `{"LoginPolicy":"single"}`)
	sameJSON(t, "limits kept", got["MaxInstances"], `{"Android":2,"iPhone":1,"iPad":1,"Windows":1,"Mac":1,"Linux":1,"Web":2}`)
	got = r.ok("imkit/app_policy_get", `{}`)
	if got["LoginPolicy"] != "single" {
		t.Errorf("LoginPolicy after set = %v, want single", got["LoginPolicy"])
	}
	r.ok("imkit/app_policy_set", `{"MaxInstances":{"Web":10,"iPhone":3}}`)

	for _, body := range []string{
		`{}`,
		`{"LoginPolicy":"quad"}`,
		`{"LoginPolicy":2.5}`,
		`{"MaxInstances":{"Web":11}}`,
		`{"MaxInstances":{"Android":4}}`,
		`{"MaxInstances":{"Mac":0}}`,
		`{"MaxInstances":{"Symbian":1}}`,
		`{"MaxInstances":{"Web":"2"}}`,
	} {
		if got := r.code("imkit/app_policy_set", body); got != imkit.ErrSvrInvalidParameters {
			t.Errorf("app_policy_set %s: code %d, want 70402", body, got)
		}
	}
	got = r.ok("imkit/app_policy_get", `{}`)
	sameJSON(t, "after refused changes", got["MaxInstances"], `{"Android":2,"iPhone":3,"iPad":1,"Windows":1,"Mac":1,"Linux":1,"Web":10}`)
}

func TestAppWebhookSet(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	got := r.ok("imkit/app_webhook_set", `{"WebhookURL":"https://example.com/imkit?token=x"}`)
	if got["WebhookURL"] != "https://example.com/imkit?token=x" {
		t.Errorf("WebhookURL = %v", got["WebhookURL"])
	}
	a, err := srv.Store.App(context.Background(), imkittest.SDKAppID)
	if err != nil || a.WebhookURL != "https://example.com/imkit?token=x" {
		t.Errorf("stored WebhookURL = %q (%v)", a.WebhookURL, err)
	}
	if a.Policy != imkit.PolicyDual {
		t.Errorf("setting the webhook changed the policy to %v", a.Policy)
	}
	r.ok("imkit/app_webhook_set", `{"WebhookURL":""}`)
	for _, body := range []string{`{}`, `{"WebhookURL":"ftp://x"}`, `{"WebhookURL":"/relative"}`, `{"WebhookURL":1}`} {
		if got := r.code("imkit/app_webhook_set", body); got != imkit.ErrSvrInvalidParameters {
			t.Errorf("app_webhook_set %s: code %d, want 70402", body, got)
		}
	}
}
