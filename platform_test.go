package imkit_test

import (
	"encoding/json"
	"testing"

	"github.com/imkit/imkit"
)

// Every text MarshalText writes reads back, Unknown included: a kick by an
// admin carries PlatformUnknown between nodes.
func TestPlatformTextRoundTrip(t *testing.T) {
	for n := range 256 {
		p := imkit.Platform(n)
		b, err := p.MarshalText()
		if err != nil {
			t.Fatalf("Platform(%d).MarshalText: %v", n, err)
		}
		var got imkit.Platform
		if err := got.UnmarshalText(b); err != nil {
			t.Fatalf("UnmarshalText(%q) of Platform(%d): %v", b, n, err)
		}
		want := p
		if !p.Valid() {
			want = imkit.PlatformUnknown // every other value is written "Unknown"
		}
		if got != want {
			t.Errorf("Platform(%d) -> %q -> %d, want %d", n, b, got, want)
		}
	}
}

// In JSON too, as a value and as a map key.
func TestPlatformJSONRoundTrip(t *testing.T) {
	type kick struct {
		Platform imkit.Platform
		Max      map[imkit.Platform]int
	}
	in := kick{Platform: imkit.PlatformUnknown, Max: map[imkit.Platform]int{imkit.PlatformUnknown: 1, imkit.PlatformWeb: 3}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out kick
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if out.Platform != in.Platform || len(out.Max) != 2 || out.Max[imkit.PlatformWeb] != 3 || out.Max[imkit.PlatformUnknown] != 1 {
		t.Fatalf("%s came back as %+v", b, out)
	}
}

// People's input still names a known platform: ParsePlatform refuses
// "Unknown".
func TestParsePlatformRefusesUnknown(t *testing.T) {
	for _, s := range []string{"Unknown", "unknown", "0", "", "Symbian"} {
		if p, err := imkit.ParsePlatform(s); err == nil {
			t.Errorf("ParsePlatform(%q) = %v, want an error", s, p)
		}
	}
}
