package message

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

var sendSeeds = []string{
	`{"to":"bob","clientMsgID":"c-1","elems":[{"type":"text","text":"hello"}]}`,
	` { "to" : "bob" , "clientMsgID" : "c-1" , "random" : 42 , "elems" : [ { "type" : "custom" , "data" : "d" , "desc" : "x", "ext":"é" } , {"type":"text","text":"two"} ] } `,
	`{"to":"bob","elems":[]}`,
	`{}`,
	`{"to":"bob","to":"eve"}`,
	`{"To":"bob"}`,
	`{"to":"b\"ob"}`,
	`{"to":null}`,
	`{"random":4294967296}`,
	`{"random":-1}`,
	`{"random":1.5}`,
	`{"random":01}`,
	`{"elems":[{"type":"text","text":"a","other":1}]}`,
	`{"elems":[{}]}`,
	`{"to":"bob"} x`,
	`[]`,
	`null`,
	``,
}

// FuzzDecodeSend checks that what decodeSend decodes, encoding/json decodes
// the same.
func FuzzDecodeSend(f *testing.F) {
	for _, s := range sendSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got protocol.SendRequest
		if !decodeSend(b, &got) {
			return
		}
		var want protocol.SendRequest
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("decodeSend(%q) accepted what encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeSend(%q) = %+v, encoding/json gives %+v", b, got, want)
		}
	})
}

func TestDecodeSendPlain(t *testing.T) {
	var req protocol.SendRequest
	if !decodeSend([]byte(sendSeeds[1]), &req) {
		t.Fatalf("decodeSend(%q) fell back to encoding/json", sendSeeds[1])
	}
	want := protocol.SendRequest{To: "bob", ClientMsgID: "c-1", Random: 42, Elems: []protocol.Elem{
		{Type: "custom", Data: "d", Desc: "x", Ext: "é"}, {Type: "text", Text: "two"},
	}}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("got %+v, want %+v", req, want)
	}
}

// FuzzEncode checks the stored body, the reply and the push against
// encoding/json.
func FuzzEncode(f *testing.F) {
	f.Add("hello", "", "", "", "bob", "c-1", uint32(0), false)
	f.Add("<a href=\"x\">&amp;</a>\n\t\u2028\u2029\x00\x7f", "d\\", "\xff\xfe", "é😀", "al\"ice", "\x01", uint32(7), true)
	f.Fuzz(func(t *testing.T, text, data, desc, ext, user, id string, random uint32, dup bool) {
		elems := []protocol.Elem{{Type: protocol.ElemText, Text: text}, {Type: protocol.ElemCustom, Data: data, Desc: desc, Ext: ext}}
		body := appendElems(nil, elems)
		want, err := json.Marshal(elems)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("appendElems = %s, json.Marshal gives %s", body, want)
		}
		m := &store.Message{ID: id, ClientMsgID: id + "c", From: user, To: user + "2", Random: random,
			Time: 1700000000000, ConvSeq: 3, FromSeq: 5, ToSeq: 9, Body: body, Dup: dup}
		for _, seq := range []uint64{m.FromSeq, m.ToSeq} {
			got := appendPush(nil, m, seq)
			want, err := protocol.AppendPush(nil, protocol.PushMsg, wire(m, seq))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("appendPush = %s, encoding/json gives %s", got, want)
			}
		}
		got := sendReply(m)
		want, err = json.Marshal(protocol.SendReply{MsgID: m.ID, Seq: m.FromSeq, ConvSeq: m.ConvSeq, Time: m.Time, Dup: m.Dup})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("sendReply = %s, encoding/json gives %s", got, want)
		}
	})
}

// BenchmarkSendJSON is the JSON work of one send: decode the request,
// encode the body, the reply and two pushes; by hand, and with
// encoding/json as before.
func BenchmarkSendJSON(b *testing.B) {
	payload := []byte(`{"to":"msg124","clientMsgID":"k3j2h4-1234","elems":[{"type":"text","text":"1732791234567890123 xxxxxxxxxxxx"}]}`)
	m := &store.Message{ID: "0_123456789_1732791234", ClientMsgID: "k3j2h4-1234", From: "msg123", To: "msg124",
		Time: 1732791234567, ConvSeq: 77, FromSeq: 150, ToSeq: 151}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req protocol.SendRequest
			if !decodeSend(payload, &req) {
				b.Fatal("fell back")
			}
			m.Body = appendElems(nil, req.Elems)
			_ = sendReply(m)
			_ = appendPush(nil, m, m.ToSeq)
			_ = appendPush(nil, m, m.FromSeq)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req protocol.SendRequest
			if err := protocol.DecodeData(payload, &req); err != nil {
				b.Fatal(err)
			}
			m.Body, _ = json.Marshal(req.Elems)
			_, _ = protocol.AppendReply(nil, 1, 0, "", protocol.SendReply{MsgID: m.ID, Seq: m.FromSeq, ConvSeq: m.ConvSeq, Time: m.Time})
			_, _ = protocol.AppendPush(nil, protocol.PushMsg, wire(m, m.ToSeq))
			_, _ = protocol.AppendPush(nil, protocol.PushMsg, wire(m, m.FromSeq))
		}
	})
}
