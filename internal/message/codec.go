package message

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/imkit/imkit/internal/store"
	"github.com/imkit/imkit/protocol"
)

// The send path's JSON, written by hand: a send request is decoded once
// (encoding/json scanned it twice more, for validity and to decode), the
// stored body and the reply are encoded without reflection, and a push
// inserts the body as it is (encoding/json scanned a json.RawMessage again
// to compact it). Each function gives exactly what encoding/json gives, or
// reports that it cannot and the caller uses encoding/json; the fuzz tests
// compare the two.

// decodeSend decodes a send request's payload into req when it is in the
// plain form clients send: the keys of SendRequest and Elem spelled exactly,
// each once, strings without escapes, random a plain number. It reports
// false for anything else (which encoding/json then decodes, or refuses),
// leaving req in an unspecified state.
func decodeSend(b []byte, req *protocol.SendRequest) bool {
	d := decoder{b: b}
	ok := d.object(sendKeys, func(key string) bool {
		switch key {
		case "to":
			req.To, d.ok = d.str()
		case "clientMsgID":
			req.ClientMsgID, d.ok = d.str()
		case "random":
			var n uint64
			n, d.ok = d.uint(10)
			if n > 1<<32-1 {
				return false
			}
			req.Random = uint32(n)
		case "elems":
			req.Elems = req.Elems[:0]
			d.ok = d.array(func() bool {
				req.Elems = append(req.Elems, protocol.Elem{})
				return d.elem(&req.Elems[len(req.Elems)-1])
			})
			if d.ok && req.Elems == nil {
				req.Elems = []protocol.Elem{}
			}
		}
		return d.ok
	})
	return ok && d.end()
}

// The keys of a send request and of an element, as encoding/json spells
// them.
var (
	sendKeys = []string{"to", "clientMsgID", "random", "elems"}
	elemKeys = []string{"type", "text", "data", "desc", "ext"}
)

// elem decodes one element of a send request.
func (d *decoder) elem(e *protocol.Elem) bool {
	fields := [...]*string{&e.Type, &e.Text, &e.Data, &e.Desc, &e.Ext} // as elemKeys
	return d.object(elemKeys, func(key string) bool {
		for i, k := range elemKeys {
			if k == key {
				*fields[i], d.ok = d.str()
			}
		}
		return d.ok
	})
}

// decoder reads the plain JSON decodeSend accepts.
type decoder struct {
	b  []byte
	i  int
	ok bool
}

func (d *decoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end reports whether only white space is left.
func (d *decoder) end() bool {
	d.space()
	return d.i == len(d.b)
}

// object reads an object whose keys are among keys (at most 32), each at
// most once, calling member with each key once the reader is at its value;
// member reads the value and reports whether it could.
func (d *decoder) object(keys []string, member func(key string) bool) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	var seen uint32
	for {
		d.space()
		raw, ok := d.raw()
		if !ok || !d.eat(':') {
			return false
		}
		i := slices.Index(keys, string(raw))
		if i < 0 || seen&(1<<i) != 0 {
			return false // unknown, or again
		}
		seen |= 1 << i
		d.space()
		if !member(keys[i]) {
			return false
		}
		if more, ok := d.next('}'); !ok || !more {
			return ok
		}
	}
}

// array reads an array, calling item for each element.
func (d *decoder) array(item func() bool) bool {
	if !d.eat('[') {
		return false
	}
	if d.eat(']') {
		return true
	}
	for {
		d.space()
		if !item() {
			return false
		}
		if more, ok := d.next(']'); !ok || !more {
			return ok
		}
	}
}

// eat skips white space and then c, reporting whether c was there.
func (d *decoder) eat(c byte) bool {
	d.space()
	if d.i >= len(d.b) || d.b[d.i] != c {
		return false
	}
	d.i++
	return true
}

// next reads what follows a member or element: a comma (more follow) or
// end, which closes the object or array.
func (d *decoder) next(end byte) (more, ok bool) {
	if d.eat(',') {
		return true, true
	}
	return false, d.eat(end)
}

