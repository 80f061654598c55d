package usersig

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imkit/imkit"
)

// Tencent's published example values.
const (
	testAppID uint64 = 1400000000
	testKey          = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
	testUser         = "xiaojun"
	testTime  int64  = 1700000000
	testExp   int64  = 15552000
)

var testNow = time.Unix(testTime+60, 0)

// mac returns the standard Base64 of the HMAC of the content, computed here
// with crypto/hmac directly.
func mac(key, identifier string, appID uint64, tm, exp int64, userBuf64 *string) string {
	content := fmt.Sprintf("TLS.identifier:%s\nTLS.sdkappid:%d\nTLS.time:%d\nTLS.expire:%d\n", identifier, appID, tm, exp)
	if userBuf64 != nil {
		content += "TLS.userbuf:" + *userBuf64 + "\n"
	}
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(content))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// pack compresses doc at a zlib level and encodes it as a ticket.
func pack(t testing.TB, doc string, level int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(doc))
	w.Close()
	return ticketEncoding.EncodeToString(b.Bytes())
}

// testDoc is the JSON of the published example, signed with testKey.
func testDoc() string {
	return fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":%q}`,
		mac(testKey, testUser, testAppID, testTime, testExp, nil))
}

func TestPublishedVector(t *testing.T) {
	const want = "2ef03b77f230ee04ac9ec92f5730433ce0820dbb8d0b0e061f04c2d1b8a9f81e"
	got := hex.EncodeToString(sign(nil, testKey, testUser, testAppID, testTime, testExp, nil))
	if got != want {
		t.Fatalf("HMAC = %s, want %s", got, want)
	}
	ticket, err := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := Decode(ticket)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(tk.sig[:]); got != want {
		t.Errorf("TLS.sig of SignTicket = %s, want %s", got, want)
	}
	// And a ticket built by hand, as another generator would.
	if _, err := Verify(pack(t, testDoc(), zlib.DefaultCompression), testAppID, testKey, testUser, testNow); err != nil {
		t.Errorf("hand-built ticket: %v", err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	before := time.Now().Unix()
	ticket, err := Sign(testAppID, testKey, testUser, DefaultExpire)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := Verify(ticket, testAppID, testKey, testUser, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tk.Version != Version || tk.Identifier != testUser || tk.SDKAppID != testAppID || tk.Expire != 15552000 || tk.UserBuf != nil {
		t.Errorf("got %+v", tk)
	}
	if tk.Time < before || tk.Time > time.Now().Unix() {
		t.Errorf("Time = %d, want about now (%d)", tk.Time, before)
	}
	if got, want := tk.ExpiresAt(), time.Unix(tk.Time+15552000, 0); !got.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got, want)
	}
}

func TestZlibLevels(t *testing.T) {
	seen := map[string]bool{}
	for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, 6, zlib.BestCompression, zlib.HuffmanOnly} {
		ticket := pack(t, testDoc(), level)
		seen[ticket] = true
		if _, err := Verify(ticket, testAppID, testKey, testUser, testNow); err != nil {
			t.Errorf("level %d: %v", level, err)
		}
	}
	if len(seen) < 3 {
		t.Errorf("only %d different tickets for 6 levels: the test does not show that tickets are not compared", len(seen))
	}
}

func TestExpiryBoundary(t *testing.T) {
	ticket := pack(t, testDoc(), zlib.DefaultCompression)
	last := time.Unix(testTime+testExp, 0)
	for _, tc := range []struct {
		now  time.Time
		want error
	}{
		{time.Unix(testTime, 0), nil},
		{last.Add(-time.Second), nil},
		{last, nil},
		{last.Add(999 * time.Millisecond), nil},
		{last.Add(time.Second), ErrExpired},
		{last.Add(365 * 24 * time.Hour), ErrExpired},
	} {
		_, err := Verify(ticket, testAppID, testKey, testUser, tc.now)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("now %s: err = %v, want %v", tc.now.UTC().Format(time.RFC3339Nano), err, tc.want)
		}
	}
}

