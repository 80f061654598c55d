package sdk_test

import (
	"fmt"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// A message acknowledged before the server restarts reaches its receiver
// after the restart, and the receiver's session resumes on its own.
func TestMessagesSurviveServerRestart(t *testing.T) {
	srv := imkittest.RunServer(t)
	alice := newClient(t, srv.URL, imkit.PlatformAndroid)
	bob := newClient(t, srv.URL, imkit.PlatformAndroid)
	alice.login(srv, "alice")
	bob.login(srv, "bob")
	bob.waitFor("syncFinish")
	if err := bob.Logout(ctx(t)); err != nil { // bob goes away
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage(fmt.Sprint(i)), "bob"); err != nil {
			t.Fatal(err)
		}
	}
	srv.Restart()
	// alice resumes by herself and can send again.
	if _, err := alice.SendMessage(ctx(t), sdk.NewTextMessage("5"), "bob"); err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	if got := alice.LoginStatus(); got != imkit.LoginStatusLogined {
		t.Fatalf("alice's status after the restart = %v, want LOGINED", got)
	}
	bob.login(srv, "bob")
	imkittest.Eventually(t, "bob gets all 6", func() bool { return bob.count("msg") == 6 })
}
