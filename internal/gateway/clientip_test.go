package gateway

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	g := &Gateway{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	for _, tt := range []struct {
		name, remote, xff, realIP, want string
	}{
		{"a client, straight", "203.0.113.7:5000", "", "", "203.0.113.7"},
		{"a client's headers are not believed", "203.0.113.7:5000", "1.2.3.4", "5.6.7.8", "203.0.113.7"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:5000", "", "", "203.0.113.7"},
		{"IPv6", "[2001:db8::1]:5000", "", "", "2001:db8::1"},
		{"behind a proxy", "10.0.0.2:5000", "198.51.100.4", "", "198.51.100.4"},
		{"two proxies", "10.0.0.2:5000", "198.51.100.4, 10.1.1.1", "", "198.51.100.4"},
		{"a forged hop before the client's", "10.0.0.2:5000", "1.2.3.4, 198.51.100.4", "", "198.51.100.4"},
		{"only proxies: the farthest", "10.0.0.2:5000", "10.9.9.9, 10.1.1.1", "", "10.9.9.9"},
		{"junk in the header: the proxy", "10.0.0.2:5000", "nonsense", "", "10.0.0.2"},
		{"X-Real-IP", "[fd00::1]:443", "", "198.51.100.9", "198.51.100.9"},
		{"a proxy that says nothing", "10.0.0.2:5000", "", "", "10.0.0.2"},
	} {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if tt.realIP != "" {
			r.Header.Set("X-Real-IP", tt.realIP)
		}
		if got := g.clientIP(r); got != tt.want {
			t.Errorf("%s: clientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}
