package restapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/restapi"
)

func TestClient(t *testing.T) {
	srv := imkittest.RunServer(t)
	c := restapi.NewClient(srv.URL+"/", imkittest.SDKAppID, imkittest.Admin, imkittest.Key)
	ctx := t.Context()
	if err := c.ImportAccount(ctx, restapi.Account{UserID: "alice", Nick: "Alice"}); err != nil {
		t.Fatal(err)
	}
	failed, err := c.ImportAccounts(ctx, []restapi.Account{{UserID: "bob"}, {UserID: "bad id"}})
	if err != nil || len(failed) != 1 || failed[0] != "bad id" {
		t.Errorf("ImportAccounts = %v, %v; want [bad id]", failed, err)
	}
	res, err := c.CheckAccounts(ctx, []string{"alice", "zed"})
	if err != nil || len(res) != 2 || res[0].AccountStatus != "Imported" || res[1].AccountStatus != "NotImported" {
		t.Errorf("CheckAccounts = %+v, %v", res, err)
	}
	st, err := c.QueryOnlineStatus(ctx, []string{"alice", "zed"}, true)
	if err != nil || len(st.QueryResult) != 1 || st.QueryResult[0].State != "Offline" ||
		len(st.ErrorList) != 1 || st.ErrorList[0].Code != imkit.ErrSvrAccountNotFound {
		t.Errorf("QueryOnlineStatus = %+v, %v", st, err)
	}
	sent, err := c.SendMsg(ctx, &restapi.Message{From: "alice", To: "bob", Random: 7, Body: []restapi.Elem{restapi.Text("hi"), restapi.Custom("d", "", "")}})
	if err != nil || !strings.HasPrefix(sent.MsgKey, "7_") || sent.MsgTime == 0 {
		t.Errorf("SendMsg = %+v, %v", sent, err)
	}
	info, err := c.AppInfo(ctx)
	if err != nil || len(info.Days) != 30 || info.Days[29].Messages != 1 || info.Days[29].NewUsers != 2 {
		t.Errorf("AppInfo = %+v, %v", info, err)
	}
	del, err := c.DeleteAccounts(ctx, []string{"bob", "zed"})
	if err != nil || len(del) != 2 || del[0].Code != 0 || del[1].Code != imkit.ErrSvrAccountNotFound {
		t.Errorf("DeleteAccounts = %+v, %v", del, err)
	}
	p, err := c.SetPolicy(ctx, "triple", map[string]int{"Web": 4})
	if err != nil || p.LoginPolicy != "triple" || p.MaxInstances["Web"] != 4 {
		t.Errorf("SetPolicy = %+v, %v", p, err)
	}

	// API errors are *imkit.Error with the REST code.
	err = c.Kick(ctx, "zed")
	var e *imkit.Error
	if !errors.As(err, &e) || e.Code != imkit.ErrSvrAccountNotFound {
		t.Errorf("Kick(unknown) = %v, want code 70107", err)
	}
	if !errors.Is(err, &imkit.Error{Code: imkit.ErrSvrAccountNotFound}) {
		t.Errorf("errors.Is(%v, 70107) = false", err)
	}
	wrong := restapi.NewClient(srv.URL, imkittest.SDKAppID, "someone", imkittest.Key)
	if _, err := wrong.Policy(ctx); !errors.As(err, &e) || e.Code != imkit.ErrSvrIDNotAdmin {
		t.Errorf("a client that is not the admin: %v, want code 60010", err)
	}

	// Transport errors never show the URL, which holds the ticket.
	var sig string
	down := restapi.NewClientWithSig("http://127.0.0.1:1", imkittest.SDKAppID, imkittest.Admin, func(context.Context) (string, error) {
		sig = srv.Sign(imkittest.Admin)
		return sig, nil
	})
	err = down.Kick(ctx, "alice")
	if err == nil || strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "usersig") {
		t.Errorf("Kick on a closed port: %v, want an error without the URL", err)
	}
	failing := restapi.NewClientWithSig(srv.URL, imkittest.SDKAppID, imkittest.Admin, func(context.Context) (string, error) {
		return "", fmt.Errorf("no key here")
	})
	if err := failing.Kick(ctx, "alice"); err == nil || !strings.Contains(err.Error(), "no key here") {
		t.Errorf("a failing signer: %v", err)
	}
}
