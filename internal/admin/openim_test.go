package admin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/internal/imkittest"
	"github.com/imkit/imkit/protocol"
)

func TestQueryOnlineStatus(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	r.ok("im_open_login_svc/multiaccount_import", `{"Accounts":["id1","id2","id3"]}`)
	c := newClient(t, srv, imkit.PlatformIPhone)
	c.login(srv, "id2")
	w := newClient(t, srv, imkit.PlatformWeb)
	w.login(srv, "id2")
	pc := newClient(t, srv, imkit.PlatformWindows)
	pc.login(srv, "id3")

	got := r.post("openim/query_online_status", `{"To_Account":["id1","id2","id4"]}`)
	sameJSON(t, "query_online_status", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,
		"QueryResult":[{"To_Account":"id1","State":"Offline"},{"To_Account":"id2","State":"Online"}],
		"ErrorList":[{"To_Account":"id4","ErrorCode":70107}]}`)

	got = r.post("openim/query_online_status", `{"IsNeedDetail":1,"To_Account":["id2","id1","id3","id4"]}`)
	res := got["QueryResult"].([]any)
	detail := res[0].(map[string]any)["Detail"].([]any)
	platforms := map[string]any{}
	for _, d := range detail {
		m := d.(map[string]any)
		platforms[m["Platform"].(string)] = m["Status"]
	}
	sameJSON(t, "id2's Detail", platforms, `{"iPhone":"Online","Web":"Online"}`)
	sameJSON(t, "id1 and id3", res[1:], `[{"To_Account":"id1","State":"Offline"},
		{"To_Account":"id3","State":"Online","Detail":[{"Platform":"PC","Status":"Online"}]}]`)
	sameJSON(t, "ErrorList", got["ErrorList"], `[{"To_Account":"id4","ErrorCode":70107}]`)

	// The older name of the API calls the state Status.
	got = r.post("openim/querystate", `{"To_Account":["id1","id2"]}`)
	sameJSON(t, "querystate", got, `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,
		"QueryResult":[{"To_Account":"id1","Status":"Offline"},{"To_Account":"id2","Status":"Online"}],"ErrorList":[]}`)

	// Logged out: offline again.
	if err := pc.Logout(t.Context()); err != nil {
		t.Fatal(err)
	}
	imkittest.Eventually(t, "id3 offline", func() bool {
		got := r.ok("openim/query_online_status", `{"To_Account":["id3"]}`)
		return got["QueryResult"].([]any)[0].(map[string]any)["State"] == "Offline"
	})

	for _, tt := range []struct {
		body string
		want imkit.Code
	}{
		{`{"To_Account":[]}`, imkit.ErrSvrInvalidParameters},
		{`{}`, imkit.ErrSvrInvalidParameters},
		{`{"To_Account":` + idList("u", 501) + `}`, imkit.ErrSvrInvalidCount},
		{`{"To_Account":"id1"}`, imkit.ErrSvrInvalidIDFormat},
		{`{"To_Account":["id1"],"IsNeedDetail":2}`, imkit.ErrSvrInvalidParameters},
		{`{"To_Account":["id1"],"IsNeedDetail":"1"}`, imkit.ErrSvrInvalidParameters},
		{`{"To_Account":`, imkit.ErrSvrMsgJSONParseFailed},
	} {
		if got := r.code("openim/query_online_status", tt.body); got != tt.want {
			t.Errorf("query_online_status %.50s: code %d, want %d", tt.body, got, tt.want)
		}
	}
	r.ok("openim/query_online_status", `{"To_Account":`+idList("u", 500)+`}`)
	got = r.ok("openim/query_online_status", `{"To_Account":["bad id"]}`)
	sameJSON(t, "a malformed account", got["ErrorList"], `[{"To_Account":"bad id","ErrorCode":70402}]`)
}

func TestSendMsg(t *testing.T) {
	srv := imkittest.RunServer(t)
	r := newREST(t, srv)
	r.ok("im_open_login_svc/multiaccount_import", `{"Accounts":["lumotuwe1","lumotuwe2"]}`)
	recv := newClient(t, srv, imkit.PlatformAndroid)
	recv.login(srv, "lumotuwe2")
	sender := newClient(t, srv, imkit.PlatformWeb)
	sender.login(srv, "lumotuwe1")

	got := r.post("openim/sendmsg", `{"SyncOtherMachine":1,"From_Account":"lumotuwe1","To_Account":"lumotuwe2",
		"MsgLifeTime":60,"MsgRandom":1287657,
		"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi, beauty"}}],
		"CloudCustomData":"your cloud custom data"}`)
	if got["ActionStatus"] != "OK" || got["ErrorCode"] != 0.0 || got["ErrorInfo"] != "" {
		t.Fatalf("sendmsg: %v", got)
	}
	if tm, ok := got["MsgTime"].(float64); !ok || tm < 1e9 || tm > 1e10 {
		t.Errorf("MsgTime %v: want Unix seconds", got["MsgTime"])
	}
	if key, ok := got["MsgKey"].(string); !ok || !strings.HasPrefix(key, "1287657_") {
		t.Errorf("MsgKey %v: want <MsgRandom>_<seq>_<time>", got["MsgKey"])
	}
	recv.waitFor("msg:hi, beauty")
	sender.waitFor("msg:hi, beauty") // SyncOtherMachine 1: the sender's instances see it

	// A resend with the same MsgRandom within the second is stored once.
	again := r.ok("openim/sendmsg", `{"From_Account":"lumotuwe1","To_Account":"lumotuwe2","MsgRandom":1287657,
		"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"hi, beauty"}}]}`)
	if again["MsgKey"] != got["MsgKey"] && again["MsgTime"] == got["MsgTime"] {
		t.Errorf("a resend in the same second got MsgKey %v, want the first one's %v", again["MsgKey"], got["MsgKey"])
	}

	// SyncOtherMachine 2: not pushed to the sender's instances. It is in the
	// sender's mailbox (for sync and history), so an SDK announces it once
	// it syncs the gap; watch the pushes on the wire: the next message's
	// comes with none of it before.
	wire := wireLogin(t, srv, "lumotuwe1", imkit.PlatformAndroid)
	r.ok("openim/sendmsg", `{"SyncOtherMachine":2,"From_Account":"lumotuwe1","To_Account":"lumotuwe2","MsgRandom":2,
		"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Data":"nosync","Desc":"notification","Ext":"url","Sound":"dingdong.aiff"}}]}`)
	recv.waitFor("msg:nosync")
	r.ok("openim/sendmsg", `{"From_Account":"lumotuwe1","To_Account":"lumotuwe2","MsgRandom":3,
		"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"synced"}}]}`)
	for {
		f, err := wire.ReadFrame()
		if err != nil {
			t.Fatalf("the sender's connection: %v", err)
		}
		var m protocol.Message
		if f.Op != protocol.PushMsg || protocol.DecodeData(f.Data, &m) != nil || len(m.Elems) == 0 {
			continue
		}
		if m.Elems[0].Data == "nosync" {
			t.Fatal("the sender's instance got the SyncOtherMachine=2 message pushed")
		}
		if m.Elems[0].Text == "synced" {
			break
		}
	}
	sender.waitFor("msg:synced")

	// Without From_Account the admin sends.
	r.ok("openim/sendmsg", `{"To_Account":"lumotuwe2","MsgRandom":4,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"from admin"}}]}`)
	recv.waitFor("msg:from admin")

	// MsgLifeTime 0: online users only, nothing kept.
	r.ok("openim/sendmsg", `{"From_Account":"lumotuwe1","To_Account":"lumotuwe2","MsgLifeTime":0,"MsgRandom":5,`+
		`"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"online only"}}]}`)
	recv.waitFor("msg:online only")
	sender.waitFor("msg:online only")
	es, _, err := srv.Store.Sync(context.Background(), imkittest.SDKAppID, "lumotuwe2", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.Contains(string(e.Body), "online only") {
			t.Fatalf("the MsgLifeTime=0 message is in the receiver's mailbox: %+v", e)
		}
	}

	body := func(s string) string {
		return `"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"` + s + `"}}]`
	}
	for _, tt := range []struct {
		body string
		want imkit.Code
	}{
		{`{"MsgRandom":1,` + body("x") + `}`, imkit.ErrSvrMsgInvalidToAccount},
		{`{"To_Account":5,"MsgRandom":1,` + body("x") + `}`, imkit.ErrSvrMsgInvalidToAccount},
		{`{"To_Account":"bad id","MsgRandom":1,` + body("x") + `}`, imkit.ErrSvrMsgInvalidToAccount},
		{`{"To_Account":"nobody","MsgRandom":1,` + body("x") + `}`, imkit.ErrSvrMsgAccountNotFound},
		{`{"From_Account":"nobody","To_Account":"lumotuwe2","MsgRandom":1,` + body("x") + `}`, 90048},
		{`{"From_Account":"lumotuwe2","To_Account":"lumotuwe2","MsgRandom":1,` + body("x") + `}`, imkit.ErrSvrMsgInvalidToAccount},
		{`{"To_Account":"lumotuwe2",` + body("x") + `}`, imkit.ErrSvrMsgInvalidRand},
		{`{"To_Account":"lumotuwe2","MsgRandom":"1",` + body("x") + `}`, imkit.ErrSvrMsgInvalidRand},
		{`{"To_Account":"lumotuwe2","MsgRandom":-1,` + body("x") + `}`, imkit.ErrSvrMsgInvalidRand},
		{`{"To_Account":"lumotuwe2","MsgRandom":4294967296,` + body("x") + `}`, imkit.ErrSvrMsgInvalidRand},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"SyncOtherMachine":3,` + body("x") + `}`, 90031},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"SyncOtherMachine":"1",` + body("x") + `}`, 90031},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgLifeTime":604801,` + body("x") + `}`, imkit.ErrSvrMsgTimeLimit},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgLifeTime":"1",` + body("x") + `}`, 90044},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgTimeStamp":"1",` + body("x") + `}`, 90006},
		{`{"To_Account":"lumotuwe2","MsgRandom":1}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":{}}`, imkit.ErrSvrMsgBodyNotArray},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[]}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[{"MsgType":"TIMFaceElem","MsgContent":{"Index":1}}]}`, imkit.ErrSvrMsgInvalidFormat},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{}}]}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":1}}]}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[{"MsgType":"TIMCustomElem","MsgContent":{"Desc":"no data"}}]}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":"hi"}]}`, imkit.ErrSvrMsgInvalidBody},
		{`{"To_Account":"lumotuwe2","MsgRandom":1,` + body(strings.Repeat("x", 13<<10)) + `}`, imkit.ErrSvrBodySizeLimit},
		{`not json`, imkit.ErrSvrMsgJSONParseFailed},
		{``, imkit.ErrSvrMsgJSONParseFailed},
	} {
		if got := r.code("openim/sendmsg", tt.body); got != tt.want {
			t.Errorf("sendmsg %.90s: code %d, want %d", tt.body, got, tt.want)
		}
	}
	// Tencent's sample failure text for a body that is not JSON.
	got = r.post("openim/sendmsg", `{"To_Account":`)
	sameJSON(t, "bad JSON", got, `{"ActionStatus":"FAIL","ErrorInfo":"Fail to Parse json data of body, Please check it","ErrorCode":90001}`)
}