func TestUserBuf(t *testing.T) {
	for _, buf := range [][]byte{{}, {0}, []byte("room 1234"), bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 100)} {
		ticket, err := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp, UserBuf: buf})
		if err != nil {
			t.Fatal(err)
		}
		tk, err := Verify(ticket, testAppID, testKey, testUser, testNow)
		if err != nil {
			t.Fatalf("userbuf %x: %v", buf, err)
		}
		if tk.UserBuf == nil || !bytes.Equal(tk.UserBuf, buf) {
			t.Errorf("UserBuf = %x, want %x", tk.UserBuf, buf)
		}
	}

	// Old Java generators break the Base64 of the userbuf into lines of 76
	// and sign over it as it is.
	buf := bytes.Repeat([]byte("0123456789"), 10)
	b64 := base64.StdEncoding.EncodeToString(buf)
	wrapped := b64[:76] + "\n" + b64[76:]
	doc := fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.userbuf":%q,"TLS.sig":%q}`,
		wrapped, mac(testKey, testUser, testAppID, testTime, testExp, &wrapped))
	tk, err := Verify(pack(t, doc, 6), testAppID, testKey, testUser, testNow)
	if err != nil {
		t.Fatalf("wrapped userbuf: %v", err)
	}
	if !bytes.Equal(tk.UserBuf, buf) {
		t.Errorf("wrapped userbuf: UserBuf = %q", tk.UserBuf)
	}

	// The userbuf is signed: removing it or changing it breaks the signature.
	ticket, _ := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp, UserBuf: []byte("x")})
	tk, _ = Decode(ticket)
	tk.UserBuf = nil
	tk.userBuf64 = nil
	if err := tk.Check(testAppID, testKey, testUser, testNow); !errors.Is(err, ErrSignature) {
		t.Errorf("userbuf removed: err = %v, want ErrSignature", err)
	}
	for _, ub := range []string{`"eQ=="`, `""`} {
		doc := strings.Replace(testDoc(), `"TLS.sig"`, `"TLS.userbuf":`+ub+`,"TLS.sig"`, 1)
		if _, err := Verify(pack(t, doc, 6), testAppID, testKey, testUser, testNow); !errors.Is(err, ErrSignature) {
			t.Errorf("userbuf %s added: err = %v, want ErrSignature", ub, err)
		}
	}
}

// TestJSONEncodings checks that any valid JSON encoding of the object
// verifies, as the official generators of each language write it.
func TestJSONEncodings(t *testing.T) {
	sig := mac(testKey, testUser, testAppID, testTime, testExp, nil)
	ub := "AAEC"
	sigUB := mac(testKey, testUser, testAppID, testTime, testExp, &ub)
	for name, doc := range map[string]string{
		"php escaped slashes": fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s"}`,
			strings.ReplaceAll(sig, "/", `\/`)),
		"python spaces":                   fmt.Sprintf(`{"TLS.ver": "2.0", "TLS.identifier": "xiaojun", "TLS.sdkappid": 1400000000, "TLS.expire": 15552000, "TLS.time": 1700000000, "TLS.sig": "%s"}`, sig),
		"go encoder newline, sorted keys": fmt.Sprintf(`{"TLS.expire":15552000,"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.sig":"%s","TLS.time":1700000000,"TLS.ver":"2.0"}`+"\n", sig),
		"pretty":                          fmt.Sprintf("{\n\t\"TLS.ver\" : \"2.0\" ,\r\n\t\"TLS.identifier\":\"xiaojun\",\n\t\"TLS.sdkappid\":1400000000,\n\t\"TLS.expire\":15552000,\n\t\"TLS.time\":1700000000,\n\t\"TLS.sig\":\"%s\"\n}\n", sig),
		"unicode escapes":                 fmt.Sprintf(`{"TLS.ver":"\u0032.0","TLS.identifier":"\u0078iao\u006aun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s"}`, sig),
		"numbers as strings":              fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":"1400000000","TLS.expire":"15552000","TLS.time":"1700000000","TLS.sig":"%s"}`, sig),
		"unknown fields":                  fmt.Sprintf(`{"TLS.ver":"2.0","x":[1,{"y":null}],"TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s","z":true}`, sig),
		"null userbuf":                    fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s","TLS.userbuf":null}`, sig),
		"duplicate, last wins":            fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"other","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s"}`, sig),
		"sig with line break":             fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"%s\r\n"}`, sig),
		"userbuf":                         fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.userbuf":"%s","TLS.sig":"%s"}`, ub, sigUB),
	} {
		if _, err := Verify(pack(t, doc, 6), testAppID, testKey, testUser, testNow); err != nil {
			t.Errorf("%s: %v\n%s", name, err, doc)
		}
	}
}

