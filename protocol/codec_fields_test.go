package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// The hand-written frame codec (appendFrame, decodeSimple) against
// encoding/json, field by field of Frame, found by reflection: a field
// added to Frame that the hand-written encoder does not write, or that the
// fast decoder takes and loses, fails here rather than being dropped
// silently on the wire.
func TestFrameCodecKeepsEveryField(t *testing.T) {
	typ := reflect.TypeFor[Frame]()
	var all Frame
	for i := range typ.NumField() {
		fillField(t, reflect.ValueOf(&all).Elem().Field(i), typ.Field(i), i)
	}

	// Encoding: every field set, the hand-written encoder writes what
	// encoding/json writes.
	want, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendFrame(nil, all.ID, all.Op, all.Code, all.Msg, all.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("appendFrame wrote\n%s\nencoding/json writes\n%s\n(a field of Frame is not written by hand)", got, want)
	}

	// Decoding: every field set, and each field alone (beside an id, which
	// every frame has), decode as encoding/json decodes them, through
	// DecodeFrame and through the fast path whenever it takes the frame.
	frames := []Frame{all}
	for i := range typ.NumField() {
		f := Frame{ID: 1}
		fillField(t, reflect.ValueOf(&f).Elem().Field(i), typ.Field(i), i)
		frames = append(frames, f)
	}
	for _, f := range frames {
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		var std Frame
		if err := json.Unmarshal(b, &std); err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeFrame(b)
		if err != nil {
			t.Fatalf("DecodeFrame(%s): %v", b, err)
		}
		if !reflect.DeepEqual(dec, std) {
			t.Errorf("DecodeFrame(%s) = %+v, encoding/json decodes %+v", b, dec, std)
		}
		if fast, ok := decodeSimple(b); ok && !reflect.DeepEqual(fast, std) {
			t.Errorf("decodeSimple(%s) = %+v, encoding/json decodes %+v", b, fast, std)
		}
	}
}

// fillField sets v, field sf of Frame, to a value that is not zero and
// tells the fields apart (n is the field's index).
func fillField(t *testing.T, v reflect.Value, sf reflect.StructField, n int) {
	t.Helper()
	switch v.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(40 + n))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(6000 + n))
	case reflect.String:
		v.SetString("f" + string(rune('a'+n)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"k":[1,"x"]}`))
			return
		}
		t.Fatalf("Frame.%s: a slice of %s; teach fillField a value for it", sf.Name, v.Type().Elem())
	default:
		t.Fatalf("Frame.%s: kind %s; teach fillField a value for it", sf.Name, v.Kind())
	}
}