// raw reads a string without escapes, of valid UTF-8 and no control
// characters, and returns its bytes.
func (d *decoder) raw() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (d *decoder) str() (string, bool) {
	s, ok := d.raw()
	return string(s), ok
}

// uint reads a number of at most digits digits, without sign, fraction or
// exponent.
func (d *decoder) uint(digits int) (uint64, bool) {
	var n uint64
	j := d.i
	for ; j < len(d.b) && d.b[j] >= '0' && d.b[j] <= '9'; j++ {
		n = n*10 + uint64(d.b[j]-'0')
	}
	if k := j - d.i; k == 0 || k > digits || k > 1 && d.b[d.i] == '0' {
		return 0, false
	}
	if j < len(d.b) && (d.b[j] == '.' || d.b[j] == 'e' || d.b[j] == 'E') {
		return 0, false
	}
	d.i = j
	return n, true
}

// appendElems appends elems as json.Marshal encodes them: the body of a
// stored message.
func appendElems(dst []byte, elems []protocol.Elem) []byte {
	if elems == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range elems {
		e := &elems[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":`...)
		dst = protocol.AppendString(dst, e.Type)
		if e.Text != "" {
			dst = append(dst, `,"text":`...)
			dst = protocol.AppendString(dst, e.Text)
		}
		if e.Data != "" {
			dst = append(dst, `,"data":`...)
			dst = protocol.AppendString(dst, e.Data)
		}
		if e.Desc != "" {
			dst = append(dst, `,"desc":`...)
			dst = protocol.AppendString(dst, e.Desc)
		}
		if e.Ext != "" {
			dst = append(dst, `,"ext":`...)
			dst = protocol.AppendString(dst, e.Ext)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// sendReply encodes the reply to a send as json.Marshal encodes a
// protocol.SendReply.
func sendReply(m *store.Message) json.RawMessage {
	b := make([]byte, 0, 64+len(m.ID))
	b = append(b, `{"msgID":`...)
	b = protocol.AppendString(b, m.ID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, m.FromSeq, 10)
	b = append(b, `,"convSeq":`...)
	b = strconv.AppendUint(b, m.ConvSeq, 10)
	b = append(b, `,"time":`...)
	b = strconv.AppendInt(b, m.Time, 10)
	if m.Dup {
		b = append(b, `,"dup":true`...)
	}
	return append(b, '}')
}

// appendPush appends the push of m with seq, the frame
// protocol.AppendPush(dst, protocol.PushMsg, wire(m, seq)) gives. The body
// is inserted as it is: it is always appendElems' output (see validate),
// compact and escaped as encoding/json would make it.
func appendPush(dst []byte, m *store.Message, seq uint64) []byte {
	if dst == nil {
		dst = make([]byte, 0, 160+len(m.ID)+len(m.ClientMsgID)+len(m.From)+len(m.To)+len(m.Body))
	}
	dst = append(dst, `{"op":"msg","data":{"msgID":`...)
	dst = protocol.AppendString(dst, m.ID)
	dst = append(dst, `,"clientMsgID":`...)
	dst = protocol.AppendString(dst, m.ClientMsgID)
	dst = append(dst, `,"from":`...)
	dst = protocol.AppendString(dst, m.From)
	dst = append(dst, `,"to":`...)
	dst = protocol.AppendString(dst, m.To)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"convSeq":`...)
	dst = strconv.AppendUint(dst, m.ConvSeq, 10)
	dst = append(dst, `,"time":`...)
	dst = strconv.AppendInt(dst, m.Time, 10)
	if m.Random != 0 {
		dst = append(dst, `,"random":`...)
		dst = strconv.AppendUint(dst, uint64(m.Random), 10)
	}
	dst = append(dst, `,"elems":`...)
	if m.Body == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, m.Body...)
	}
	return append(dst, "}}"...)
}