func TestTicketAlphabets(t *testing.T) {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(testDoc()))
	w.Close()
	std := base64.StdEncoding.EncodeToString(b.Bytes())
	ours := ticketEncoding.EncodeToString(b.Bytes())
	if !strings.ContainsAny(ours, "*-") && !strings.ContainsAny(std, "+/") {
		t.Log("ticket has no '+' or '/'; the alphabet is only partly tested")
	}
	var lines strings.Builder
	for i := 0; i < len(ours); i += 20 {
		lines.WriteString(ours[i:min(i+20, len(ours))] + "\r\n")
	}
	for name, ticket := range map[string]string{
		"tencent":        ours,
		"standard":       std,
		"no padding":     strings.TrimRight(ours, "_"),
		"lines":          lines.String(),
		"spaces":         " " + ours + " \n",
		"extra padding":  strings.TrimRight(ours, "_") + "___",
		"mixed alphabet": strings.Replace(ours, "*", "+", 1),
	} {
		if _, err := Verify(ticket, testAppID, testKey, testUser, testNow); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVerifyErrors walks every failure, in the order of the package doc.
func TestVerifyErrors(t *testing.T) {
	sig := mac(testKey, testUser, testAppID, testTime, testExp, nil)
	doc := func(s string) string { return strings.ReplaceAll(s, "SIG", sig) }
	zipped := func(b []byte) string {
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return ticketEncoding.EncodeToString(buf.Bytes())
	}
	valid := pack(t, testDoc(), 6)
	raw, _ := ticketEncoding.DecodeString(valid)
	badSum := bytes.Clone(raw)
	badSum[len(badSum)-1] ^= 1
	fields := `"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":15552000,"TLS.time":1700000000,"TLS.sig":"SIG"`

	for _, tc := range []struct {
		name   string
		ticket string
		appID  uint64
		key    string
		user   string
		now    time.Time
		want   error
	}{
		{name: "valid", ticket: valid},
		{name: "empty", ticket: "", want: ErrEmpty},

		{name: "too long", ticket: valid + strings.Repeat("A", MaxTicketLen), want: ErrInvalid},
		{name: "not base64", ticket: "!!!!", want: ErrInvalid},
		{name: "only white space", ticket: " \n", want: ErrInvalid},
		{name: "base64 of one char", ticket: "A", want: ErrInvalid},
		{name: "padding inside", ticket: valid[:8] + "_" + valid[8:], want: ErrInvalid},
		{name: "not zlib", ticket: ticketEncoding.EncodeToString([]byte(testDoc())), want: ErrInvalid},
		{name: "raw deflate", ticket: ticketEncoding.EncodeToString(raw[2 : len(raw)-4]), want: ErrInvalid},
		{name: "truncated zlib", ticket: ticketEncoding.EncodeToString(raw[:len(raw)-6]), want: ErrInvalid},
		{name: "no checksum", ticket: ticketEncoding.EncodeToString(raw[:len(raw)-4]), want: ErrInvalid},
		{name: "bad checksum", ticket: ticketEncoding.EncodeToString(badSum), want: ErrInvalid},
		{name: "zip bomb", ticket: zipped(bytes.Repeat([]byte(" "), 10<<20)), want: ErrInvalid},
		{name: "just over inflate limit", ticket: zipped(append([]byte(testDoc()), bytes.Repeat([]byte(" "), maxInflated+1-len(testDoc()))...)), want: ErrInvalid},
		{name: "not JSON", ticket: zipped([]byte("hello")), want: ErrInvalid},
		{name: "empty JSON", ticket: zipped(nil), want: ErrInvalid},
		{name: "JSON array", ticket: zipped([]byte(`[` + doc("{"+fields+"}") + `]`)), want: ErrInvalid},
		{name: "JSON null", ticket: zipped([]byte(`null`)), want: ErrInvalid},
		{name: "trailing data", ticket: zipped([]byte(doc("{" + fields + "} {}"))), want: ErrInvalid},
		{name: "truncated JSON", ticket: zipped([]byte(doc("{" + fields))), want: ErrInvalid},
		{name: "no TLS.ver", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.ver":"2.0",`, "", 1)))), want: ErrInvalid},
		{name: "TLS.ver 1.0", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"2.0"`, `"1.0"`, 1)))), want: ErrInvalid},
		{name: "TLS.ver number", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"2.0"`, `2.0`, 1)))), want: ErrInvalid},
		{name: "no TLS.identifier", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.identifier":"xiaojun",`, "", 1)))), want: ErrInvalid},
		{name: "null TLS.identifier", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"xiaojun"`, `null`, 1)))), want: ErrInvalid},
		{name: "number TLS.identifier", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"xiaojun"`, `7`, 1)))), want: ErrInvalid},
		{name: "no TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.sdkappid":1400000000,`, "", 1)))), want: ErrInvalid},
		{name: "float TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1400000000`, `1.4e9`, 1)))), want: ErrInvalid},
		{name: "negative TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1400000000`, `-1400000000`, 1)))), want: ErrInvalid},
		{name: "huge TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1400000000`, `18446744073709551616`, 1)))), want: ErrInvalid},
		{name: "bool TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1400000000`, `true`, 1)))), want: ErrInvalid},
		{name: "word TLS.sdkappid", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1400000000`, `"app"`, 1)))), want: ErrInvalid},
		{name: "no TLS.time", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `,"TLS.time":1700000000`, "", 1)))), want: ErrInvalid},
		{name: "fraction TLS.time", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1700000000`, `1700000000.5`, 1)))), want: ErrInvalid},
		{name: "no TLS.expire", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.expire":15552000,`, "", 1)))), want: ErrInvalid},
		{name: "empty string TLS.expire", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `15552000`, `""`, 1)))), want: ErrInvalid},
		{name: "no TLS.sig", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `,"TLS.sig":"SIG"`, "", 1)))), want: ErrInvalid},
		{name: "TLS.sig not base64", ticket: zipped([]byte(strings.Replace("{"+fields+"}", `SIG`, `not base64!`, 1))), want: ErrInvalid},
		{name: "TLS.sig short", ticket: zipped([]byte(strings.Replace("{"+fields+"}", `SIG`, sig[:40]+"==", 1))), want: ErrInvalid},
		{name: "TLS.sig long", ticket: zipped([]byte(strings.Replace("{"+fields+"}", `SIG`, base64.StdEncoding.EncodeToString(make([]byte, 33)), 1))), want: ErrInvalid},
		{name: "TLS.sig very long", ticket: zipped([]byte(strings.Replace("{"+fields+"}", `SIG`, strings.Repeat("A", 1000), 1))), want: ErrInvalid},
		{name: "TLS.userbuf not base64", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.ver"`, `"TLS.userbuf":"***","TLS.ver"`, 1)))), want: ErrInvalid},
		{name: "TLS.userbuf number", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `"TLS.ver"`, `"TLS.userbuf":12,"TLS.ver"`, 1)))), want: ErrInvalid},

		{name: "other app", ticket: valid, appID: 1400000001, want: ErrSDKAppID},
		{name: "other app and user", ticket: valid, appID: 1400000001, user: "other", want: ErrSDKAppID},
		{name: "other user", ticket: valid, user: "other", want: ErrIdentifier},
		{name: "user differs in case", ticket: valid, user: "XiaoJun", want: ErrIdentifier},
		{name: "other user and expired", ticket: valid, user: "other", now: time.Unix(testTime+testExp+1, 0), want: ErrIdentifier},
		{name: "expired", ticket: valid, now: time.Unix(testTime+testExp+1, 0), want: ErrExpired},
		{name: "expired and wrong key", ticket: valid, key: "wrong", now: time.Unix(testTime+testExp+1, 0), want: ErrExpired},
		{name: "wrong key", ticket: valid, key: "wrong", want: ErrSignature},
		{name: "hex-decoded key", ticket: valid, key: string(must(hex.DecodeString(testKey))), want: ErrSignature},
		{name: "empty key", ticket: valid, key: "", want: ErrSignature},
		{name: "altered time", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `1700000000`, `1700000001`, 1)))), want: ErrSignature},
		{name: "altered expire", ticket: zipped([]byte(doc(strings.Replace("{"+fields+"}", `15552000`, `31104000`, 1)))), want: ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.appID == 0 {
				tc.appID = testAppID
			}
			if tc.key == "" && tc.name != "empty key" {
				tc.key = testKey
			}
			if tc.user == "" {
				tc.user = testUser
			}
			if tc.now.IsZero() {
				tc.now = testNow
			}
			tk, err := Verify(tc.ticket, tc.appID, tc.key, tc.user, tc.now)
			if tc.want == nil {
				if err != nil || tk == nil {
					t.Fatalf("Verify = %v, %v; want a ticket", tk, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || tk != nil {
				t.Fatalf("Verify = %v, %v; want %v", tk, err, tc.want)
			}
			var ie *imkit.Error
			if !errors.As(err, &ie) || ie.Message == "" {
				t.Fatalf("err = %#v, want an *imkit.Error with a message", err)
			}
			for _, secret := range []string{testKey, tc.key, tc.ticket} {
				if len(secret) >= 4 && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the key or the ticket", err)
				}
			}
			// Decode fails exactly when Verify fails before step 3.
			_, derr := Decode(tc.ticket)
			decodeFails := errors.Is(tc.want, ErrEmpty) || errors.Is(tc.want, ErrInvalid)
			if decodeFails != (derr != nil) || (derr != nil && !errors.Is(derr, tc.want)) {
				t.Errorf("Decode err = %v, want %v", derr, decodeFails)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestErrorCodes(t *testing.T) {
	for _, tc := range []struct {
		err  *imkit.Error
		code imkit.Code
	}{
		{ErrExpired, 70001}, {ErrEmpty, 70002}, {ErrInvalid, 70003},
		{ErrSignature, 70009}, {ErrIdentifier, 70013}, {ErrSDKAppID, 70014},
	} {
		if tc.err.Code != tc.code {
			t.Errorf("%v: code %d, want %d", tc.err, tc.err.Code, tc.code)
		}
	}
	_, err := Verify(pack(t, testDoc(), 6), testAppID, testKey, testUser, time.Unix(2e9, 0))
	if got := imkit.ErrorCode(fmt.Errorf("login: %w", err)); got != 70001 {
		t.Errorf("ErrorCode of a wrapped expiry = %d, want 70001", got)
	}
	if !errors.Is(fmt.Errorf("login: %w", err), ErrExpired) || errors.Is(err, ErrSignature) {
		t.Errorf("errors.Is does not tell the codes apart: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	ok := Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp}
	for name, tc := range map[string]struct {
		key string
		t   Ticket
	}{
		"empty key":            {"", ok},
		"empty identifier":     {testKey, Ticket{SDKAppID: testAppID, Time: testTime, Expire: testExp}},
		"non-UTF-8 identifier": {testKey, Ticket{Identifier: "a\xff", SDKAppID: testAppID, Time: testTime, Expire: testExp}},
		"zero SDKAppID":        {testKey, Ticket{Identifier: testUser, Time: testTime, Expire: testExp}},
		"negative expire":      {testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: -1}},
		"version 1":            {testKey, Ticket{Version: "1.0", Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp}},
	} {
		ticket, err := SignTicket(tc.key, tc.t)
		if imkit.ErrorCode(err) != imkit.ErrInvalidParameters || ticket != "" {
			t.Errorf("%s: SignTicket = %q, %v; want code 6017", name, ticket, err)
		}
		if err != nil && strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: error %q contains the key", name, err)
		}
	}
	if _, err := Sign(testAppID, testKey, testUser, -time.Second); imkit.ErrorCode(err) != imkit.ErrInvalidParameters {
		t.Errorf("Sign with negative expire: %v", err)
	}
	// Identifiers that need JSON escapes still round-trip.
	for _, id := range []string{`a"b\c`, "<&>", "用户", "tab\there", "line\nbreak"} {
		ticket, err := SignTicket(testKey, Ticket{Identifier: id, SDKAppID: testAppID, Time: testTime, Expire: testExp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(ticket, testAppID, testKey, id, testNow); err != nil {
			t.Errorf("identifier %q: %v", id, err)
		}
	}
}

func TestSignExpireUnits(t *testing.T) {
	ticket, err := Sign(testAppID, testKey, testUser, 90*time.Second+999*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := Decode(ticket)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Expire != 90 {
		t.Errorf("Expire = %d, want 90 (whole seconds)", tk.Expire)
	}
}

func TestExpiresAtSaturates(t *testing.T) {
	for _, tc := range []struct{ tm, exp, want int64 }{
		{1, 2, 3},
		{1<<63 - 10, 100, 1<<63 - 1},
		{-1 << 63, -1, -1 << 63},
		{-5, 5, 0},
	} {
		if got := expiresAt(tc.tm, tc.exp); got != tc.want {
			t.Errorf("expiresAt(%d, %d) = %d, want %d", tc.tm, tc.exp, got, tc.want)
		}
	}
	// A ticket whose time+expire overflows never expires rather than
	// expiring at once; its signature is still checked.
	doc := fmt.Sprintf(`{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.expire":9223372036854775807,"TLS.time":1700000000,"TLS.sig":%q}`,
		mac(testKey, testUser, testAppID, testTime, 1<<63-1, nil))
	if _, err := Verify(pack(t, doc, 6), testAppID, testKey, testUser, testNow); err != nil {
		t.Errorf("huge expire: %v", err)
	}
}

func TestCheck(t *testing.T) {
	tk, err := Decode(pack(t, testDoc(), 6))
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Check(testAppID, testKey, testUser, testNow); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := tk.Check(testAppID, "other", testUser, testNow); !errors.Is(err, ErrSignature) {
		t.Errorf("Check with another key: %v", err)
	}
	made := Ticket{Version: Version, Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp}
	if err := made.Check(testAppID, testKey, testUser, testNow); !errors.Is(err, ErrSignature) {
		t.Errorf("Check of a Ticket not from Decode: %v, want ErrSignature", err)
	}
}

// TestDecoderReuse checks that pooled state does not leak between calls:
// a good ticket after each kind of bad one, with alternating keys.
func TestDecoderReuse(t *testing.T) {
	good := pack(t, testDoc(), 6)
	other, _ := SignTicket("k2", Ticket{Identifier: "u2", SDKAppID: 7, Time: testTime, Expire: testExp, UserBuf: []byte("b")})
	bad := []string{"", "!!", good[:len(good)/2], ticketEncoding.EncodeToString([]byte("x")), pack(t, "[]", 6)}
	for i := 0; i < 3; i++ {
		for _, b := range bad {
			Verify(b, testAppID, testKey, testUser, testNow)
			if _, err := Verify(good, testAppID, testKey, testUser, testNow); err != nil {
				t.Fatalf("after %q: %v", b, err)
			}
			tk, err := Verify(other, 7, "k2", "u2", testNow)
			if err != nil || string(tk.UserBuf) != "b" {
				t.Fatalf("after %q: %v, %v", b, tk, err)
			}
			if _, err := Verify(other, 7, testKey, "u2", testNow); !errors.Is(err, ErrSignature) {
				t.Fatalf("after %q, key of another app: %v", b, err)
			}
		}
	}
}

func TestLimits(t *testing.T) {
	// A JSON document of exactly the inflate limit is accepted.
	doc := testDoc()
	doc = doc[:len(doc)-1] + strings.Repeat(" ", maxInflated-len(doc)) + "}"
	if _, err := Verify(pack(t, doc, 9), testAppID, testKey, testUser, testNow); err != nil {
		t.Errorf("JSON of %d bytes: %v", len(doc), err)
	}
	// SignTicket refuses to make what Decode would refuse.
	for name, tk := range map[string]Ticket{
		"long random userbuf": {Identifier: testUser, SDKAppID: testAppID, UserBuf: randomBytes(MaxTicketLen)},
		"long identifier":     {Identifier: strings.Repeat("a", maxInflated), SDKAppID: testAppID},
	} {
		if _, err := SignTicket(testKey, tk); imkit.ErrorCode(err) != imkit.ErrInvalidParameters {
			t.Errorf("%s: err = %v, want code 6017", name, err)
		}
	}
	tk := Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime, Expire: testExp, UserBuf: randomBytes(MaxTicketLen / 2)}
	ticket, err := SignTicket(testKey, tk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ticket, testAppID, testKey, testUser, testNow); err != nil {
		t.Errorf("ticket of %d bytes: %v", len(ticket), err)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestOtherGenerators verifies tickets made outside this package: one by
// the algorithm of Tencent's Python generator (json.dumps, zlib.compress),
// and the signature of a userbuf ticket computed the same way.
func TestOtherGenerators(t *testing.T) {
	const python = "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwhWZiflZpXlQqeKU7MSCgswUJStDEwMogMikVhRkFqUCxU1NTY3goiWZuSAxM1S1xZnpQJMNo0wD8tJdstwTS9NSgzMD8p1KK1I8Is1dvY29QlIcs3wDLI2DTbzLwox9bZVqAaoDMbs_"
	tk, err := Verify(python, testAppID, testKey, testUser, time.Unix(1600000000+15552000, 0))
	if err != nil {
		t.Fatalf("Python ticket: %v", err)
	}
	if tk.Time != 1600000000 || tk.Expire != 15552000 {
		t.Errorf("Python ticket: %+v", tk)
	}
	if _, err := Verify(python, testAppID, testKey, testUser, time.Unix(1600000000+15552000+1, 0)); !errors.Is(err, ErrExpired) {
		t.Errorf("Python ticket a second late: %v", err)
	}

	ub := "YWJj" // "abc"
	if got, want := mac(testKey, testUser, testAppID, 1600000000, 15552000, &ub), "9tvdyuu11RSxrIwX0xC05oW7LdPxVnzkzBpcRT/UqfM="; got != want {
		t.Errorf("userbuf signature = %s, want %s", got, want)
	}
	ticket, err := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: 1600000000, Expire: 15552000, UserBuf: []byte("abc")})
	if err != nil {
		t.Fatal(err)
	}
	dt, err := Decode(ticket)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.StdEncoding.EncodeToString(dt.sig[:]); got != "9tvdyuu11RSxrIwX0xC05oW7LdPxVnzkzBpcRT/UqfM=" {
		t.Errorf("SignTicket with userbuf: TLS.sig = %s", got)
	}
}

// TestFutureTicket: a ticket signed "in the future" is valid, as with
// Tencent's verifiers; only its end counts.
func TestFutureTicket(t *testing.T) {
	ticket, err := SignTicket(testKey, Ticket{Identifier: testUser, SDKAppID: testAppID, Time: testTime + 3600, Expire: 60})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ticket, testAppID, testKey, testUser, time.Unix(testTime, 0)); err != nil {
		t.Errorf("future ticket: %v", err)
	}
}
