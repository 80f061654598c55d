package admin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
)

// The request and response bodies below are the examples of Tencent's
// documentation of each endpoint.

func TestAccountImport(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	got := r.post("im_open_login_svc/account_import", `{"UserID":"test","Nick":"test","FaceUrl":"http://www.qq.com"}`)
	sameJSON(t, "account_import", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`)

	u, err := srv.Store.User(context.Background(), imkittest.SDKAppID, "test")
	if err != nil {
		t.Fatalf("the imported user is not stored: %v", err)
	}
	if u.Nick != "test" || u.FaceURL != "http://www.qq.com" || !u.Imported {
		t.Errorf("stored user = %+v, want Nick test, FaceURL http://www.qq.com, Imported", u)
	}

	// Idempotent; a field left out keeps its value; the older field name
	// Identifier works.
	r.ok("im_open_login_svc/account_import", `{"UserID":"test","Nick":"test2"}`)
	r.ok("im_open_login_svc/account_import", `{"Identifier":"test"}`)
	u, _ = srv.Store.User(context.Background(), imkittest.SDKAppID, "test")
	if u.Nick != "test2" || u.FaceURL != "http://www.qq.com" {
		t.Errorf("after re-imports: Nick %q FaceURL %q, want test2 and http://www.qq.com", u.Nick, u.FaceURL)
	}
	r.ok("im_open_login_svc/account_import", `{"Identifier":"legacy"}`)
	if _, err := srv.Store.User(context.Background(), imkittest.SDKAppID, "legacy"); err != nil {
		t.Errorf("import by Identifier: %v", err)
	}

	for _, tt := range []struct {
		body string
		want imkit.Code
	}{
		{`{}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":""}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":"has space"}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":"` + strings.Repeat("a", 33) + `"}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":12}`, imkit.ErrSvrInvalidIDFormat},
		{`{"UserID":"x","Nick":"` + strings.Repeat("n", 501) + `"}`, 40601},
		{`{"UserID":"x","Nick":5}`, imkit.ErrSvrInvalidParameters},
		{`[]`, imkit.ErrSvrReqJSONParseFailed},
		{`{"UserID":`, imkit.ErrSvrReqJSONParseFailed},
		{``, imkit.ErrSvrReqJSONParseFailed},
		{`   `, imkit.ErrSvrReqJSONParseFailed},
	} {
		if got := r.code("im_open_login_svc/account_import", tt.body); got != tt.want {
			t.Errorf("account_import %.40q: code %d, want %d", tt.body, got, tt.want)
		}
	}
}

func TestMultiAccountImport(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	// The older form, UserIDs only.
	got := r.post("im_open_login_svc/multiaccount_import", `{"Accounts":["UserID_001","UserID_002","UserID_003"]}`)
	sameJSON(t, "multiaccount_import (Accounts)", got, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","FailAccounts":[]}`)
	// The newer form, with profiles; a bad UserID fails alone.
	got = r.post("im_open_login_svc/multiaccount_import", `{"AccountList":[
		{"UserID":"UserID_001","Nick":"Nick_001","FaceUrl":"http://www.qq.com"},
		{"UserID":"bad id"},
		{"UserID":"UserID_004"}]}`)
	sameJSON(t, "multiaccount_import (AccountList)", got, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","FailAccounts":["bad id"]}`)
	for _, id := range []string{"UserID_001", "UserID_002", "UserID_003", "UserID_004"} {
		if _, err := srv.Store.User(context.Background(), imkittest.SDKAppID, id); err != nil {
			t.Errorf("%s not imported: %v", id, err)
		}
	}
	if u, _ := srv.Store.User(context.Background(), imkittest.SDKAppID, "UserID_001"); u.Nick != "Nick_001" {
		t.Errorf("UserID_001 Nick = %q, want the re-import's Nick_001", u.Nick)
	}

	if got := r.code("im_open_login_svc/multiaccount_import", `{}`); got != imkit.ErrSvrInvalidParameters {
		t.Errorf("no accounts: code %d, want 70402", got)
	}
	if got := r.code("im_open_login_svc/multiaccount_import", `{"Accounts":`+idList("u", 101)+`}`); got != imkit.ErrSvrInvalidCount {
		t.Errorf("101 accounts: code %d, want 70206", got)
	}
	r.ok("im_open_login_svc/multiaccount_import", `{"Accounts":`+idList("u", 100)+`}`)
}

// idList returns a JSON array of n UserIDs prefix0..prefix<n-1>.
func idList(prefix string, n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprint(prefix, i))
	}
	return "[" + strings.Join(ids, ",") + "]"
}

func items(key, prefix string, n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`{"UserID":"%s%d"}`, prefix, i)
	}
	return `{"` + key + `":[` + strings.Join(ids, ",") + `]}`
}

