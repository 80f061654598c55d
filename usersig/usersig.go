package usersig

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/imkit/imkit"
)

// Version is the only value of TLS.ver this package signs and accepts.
const Version = "2.0"

// DefaultExpire is the lifetime Tencent's generators give a ticket by
// default: 180 days.
const DefaultExpire = 180 * 24 * time.Hour

// MaxTicketLen is the length in bytes of the longest ticket Decode accepts.
// A ticket without userbuf is about 200 bytes.
const MaxTicketLen = 8 << 10

// maxInflated is the most bytes of JSON a ticket may inflate to.
const maxInflated = 16 << 10

// Sentinel errors, one per code. Verify and Decode return an *imkit.Error
// with the same code and a more detailed message; errors.Is(err, ErrExpired)
// reports whether err has code 70001, and so on.
var (
	ErrExpired    = &imkit.Error{Code: imkit.ErrSvrUserSigExpired, Message: "usersig expired"}
	ErrEmpty      = &imkit.Error{Code: imkit.ErrSvrUserSigEmpty, Message: "usersig is empty"}
	ErrInvalid    = &imkit.Error{Code: imkit.ErrSvrUserSigCheckFailed, Message: "usersig cannot be decoded"}
	ErrSignature  = &imkit.Error{Code: imkit.ErrSvrUserSigMismatchKey, Message: "usersig signature mismatch"}
	ErrIdentifier = &imkit.Error{Code: imkit.ErrSvrUserSigMismatchID, Message: "usersig identifier mismatch"}
	ErrSDKAppID   = &imkit.Error{Code: imkit.ErrSvrUserSigMismatchApp, Message: "usersig SDKAppID mismatch"}
)

// Ticket is the content of a UserSig. Decode and Verify fill it from a
// ticket; SignTicket makes a ticket from it.
type Ticket struct {
	Version    string // TLS.ver: "2.0"; SignTicket takes "" for "2.0"
	Identifier string // TLS.identifier: the UserID the ticket logs in
	SDKAppID   uint64 // TLS.sdkappid: the app
	Time       int64  // TLS.time: when it was signed, in Unix seconds
	Expire     int64  // TLS.expire: its lifetime in seconds from Time
	UserBuf    []byte // TLS.userbuf, decoded; nil when the ticket has none

	// Set by Decode, for Check.
	userBuf64 *string  // TLS.userbuf exactly as in the ticket (signed over as is), or nil
	sig       [32]byte // TLS.sig, decoded
	decoded   bool
}

// ExpiresAt returns the last second at which the ticket is valid: Time plus
// Expire.
func (t *Ticket) ExpiresAt() time.Time {
	return time.Unix(expiresAt(t.Time, t.Expire), 0)
}

// expiresAt returns tm+exp, saturated instead of overflowing.
func expiresAt(tm, exp int64) int64 {
	if exp > 0 && tm > math.MaxInt64-exp {
		return math.MaxInt64
	}
	if exp < 0 && tm < math.MinInt64-exp {
		return math.MinInt64
	}
	return tm + exp
}

// Sign returns a ticket for identifier in app sdkAppID, signed with key at
// the current time and valid for expire (whole seconds; DefaultExpire is
// Tencent's default). It returns an *imkit.Error with code 6017 for an empty
// key, an empty or non-UTF-8 identifier, a zero sdkAppID or a negative
// expire.
func Sign(sdkAppID uint64, key, identifier string, expire time.Duration) (string, error) {
	if expire < 0 {
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: negative expire %v", expire)
	}
	return SignTicket(key, Ticket{
		Identifier: identifier,
		SDKAppID:   sdkAppID,
		Time:       time.Now().Unix(),
		Expire:     int64(expire / time.Second),
	})
}

