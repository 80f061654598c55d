package usersig

import (
	"bytes"
	"compress/zlib"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
)

// FuzzVerify feeds arbitrary tickets to Decode, Verify and Check. They must
// never panic, must fail only with the documented codes, must agree with one
// another, and must never put the key or the ticket in an error. A ticket
// that decodes must round-trip through SignTicket. The seed corpus, in
// testdata/fuzz/FuzzVerify, holds valid tickets (several zlib levels, a
// userbuf, PHP's escapes) signed with testKey for testUser in testAppID at
// testTime, and broken ones.
func FuzzVerify(f *testing.F) {
	f.Add(pack(f, testDoc(), 6))
	f.Add("")
	f.Fuzz(checkTicket)
}

// FuzzVerifyJSON is FuzzVerify past base64 and zlib, which random changes to
// a ticket seldom get through: it fuzzes the JSON document of a ticket.
func FuzzVerifyJSON(f *testing.F) {
	sig := mac(testKey, testUser, testAppID, testTime, testExp, nil)
	ub := "AAECAwQ="
	f.Add(testDoc())
	f.Add(strings.ReplaceAll(testDoc(), "/", `\/`))
	f.Add(`{"TLS.ver": "2.0", "TLS.identifier": "\u0078iaojun", "TLS.sdkappid": "1400000000", "TLS.expire": 15552000, "TLS.time": 1700000000, "TLS.sig": "` + sig + `"}`)
	f.Add(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.userbuf":"` + ub + `","TLS.sig":"` +
		mac(testKey, testUser, testAppID, testTime, testExp, &ub) + `"}`)
	f.Add(`{"TLS.ver":"2.0","tls.identifier":"xiaojun","TLS.identifier":null,"TLS.sdkappid":-0,"TLS.expire":1e3,"TLS.time":-1,"TLS.sig":"","x":[{}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		for _, level := range []int{zlib.NoCompression, zlib.BestSpeed} {
			checkTicket(t, pack(t, doc, level))
		}
	})
}

// checkTicket checks the invariants of FuzzVerify on one ticket.
func checkTicket(t *testing.T, ticket string) {
	dt, derr := Decode(ticket)
	vt, verr := Verify(ticket, testAppID, testKey, testUser, testNow)

	for _, err := range []error{derr, verr} {
		if err == nil {
			continue
		}
		var ie *imkit.Error
		if !errors.As(err, &ie) {
			t.Fatalf("error %v is not an *imkit.Error", err)
		}
		switch ie.Code {
		case 70001, 70002, 70003, 70009, 70013, 70014:
		default:
			t.Fatalf("error %v has an undocumented code", err)
		}
		msg := err.Error()
		if strings.Contains(msg, testKey) || len(ticket) >= 16 && strings.Contains(msg, ticket) {
			t.Fatalf("error %q contains the key or the ticket", msg)
		}
	}
	if (dt == nil) != (derr != nil) || (vt == nil) != (verr != nil) {
		t.Fatalf("Decode = %v, %v; Verify = %v, %v", dt, derr, vt, verr)
	}
	if derr != nil {
		if code := imkit.ErrorCode(derr); code != 70002 && code != 70003 {
			t.Fatalf("Decode failed with %v", derr)
		}
		if imkit.ErrorCode(verr) != imkit.ErrorCode(derr) {
			t.Fatalf("Decode failed with %v but Verify with %v", derr, verr)
		}
		return
	}
	if dt.Version != Version || dt.Identifier == "" {
		t.Fatalf("Decode returned %+v", dt)
	}
	if err := dt.Check(testAppID, testKey, testUser, testNow); imkit.ErrorCode(err) != imkit.ErrorCode(verr) {
		t.Fatalf("Check = %v, Verify = %v", err, verr)
	}
	if verr == nil && (vt.SDKAppID != testAppID || vt.Identifier != testUser || vt.ExpiresAt().Before(testNow.Truncate(time.Second))) {
		t.Fatalf("Verify accepted %+v", vt)
	}

	// What decodes can be signed again, and that verifies to the same.
	if dt.SDKAppID == 0 || dt.Expire < 0 {
		return
	}
	again, err := SignTicket(testKey, *dt)
	if err != nil {
		if imkit.ErrorCode(err) == imkit.ErrInvalidParameters && strings.Contains(err.Error(), "more than") {
			return // a userbuf near the limits, in a less compact encoding
		}
		t.Fatalf("SignTicket(%+v): %v", dt, err)
	}
	rt, err := Verify(again, dt.SDKAppID, testKey, dt.Identifier, time.Unix(dt.Time, 0))
	if err != nil {
		t.Fatalf("re-signed %+v: %v", dt, err)
	}
	if rt.Identifier != dt.Identifier || rt.SDKAppID != dt.SDKAppID || rt.Time != dt.Time || rt.Expire != dt.Expire ||
		(rt.UserBuf == nil) != (dt.UserBuf == nil) || !bytes.Equal(rt.UserBuf, dt.UserBuf) {
		t.Fatalf("re-signed %+v, got %+v", dt, rt)
	}
}

// FuzzSignTicket signs arbitrary fields; what SignTicket accepts must
// verify and decode to the same fields.
func FuzzSignTicket(f *testing.F) {
	f.Add("xiaojun", uint64(1400000000), int64(1700000000), int64(15552000), []byte(nil), true)
	f.Add("a\"\\/\u2028<>&\x00", uint64(1), int64(-1), int64(0), []byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, id string, appID uint64, tm, exp int64, userBuf []byte, nilBuf bool) {
		if nilBuf {
			userBuf = nil
		} else if userBuf == nil {
			userBuf = []byte{}
		}
		in := Ticket{Identifier: id, SDKAppID: appID, Time: tm, Expire: exp, UserBuf: userBuf}
		ticket, err := SignTicket(testKey, in)
		if err != nil {
			if imkit.ErrorCode(err) != imkit.ErrInvalidParameters {
				t.Fatalf("SignTicket(%+v): %v", in, err)
			}
			return
		}
		out, err := Verify(ticket, appID, testKey, id, time.Unix(tm, 0))
		if err != nil {
			t.Fatalf("Verify(SignTicket(%+v)): %v", in, err)
		}
		if out.Identifier != id || out.SDKAppID != appID || out.Time != tm || out.Expire != exp ||
			(out.UserBuf == nil) != (userBuf == nil) || !bytes.Equal(out.UserBuf, userBuf) {
			t.Fatalf("signed %+v, verified %+v", in, out)
		}
		if _, err := Verify(ticket, appID, testKey+"x", id, time.Unix(tm, 0)); !errors.Is(err, ErrSignature) {
			t.Fatalf("another key: %v", err)
		}
	})
}

// TestSeedCorpus checks that the committed seeds are what their names say:
// valid_* verify, the others fail.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("only %d seeds in %s", len(entries), dir)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		header, value, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		quoted, ok := strings.CutPrefix(value, "string(")
		if header != "go test fuzz v1" || !ok {
			t.Fatalf("%s: not a fuzz corpus file", e.Name())
		}
		ticket, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		_, err = Verify(ticket, testAppID, testKey, testUser, testNow)
		if valid := strings.HasPrefix(e.Name(), "valid_"); valid != (err == nil) {
			t.Errorf("%s: Verify = %v", e.Name(), err)
		}
	}
}
