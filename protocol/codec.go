package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/imkit/imkit"
)

// DecodeFrame parses one frame. It returns an *imkit.Error with code
// ErrInvalidJSON for anything that is not a frame: oversized input, invalid
// JSON or UTF-8, a value that is not an object, an op name that is too long,
// an id out of range, a frame with neither op nor id.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if len(b) > MaxFrameSize {
		return f, imkit.Errorf(imkit.ErrInvalidJSON, "frame is %d bytes, more than %d", len(b), MaxFrameSize)
	}
	if sf, ok := decodeSimple(b); ok {
		f = sf
	} else {
		if !utf8.Valid(b) {
			return f, imkit.Errorf(imkit.ErrInvalidJSON, "frame is not valid UTF-8")
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return Frame{}, imkit.Errorf(imkit.ErrInvalidJSON, "frame is not a JSON object of the frame format: %v", err)
		}
	}
	switch {
	case len(f.Op) > MaxOpLen:
		return Frame{}, imkit.Errorf(imkit.ErrInvalidJSON, "op is %d bytes, more than %d", len(f.Op), MaxOpLen)
	case f.ID > MaxID:
		return Frame{}, imkit.Errorf(imkit.ErrInvalidJSON, "id %d is more than 2^53-1", f.ID)
	case f.ID == 0 && f.Op == "":
		return Frame{}, imkit.Errorf(imkit.ErrInvalidJSON, "frame has neither id nor op")
	}
	return f, nil
}

// DecodeData unmarshals a frame's payload into v. An absent payload leaves v
// as it is. A payload of the wrong shape is an *imkit.Error with code
// ErrInvalidParameters.
func DecodeData(data json.RawMessage, v any) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return imkit.Errorf(imkit.ErrInvalidParameters, "bad payload: %v", err)
	}
	return nil
}

// AppendRequest appends the encoding of a request frame to dst.
func AppendRequest(dst []byte, id uint64, op string, data any) ([]byte, error) {
	return appendFrame(dst, id, op, imkit.OK, "", data)
}

// AppendReply appends the encoding of a reply frame to dst. A nil data
// leaves the payload out.
func AppendReply(dst []byte, id uint64, code imkit.Code, msg string, data any) ([]byte, error) {
	return appendFrame(dst, id, "", code, msg, data)
}

// AppendPush appends the encoding of a push frame to dst.
func AppendPush(dst []byte, op string, data any) ([]byte, error) {
	return appendFrame(dst, 0, op, imkit.OK, "", data)
}

// AppendError appends a reply for id (or, with id 0, a PushError) carrying
// the code and message of err.
func AppendError(dst []byte, id uint64, err error) []byte {
	op := ""
	if id == 0 {
		op = PushError
	}
	b, _ := appendFrame(dst, id, op, imkit.ErrorCode(err), imkit.ErrorMessage(err), nil)
	return b
}

// appendFrame writes the frame by hand: it avoids marshalling the payload
// twice (once as a value, once again as json.RawMessage inside Frame).
func appendFrame(dst []byte, id uint64, op string, code imkit.Code, msg string, data any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	sep := false
	if id != 0 {
		dst = append(dst, `"id":`...)
		dst = strconv.AppendUint(dst, id, 10)
		sep = true
	}
	if op != "" {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"op":`...)
		dst = AppendString(dst, op)
		sep = true
	}
	if code != imkit.OK {
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"code":`...)
		dst = strconv.AppendInt(dst, int64(code), 10)
		if msg != "" {
			dst = append(dst, `,"msg":`...)
			dst = AppendString(dst, msg)
		}
		sep = true
	}
	if data != nil {
		var raw []byte
		switch d := data.(type) {
		case json.RawMessage:
			raw = d
		default:
			var err error
			if raw, err = json.Marshal(data); err != nil {
				return dst[:start], fmt.Errorf("protocol: encode %T: %w", data, err)
			}
		}
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"data":`...)
		dst = append(dst, raw...)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as encoding/json encodes a string (with HTML
// escaping, as json.Marshal does), without reflection: the frames' and
// hand-written payloads' strings.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeSimple parses, without encoding/json, the frames that carry an id,
// an op and a payload: {"id":7,"op":"ping"} or {"id":7,"op":"send","data":
// {...}}, the keys in any order, each once, with JSON white space, the op of
// ASCII letters, digits, '.' and '_', the payload any JSON value of valid
// UTF-8 nested at most maxSimpleDepth deep. Those are the heartbeats, the
// frames an idle connection reads (decoding them with encoding/json grows
// every idle connection's stack), and the requests: encoding/json scanned a
// request twice (to validate, then to decode). It reports false for any
// other input, which then takes the general path (a fuzz test checks the two
// agree).
func decodeSimple(b []byte) (Frame, bool) {
	var f Frame
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return f, false
	}
	seen := 0
	for {
		i = skipSpace(b, i+1)
		key, j, ok := simpleString(b, i)
		if !ok {
			return f, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return f, false
		}
		i = skipSpace(b, i+1)
		switch key {
		case "id":
			if seen&1 != 0 {
				return f, false
			}
			seen |= 1
			n, j := 0, i
			var id uint64
			for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
				id = id*10 + uint64(b[j]-'0')
				n++
			}
			if n == 0 || n > 16 || n > 1 && b[i] == '0' {
				return f, false
			}
			f.ID, i = id, j
		case "op":
			if seen&2 != 0 {
				return f, false
			}
			seen |= 2
			op, j, ok := simpleString(b, i)
			if !ok {
				return f, false
			}
			f.Op, i = op, j
		case "data":
			if seen&4 != 0 {
				return f, false
			}
			seen |= 4
			j, ok := skipValue(b, i, 0)
			if !ok || !utf8.Valid(b[i:j]) {
				return f, false
			}
			// A copy, as json.RawMessage makes: b may be a reused buffer.
			f.Data, i = append(json.RawMessage(nil), b[i:j]...), j
		default:
			return f, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return f, false
		}
		if b[i] == '}' {
			if skipSpace(b, i+1) != len(b) {
				return f, false
			}
			return f, true
		}
		if b[i] != ',' {
			return f, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// simpleString reads a JSON string at b[i] made only of ASCII letters,
// digits, '.' and '_', and returns it and the index after it.
func simpleString(b []byte, i int) (string, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return "", i, false
	}
	j := i + 1
	for ; j < len(b) && b[j] != '"'; j++ {
		c := b[j]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return "", i, false
		}
	}
	if j >= len(b) {
		return "", i, false
	}
	return string(b[i+1 : j]), j + 1, true
}

// maxSimpleDepth bounds the nesting of the payloads decodeSimple reads.
const maxSimpleDepth = 32

// skipValue returns the index after the JSON value at b[i], and whether
// there is a valid one (by the grammar of RFC 8259, as encoding/json
// checks it; UTF-8 is the caller's).
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		if depth >= maxSimpleDepth {
			return i, false
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == end {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i, ok = skipString(b, i); !ok {
					return i, false
				}
				i = skipSpace(b, i)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipSpace(b, i+1)
			}
			if i, ok = skipValue(b, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = skipSpace(b, i+1)
			case end:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		return skipString(b, i)
	case c == '-' || c >= '0' && c <= '9':
		return skipNumber(b, i)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	}
	return i, false
}

func skipLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// skipString returns the index after the JSON string at b[i].
func skipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// skipNumber returns the index after the JSON number at b[i].
func skipNumber(b []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else {
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	if i < len(b) && b[i] == '.' {
		var ok bool
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		var ok bool
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}