// SignTicket returns the ticket for t signed with key: t.Time and t.Expire as
// given, and TLS.userbuf when t.UserBuf is not nil (even if empty). The
// result is compressed with zlib's default level. Errors are as for Sign, and
// also for a Version other than "" or "2.0" and for fields too long for
// Decode to accept (see MaxTicketLen).
func SignTicket(key string, t Ticket) (string, error) {
	switch {
	case key == "":
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: empty key")
	case t.Identifier == "":
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: empty identifier")
	case !utf8.ValidString(t.Identifier):
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: identifier is not UTF-8")
	case t.SDKAppID == 0:
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: zero SDKAppID")
	case t.Expire < 0:
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: negative expire %d", t.Expire)
	case t.Version != "" && t.Version != Version:
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: version %q is not %q", t.Version, Version)
	}
	w := wireTicket{
		Version:    Version,
		Identifier: t.Identifier,
		SDKAppID:   json.Number(strconv.FormatUint(t.SDKAppID, 10)),
		Expire:     json.Number(strconv.FormatInt(t.Expire, 10)),
		Time:       json.Number(strconv.FormatInt(t.Time, 10)),
	}
	if t.UserBuf != nil {
		s := base64.StdEncoding.EncodeToString(t.UserBuf)
		w.UserBuf = &s
	}
	var mac [sha256.Size]byte
	sign(mac[:0], key, t.Identifier, t.SDKAppID, t.Time, t.Expire, w.UserBuf)
	w.Sig = base64.StdEncoding.EncodeToString(mac[:])

	doc, err := json.Marshal(&w)
	if err != nil {
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: %v", err)
	}
	if len(doc) > maxInflated {
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: ticket JSON would be %d bytes, more than %d", len(doc), maxInflated)
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	e.zw.Reset(&e.buf)
	if _, err := e.zw.Write(doc); err != nil {
		return "", err // bytes.Buffer does not fail
	}
	if err := e.zw.Close(); err != nil {
		return "", err
	}
	if n := ticketEncoding.EncodedLen(e.buf.Len()); n > MaxTicketLen {
		return "", imkit.Errorf(imkit.ErrInvalidParameters, "usersig: ticket would be %d bytes, more than %d", n, MaxTicketLen)
	}
	return ticketEncoding.EncodeToString(e.buf.Bytes()), nil
}

// Decode decodes a ticket without checking it against an app, a user, a
// time or a key: it returns ErrEmpty or ErrInvalid (see the package doc), or
// the Ticket, ready for Check.
func Decode(ticket string) (*Ticket, error) {
	t := new(Ticket)
	d := decoders.Get().(*decoder)
	err := d.decode(ticket, t)
	decoders.Put(d)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Verify decodes ticket and checks it for app sdkAppID, whose secret key is
// key, and user identifier, at time now. It returns the decoded ticket, or
// the first failure in the order given in the package doc. A ticket with a
// userbuf verifies; the caller checks t.UserBuf if it expects one.
func Verify(ticket string, sdkAppID uint64, key, identifier string, now time.Time) (*Ticket, error) {
	t := new(Ticket)
	d := decoders.Get().(*decoder)
	err := d.decode(ticket, t)
	if err == nil {
		err = t.check(d, sdkAppID, key, identifier, now)
	}
	decoders.Put(d)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Check checks a ticket returned by Decode for app sdkAppID with secret key
// key, user identifier and time now: steps 3 to 6 of the package doc. A
// Ticket not made by Decode fails with ErrSignature.
func (t *Ticket) Check(sdkAppID uint64, key, identifier string, now time.Time) error {
	d := decoders.Get().(*decoder)
	err := t.check(d, sdkAppID, key, identifier, now)
	decoders.Put(d)
	return err
}

func (t *Ticket) check(d *decoder, sdkAppID uint64, key, identifier string, now time.Time) error {
	if t.SDKAppID != sdkAppID {
		return imkit.Errorf(ErrSDKAppID.Code, "usersig is for SDKAppID %d, not %d", t.SDKAppID, sdkAppID)
	}
	if t.Identifier != identifier {
		return imkit.Errorf(ErrIdentifier.Code, "usersig is for identifier %q, not %q", clip(t.Identifier), clip(identifier))
	}
	if exp := expiresAt(t.Time, t.Expire); now.Unix() > exp {
		return imkit.Errorf(ErrExpired.Code, "usersig expired at %s (signed at %d, valid for %d seconds)",
			time.Unix(exp, 0).UTC().Format(time.RFC3339), t.Time, t.Expire)
	}
	if key == "" {
		return imkit.Errorf(ErrSignature.Code, "usersig cannot be checked: the app has no key")
	}
	if !t.decoded {
		return imkit.Errorf(ErrSignature.Code, "usersig signature mismatch: the ticket was not decoded")
	}
	var mac [sha256.Size]byte
	d.sign(mac[:0], key, t.Identifier, t.SDKAppID, t.Time, t.Expire, t.userBuf64)
	if !hmac.Equal(mac[:], t.sig[:]) {
		return imkit.Errorf(ErrSignature.Code, "usersig signature mismatch: signed with another key, or altered")
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// ticketEncoding is the base64 of tickets: standard, with '+', '/', '='
// replaced by '*', '-', '_'.
var ticketEncoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-").WithPadding('_')

// wireTicket is the JSON object of a ticket.
type wireTicket struct {
	Version    string      `json:"TLS.ver"`
	Identifier string      `json:"TLS.identifier"`
	SDKAppID   json.Number `json:"TLS.sdkappid"`
	Expire     json.Number `json:"TLS.expire"`
	Time       json.Number `json:"TLS.time"`
	Sig        string      `json:"TLS.sig"`
	UserBuf    *string     `json:"TLS.userbuf,omitempty"`
}

// appendContent appends the text that TLS.sig signs.
func appendContent(b []byte, identifier string, sdkAppID uint64, tm, expire int64, userBuf64 *string) []byte {
	b = append(b, "TLS.identifier:"...)
	b = append(b, identifier...)
	b = append(b, "\nTLS.sdkappid:"...)
	b = strconv.AppendUint(b, sdkAppID, 10)
	b = append(b, "\nTLS.time:"...)
	b = strconv.AppendInt(b, tm, 10)
	b = append(b, "\nTLS.expire:"...)
	b = strconv.AppendInt(b, expire, 10)
	b = append(b, '\n')
	if userBuf64 != nil {
		b = append(b, "TLS.userbuf:"...)
		b = append(b, *userBuf64...)
		b = append(b, '\n')
	}
	return b
}

// sign appends the HMAC-SHA256 of the content, keyed with key as text.
func sign(dst []byte, key, identifier string, sdkAppID uint64, tm, expire int64, userBuf64 *string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(appendContent(make([]byte, 0, 128), identifier, sdkAppID, tm, expire, userBuf64))
	return m.Sum(dst)
}

// encoder is what SignTicket reuses between calls.
type encoder struct {
	buf bytes.Buffer
	zw  *zlib.Writer
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.zw, _ = zlib.NewWriterLevel(&e.buf, zlib.DefaultCompression) // a valid level: no error
	return e
}}

// decoder is what Decode and Verify reuse between calls: buffers, a zlib
// reader and the last key's HMAC.
type decoder struct {
	b64     [MaxTicketLen]byte    // the ticket in the standard alphabet, white space and padding removed
	raw     [MaxTicketLen]byte    // the zlib stream
	json    [maxInflated + 1]byte // the inflated JSON; one byte more to notice a too large one
	content []byte
	br      bytes.Reader
	zr      io.ReadCloser // always a zlib reader, also a zlib.Resetter
	w       wireTicket
	mac     hash.Hash // HMAC-SHA256 keyed with macKey, or nil
	macKey  string
}

// emptyZlib is a zlib stream of no bytes, to make the pool's first reader.
var emptyZlib = []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}

var decoders = sync.Pool{New: func() any {
	d := new(decoder)
	d.br.Reset(emptyZlib)
	zr, err := zlib.NewReader(&d.br)
	if err != nil {
		panic("usersig: zlib reader: " + err.Error()) // emptyZlib is valid
	}
	d.zr = zr
	return d
}}

// invalid returns an ErrInvalid with the reason.
func invalid(format string, args ...any) error {
	return imkit.Errorf(ErrInvalid.Code, "usersig cannot be decoded: "+format, args...)
}

// decode decodes ticket into t.
func (d *decoder) decode(ticket string, t *Ticket) error {
	if ticket == "" {
		return imkit.Errorf(ErrEmpty.Code, "usersig is empty")
	}
	if len(ticket) > MaxTicketLen {
		return invalid("%d bytes, more than %d", len(ticket), MaxTicketLen)
	}

	// Base64: both alphabets, no white space, padding optional.
	n := 0
	for i := 0; i < len(ticket); i++ {
		c := ticket[i]
		switch c {
		case '*':
			c = '+'
		case '-':
			c = '/'
		case '_':
			c = '='
		case ' ', '\t', '\n', '\v', '\f', '\r':
			continue
		}
		d.b64[n] = c
		n++
	}
	for n > 0 && d.b64[n-1] == '=' {
		n--
	}
	rawLen, err := base64.RawStdEncoding.Decode(d.raw[:], d.b64[:n])
	if err != nil {
		return invalid("bad base64")
	}

	// Zlib, bounded.
	d.br.Reset(d.raw[:rawLen])
	if err := d.zr.(zlib.Resetter).Reset(&d.br, nil); err != nil {
		return invalid("bad zlib header")
	}
	jsonLen := 0
	for jsonLen <= maxInflated {
		m, err := d.zr.Read(d.json[jsonLen:])
		jsonLen += m
		if err == io.EOF {
			break
		}
		if err != nil {
			return invalid("bad zlib data")
		}
	}
	if jsonLen > maxInflated {
		return invalid("inflates to more than %d bytes", maxInflated)
	}

	// JSON.
	w := &d.w
	*w = wireTicket{}
	if err := json.Unmarshal(d.json[:jsonLen], w); err != nil {
		return invalid("bad JSON")
	}
	if w.Version != Version {
		if w.Version == "" {
			return invalid("no TLS.ver")
		}
		return invalid("TLS.ver is %q, not %q", clip(w.Version), Version)
	}
	if w.Identifier == "" {
		return invalid("no TLS.identifier")
	}
	if t.SDKAppID, err = parseUint(w.SDKAppID); err != nil {
		return invalid("TLS.sdkappid: %v", err)
	}
	if t.Time, err = parseInt(w.Time); err != nil {
		return invalid("TLS.time: %v", err)
	}
	if t.Expire, err = parseInt(w.Expire); err != nil {
		return invalid("TLS.expire: %v", err)
	}
	if w.Sig == "" {
		return invalid("no TLS.sig")
	}
	var sig64 [64]byte // 44 bytes of base64, maybe with line breaks
	var sig [48]byte
	if len(w.Sig) > len(sig64) {
		return invalid("TLS.sig is not %d bytes of base64", len(t.sig))
	}
	n = copy(sig64[:], w.Sig)
	if n, err := base64.StdEncoding.Decode(sig[:], sig64[:n]); err != nil || n != len(t.sig) {
		return invalid("TLS.sig is not %d bytes of base64", len(t.sig))
	}
	if w.UserBuf != nil {
		if t.UserBuf, err = base64.StdEncoding.DecodeString(*w.UserBuf); err != nil {
			return invalid("TLS.userbuf is not base64")
		}
		if t.UserBuf == nil {
			t.UserBuf = []byte{}
		}
		t.userBuf64 = w.UserBuf
	}
	copy(t.sig[:], sig[:])
	t.Version = w.Version
	t.Identifier = w.Identifier
	t.decoded = true
	return nil
}

var (
	errMissing = errors.New("missing")
	errNotInt  = errors.New("not an integer")
)

// parseUint parses a JSON integer (from a JSON number or string).
func parseUint(n json.Number) (uint64, error) {
	if n == "" {
		return 0, errMissing
	}
	v, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil {
		if n == "-0" {
			return 0, nil
		}
		return 0, errNotInt
	}
	return v, nil
}

// parseInt parses a JSON integer (from a JSON number or string).
func parseInt(n json.Number) (int64, error) {
	if n == "" {
		return 0, errMissing
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, errNotInt
	}
	return v, nil
}

// sign is sign, reusing the HMAC of the last key and a content buffer.
func (d *decoder) sign(dst []byte, key, identifier string, sdkAppID uint64, tm, expire int64, userBuf64 *string) []byte {
	if d.mac == nil || d.macKey != key {
		d.mac = hmac.New(sha256.New, []byte(key))
		d.macKey = key
	} else {
		d.mac.Reset()
	}
	d.content = appendContent(d.content[:0], identifier, sdkAppID, tm, expire, userBuf64)
	d.mac.Write(d.content)
	return d.mac.Sum(dst)
}
