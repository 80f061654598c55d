package protocol_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imkit/imkit"
	"github.com/imkit/imkit/protocol"
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		in   string
		want protocol.Frame
	}{
		{`{"id":7,"op":"send","data":{"to":"bob"}}`, protocol.Frame{ID: 7, Op: "send", Data: json.RawMessage(`{"to":"bob"}`)}},
		{`{"id":7,"code":6017,"msg":"bad"}`, protocol.Frame{ID: 7, Code: 6017, Msg: "bad"}},
		{`{"op":"msg","data":{}}`, protocol.Frame{Op: "msg", Data: json.RawMessage(`{}`)}},
		{` {"id":9007199254740991,"op":"ping"} `, protocol.Frame{ID: 1<<53 - 1, Op: "ping"}},
		{`{"id":1,"op":"ping","extra":[1,2]}`, protocol.Frame{ID: 1, Op: "ping"}}, // unknown fields are ignored
	}
	for _, tt := range tests {
		got, err := protocol.DecodeFrame([]byte(tt.in))
		if err != nil {
			t.Errorf("DecodeFrame(%s): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("DecodeFrame(%s) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestDecodeFrameRefuses(t *testing.T) {
	bad := []string{
		``,
		`null`,
		`[]`,
		`"frame"`,
		`{}`,                                  // neither id nor op
		`{"id":0}`,                            // neither
		`{"id":-1,"op":"ping"}`,               // negative id
		`{"id":9007199254740992,"op":"ping"}`, // 2^53
		`{"id":1.5,"op":"ping"}`,
		`{"id":"1","op":"ping"}`,
		`{"id":1,"op":` + `"` + strings.Repeat("x", 33) + `"}`,
		`{"id":1,"op":"ping"`, // truncated
		"{\"id\":1,\"op\":\"p\xffing\"}",
		`{"id":1,"op":"ping","data":}`,
		`{"id":1,"op":7}`,
		`{"id":1,"op":"ping","code":"x"}`,
		`{"id":1,"op":"send","data":"` + strings.Repeat("x", protocol.MaxFrameSize) + `"}`,
	}
	for _, in := range bad {
		_, err := protocol.DecodeFrame([]byte(in))
		var e *imkit.Error
		if !errors.As(err, &e) || e.Code != imkit.ErrInvalidJSON {
			t.Errorf("DecodeFrame(%.60q) = %v, want code %d", in, err, imkit.ErrInvalidJSON)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	req := protocol.SendRequest{To: "bob", ClientMsgID: "c1", Elems: []protocol.Elem{{Type: protocol.ElemText, Text: "hé \"quoted\" <b>\n"}}}
	b, err := protocol.AppendRequest(nil, 42, protocol.OpSend, &req)
	if err != nil {
		t.Fatal(err)
	}
	f, err := protocol.DecodeFrame(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !f.IsRequest() || f.ID != 42 || f.Op != protocol.OpSend {
		t.Fatalf("frame = %+v, want request 42 send", f)
	}
	var got protocol.SendRequest
	if err := protocol.DecodeData(f.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(req, got); diff != "" {
		t.Fatalf("payload mismatch (-want +got):\n%s", diff)
	}

	b = protocol.AppendError(nil, 42, imkit.Errorf(imkit.ErrSvrUserSigExpired, `ticket "x" expired`))
	f, err = protocol.DecodeFrame(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !f.IsReply() || f.Code != imkit.ErrSvrUserSigExpired || f.Msg != `ticket "x" expired` {
		t.Fatalf("error reply = %+v", f)
	}
	if imkit.ErrorCode(f.Err()) != imkit.ErrSvrUserSigExpired {
		t.Fatalf("Err() = %v", f.Err())
	}

	b, err = protocol.AppendPush(nil, protocol.PushKicked, protocol.Kick{Reason: imkit.KickMultiDevice, Platform: imkit.PlatformWeb, Time: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"op":"kicked","data":{"reason":1,"platform":"Web","time":1}}`; got != want {
		t.Fatalf("push = %s, want %s", got, want)
	}
	b = protocol.AppendError(nil, 0, imkit.Errorf(imkit.ErrInvalidJSON, "bad"))
	if got, want := string(b), `{"op":"error","code":6027,"msg":"bad"}`; got != want {
		t.Fatalf("error push = %s, want %s", got, want)
	}
}

func TestDecodeDataWrongShape(t *testing.T) {
	var req protocol.LoginRequest
	for _, in := range []string{`{"platform":"Symbian"}`, `{"sdkAppID":"x"}`, `[1]`, `{"userID":1}`} {
		err := protocol.DecodeData(json.RawMessage(in), &req)
		var e *imkit.Error
		if !errors.As(err, &e) || e.Code != imkit.ErrInvalidParameters {
			t.Errorf("DecodeData(%s) = %v, want code %d", in, err, imkit.ErrInvalidParameters)
		}
	}
	if err := protocol.DecodeData(nil, &req); err != nil {
		t.Errorf("DecodeData(nil) = %v, want nil", err)
	}
}

func TestReconnect(t *testing.T) {
	for code, want := range map[int]bool{
		1000: false, 1001: true, 1006: true, 1008: false, 1009: false, 1011: true, 1012: true,
		4000: true, 4001: true, 4002: true, 4004: true, 4099: true,
		4100: false, 4101: false, 4102: false, 4103: false, 4104: false, 4199: false, 4200: false,
	} {
		if got := protocol.Reconnect(code); got != want {
			t.Errorf("Reconnect(%d) = %v, want %v", code, got, want)
		}
	}
}

// FuzzDecodeFrame: no input makes the decoder panic, and whatever it
// accepts is a frame of one of the three kinds that encodes back to an
// equivalent frame.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"op":"login","data":{"sdkAppID":1400000001,"userID":"alice","userSig":"eJy","platform":"Android","instanceID":"x"}}`,
		`{"id":2,"op":"send","data":{"to":"bob","clientMsgID":"c","elems":[{"type":"text","text":"hi"}]}}`,
		`{"id":3,"code":70001,"msg":"expired"}`,
		`{"op":"kicked","data":{"reason":1,"platform":"Web","time":1}}`,
		`{"id":1,"op":"ping"}`,
		`{"id":1e3,"op":"ping"}`,
		`{}`, `[]`, `null`, `{"id":`,
		` { "op" : "ping" , "id" : 12 } `, `{"id":01,"op":"ping"}`, `{"ID":1,"op":"ping"}`, `{"id":1,"op":"ping","id":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// The fast path for heartbeats agrees with encoding/json.
		if sf, ok := protocol.DecodeSimple(b); ok {
			var jf protocol.Frame
			if err := json.Unmarshal(b, &jf); err != nil {
				t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", b, err)
			}
			if diff := cmp.Diff(jf, sf); diff != "" {
				t.Fatalf("fast path and encoding/json disagree on %q (-json +fast):\n%s", b, diff)
			}
		}
		fr, err := protocol.DecodeFrame(b)
		if err != nil {
			var e *imkit.Error
			if !errors.As(err, &e) || e.Code != imkit.ErrInvalidJSON {
				t.Fatalf("error %v is not code %d", err, imkit.ErrInvalidJSON)
			}
			return
		}
		if !fr.IsRequest() && !fr.IsReply() && !fr.IsPush() {
			t.Fatalf("accepted %+v, which is no kind of frame", fr)
		}
		var data any
		if len(fr.Data) > 0 {
			data = fr.Data
		}
		out, err := protocol.AppendReply(nil, fr.ID, fr.Code, fr.Msg, data)
		if fr.Op != "" {
			if fr.ID != 0 {
				out, err = protocol.AppendRequest(nil, fr.ID, fr.Op, data)
			} else {
				out, err = protocol.AppendPush(nil, fr.Op, data)
			}
		}
		if err != nil {
			t.Fatalf("re-encode %+v: %v", fr, err)
		}
		if _, err := protocol.DecodeFrame(out); err != nil && len(out) <= protocol.MaxFrameSize {
			t.Fatalf("re-encoded frame %s does not decode: %v", out, err)
		}
		// Every payload type decodes or refuses with a code, never panics.
		for _, v := range []any{&protocol.LoginRequest{}, &protocol.SendRequest{}, &protocol.SyncRequest{},
			&protocol.HistoryRequest{}, &protocol.ConvListRequest{}, &protocol.ConvReadRequest{}, &protocol.ConvDel{}, &protocol.RenewRequest{}} {
			if err := protocol.DecodeData(fr.Data, v); err != nil && imkit.ErrorCode(err) != imkit.ErrInvalidParameters {
				t.Fatalf("DecodeData error %v has no code", err)
			}
		}
	})
}

// BenchmarkDecodeFrame decodes a send request, the frame a busy connection
// reads most.
func BenchmarkDecodeFrame(b *testing.B) {
	frame := []byte(`{"id":1234,"op":"send","data":{"to":"msg124","clientMsgID":"k3j2h4-1234","elems":[{"type":"text","text":"1732791234567890123 xxxxxxxxxxxx"}]}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendString checks that AppendString writes what json.Marshal
// writes for any string, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\`, "<a&b>", "tab\tnl\n\x00\x1f", "中文", "\u2028\u2029", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := protocol.AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