func TestAccountDelete(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	r.ok("im_open_login_svc/account_import", `{"UserID":"UserID_1"}`)
	got := r.post("im_open_login_svc/account_delete", `{"DeleteItem":[{"UserID":"UserID_1"},{"UserID":"UserID_2"}]}`)
	sameJSON(t, "account_delete", got, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":[
		{"ResultCode":0,"ResultInfo":"","UserID":"UserID_1"},
		{"ResultCode":70107,"ResultInfo":"Err_TLS_PT_Open_Login_Account_Not_Exist","UserID":"UserID_2"}]}`)
	if _, err := srv.Store.User(context.Background(), imkittest.SDKAppID, "UserID_1"); err == nil {
		t.Error("UserID_1 is still stored")
	}
	if got := r.code("im_open_login_svc/account_delete", `{"DeleteItem":[]}`); got != imkit.ErrSvrInvalidParameters {
		t.Errorf("no items: code %d, want 70402", got)
	}
	if got := r.code("im_open_login_svc/account_delete", items("DeleteItem", "u", 101)); got != imkit.ErrSvrInvalidCount {
		t.Errorf("101 items: code %d, want 70206", got)
	}
	if got := r.code("im_open_login_svc/account_delete", `{"DeleteItem":[{"UserID":1}]}`); got != imkit.ErrSvrInvalidIDFormat {
		t.Errorf("numeric UserID: code %d, want 60015", got)
	}
}

func TestAccountDeleteKicksOnlineInstances(t *testing.T) {
	srv := imkittest.RunServer(t)
	oldSig := imkittest.SignAt(t, "carol", time.Now().Add(-time.Minute), 24*time.Hour)
	c := newClient(t, srv, imkit.PlatformAndroid)
	c.loginSig("carol", oldSig)
	r := newREST(t, srv)
	got := r.ok("im_open_login_svc/account_delete", `{"DeleteItem":[{"UserID":"carol"}]}`)
	sameJSON(t, "account_delete", got["ResultItem"], `[{"ResultCode":0,"ResultInfo":"","UserID":"carol"}]`)
	c.waitFor("kicked:admin")

	// The deletion revokes the tickets signed before it, as a kick does: the
	// kicked instance cannot sign the account up again with its ticket. A
	// newly signed one can.
	b := newClient(t, srv, imkit.PlatformAndroid)
	err := b.Login(context.Background(), "carol", oldSig)
	if e, ok := errors.AsType[*imkit.Error](err); !ok || e.Code != imkit.ErrSvrInvalidUserSig {
		t.Fatalf("login with a ticket signed before the deletion: %v, want code 70052", err)
	}
	if _, err := srv.Store.User(context.Background(), imkittest.SDKAppID, "carol"); err == nil {
		t.Error("the refused login made the account again")
	}
	b.loginSig("carol", imkittest.SignAt(t, "carol", time.Now().Add(time.Second), 24*time.Hour))
}

func TestAccountCheck(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	r.ok("im_open_login_svc/account_import", `{"UserID":"UserID_1"}`)
	got := r.post("im_open_login_svc/account_check", `{"CheckItem":[{"UserID":"UserID_1"},{"UserID":"UserID_2"}]}`)
	sameJSON(t, "account_check", got, `{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":[
		{"UserID":"UserID_1","ResultCode":0,"ResultInfo":"","AccountStatus":"Imported"},
		{"UserID":"UserID_2","ResultCode":0,"ResultInfo":"","AccountStatus":"NotImported"}]}`)

	// An account made by a first login exists as well.
	c := newClient(t, srv, imkit.PlatformWeb)
	c.login(srv, "UserID_3")
	got = r.ok("im_open_login_svc/account_check", `{"CheckItem":[{"UserID":"UserID_3"},{"UserID":"bad id"}]}`)
	items := got["ResultItem"].([]any)
	if s := items[0].(map[string]any)["AccountStatus"]; s != "Imported" {
		t.Errorf("a user who logged in: AccountStatus %v, want Imported", s)
	}
	if code := items[1].(map[string]any)["ResultCode"]; code != 70402.0 {
		t.Errorf("a malformed UserID: ResultCode %v, want 70402", code)
	}
	if got := r.code("im_open_login_svc/account_check", `{"CheckItem":[]}`); got != imkit.ErrSvrInvalidParameters {
		t.Errorf("no items: code %d, want 70402", got)
	}
	if got := r.code("im_open_login_svc/account_check", items101()); got != imkit.ErrSvrInvalidCount {
		t.Errorf("101 items: code %d, want 70206", got)
	}
}

func items101() string { return items("CheckItem", "u", 101) }

func TestKick(t *testing.T) {
	srv := imkittest.RunServer(t)
	oldSig := imkittest.SignAt(t, "test", time.Now().Add(-time.Minute), 24*time.Hour)
	a := newClient(t, srv, imkit.PlatformAndroid)
	a.loginSig("test", oldSig)
	w := newClient(t, srv, imkit.PlatformWeb)
	w.loginSig("test", oldSig)

	r := newREST(t, srv)
	got := r.post("im_open_login_svc/kick", `{"UserID":"test"}`)
	sameJSON(t, "kick", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`)
	a.waitFor("kicked:admin")
	w.waitFor("kicked:admin")

	// The old ticket is refused from now on; a new one works.
	b := newClient(t, srv, imkit.PlatformAndroid)
	err := b.Login(context.Background(), "test", oldSig)
	if e, ok := errors.AsType[*imkit.Error](err); !ok || e.Code != imkit.ErrSvrInvalidUserSig {
		t.Fatalf("login with the ticket signed before the kick: %v, want code 70052", err)
	}
	b.loginSig("test", imkittest.SignAt(t, "test", time.Now().Add(time.Second), 24*time.Hour))

	// The older field name, and the errors.
	r.ok("im_open_login_svc/kick", `{"Identifier":"test"}`)
	b.waitFor("kicked:admin")
	for _, tt := range []struct {
		body string
		want imkit.Code
	}{
		{`{"UserID":"nobody"}`, imkit.ErrSvrAccountNotFound},
		{`{}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":"bad id"}`, imkit.ErrSvrInvalidParameters},
		{`{"UserID":["a"]}`, imkit.ErrSvrInvalidIDFormat},
	} {
		if got := r.code("im_open_login_svc/kick", tt.body); got != tt.want {
			t.Errorf("kick %s: code %d, want %d", tt.body, got, tt.want)
		}
	}
}
