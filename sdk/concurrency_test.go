package sdk_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/sdk"
)

// TestConcurrentTrafficExactlyOnceInOrder: several instances of two users
// all send at once, while pushes, their own sends and syncs all write the
// local cache. Every instance gets every message of its user's mailbox
// exactly once, in mailbox order (so in order per conversation), except
// the ones it sent itself, which it never gets back.
func TestConcurrentTrafficExactlyOnceInOrder(t *testing.T) {
	srv := imkittest.RunServer(t)
	type instance struct {
		*client
		user string
	}
	instances := []instance{
		{newClient(t, srv.URL, imkit.PlatformAndroid, withInstance("alice-phone")), "alice"},
		{newClient(t, srv.URL, imkit.PlatformWeb, withInstance("alice-web"), withMemoryCache()), "alice"},
		{newClient(t, srv.URL, imkit.PlatformIPhone, withInstance("bob-phone")), "bob"},
		{newClient(t, srv.URL, imkit.PlatformWeb, withInstance("bob-web"), withMemoryCache()), "bob"},
	}
	peer := map[string]string{"alice": "bob", "bob": "alice"}
	// Log in without waiting for the first sync, so pushes race with it.
	for _, in := range instances {
		in.login(srv, in.user)
	}
	const each = 60
	var (
		mu   sync.Mutex
		sent = map[*client][]*sdk.Message{} // by sending instance
		wg   sync.WaitGroup
	)
	for _, in := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				m, err := in.SendMessage(ctx(t), sdk.NewTextMessage(fmt.Sprintf("%s-%d", in.id(), i)), peer[in.user])
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				mu.Lock()
				sent[in.client] = append(sent[in.client], m)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, in := range instances {
		// What this instance must get: every message to or from its user,
		// but the ones it sent.
		want := map[string]bool{}
		for from, ms := range sent {
			for _, m := range ms {
				if from != in.client && (m.From == in.user || m.To == in.user) {
					want[m.MsgID] = true
				}
			}
		}
		in.waitCount("msg", len(want))
		got := map[string]bool{}
		var last uint64
		for _, e := range in.history() {
			if e.kind != "msg" {
				continue
			}
			m := e.msg
			switch {
			case !want[m.MsgID]:
				t.Errorf("%s (%s) got %s #%d %q, which it sent itself or is not its user's", in.user, in.id(), m.MsgID, m.Seq, m.Text())
			case got[m.MsgID]:
				t.Errorf("%s (%s) got %q twice", in.user, in.id(), m.Text())
			case m.Seq <= last:
				t.Errorf("%s (%s) got #%d after #%d: out of mailbox order", in.user, in.id(), m.Seq, last)
			}
			got[m.MsgID] = true
			last = max(last, m.Seq)
		}
		if len(got) != len(want) {
			t.Errorf("%s (%s) got %d messages, want %d", in.user, in.id(), len(got), len(want))
		}
	}
}
