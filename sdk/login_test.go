package sdk_test

import (
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
)

func TestLoginLogout(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := newClient(t, srv.URL, imkit.PlatformAndroid)
	if got, want := c.LoginStatus(), imkit.LoginStatusLogout; got != want {
		t.Fatalf("status before login = %v, want %v", got, want)
	}
	c.login(srv, "alice")
	if got, want := c.LoginStatus(), imkit.LoginStatusLogined; got != want {
		t.Fatalf("status = %v, want %v", got, want)
	}
	if got := c.LoginUser(); got != "alice" {
		t.Fatalf("LoginUser = %q, want alice", got)
	}
	c.waitFor("syncFinish")
	if err := c.Logout(ctx(t)); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if got, want := c.LoginStatus(), imkit.LoginStatusLogout; got != want {
		t.Fatalf("status after logout = %v, want %v", got, want)
	}
	if got := c.LoginUser(); got != "" {
		t.Fatalf("LoginUser after logout = %q, want empty", got)
	}
}
