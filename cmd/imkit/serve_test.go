package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/imkit/imkit/internal/server"
	"github.com/imkit/imkit/web"
)

// imkit serve serves the browser SDK embedded in the binary, and says where.
func TestServeBrowserSDK(t *testing.T) {
	var banner bytes.Buffer
	m := &Main{DataDir: t.TempDir(), Config: server.Config{Addr: "127.0.0.1:0"}, Out: &banner}
	if err := m.Run(t.Context()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	defer m.Close()
	base := "http://" + m.Server.Addr()
	if !strings.Contains(banner.String(), "browser SDK:     "+base+"/sdk/imkit-chat.js") {
		t.Errorf("banner %q does not name the browser SDK", banner.String())
	}
	for _, name := range []string{"imkit-chat.js", "imkit-chat.d.ts"} {
		want, err := io.ReadAll(must(web.Files().Open(name)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(base + "/sdk/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			t.Errorf("GET /sdk/%s: %s, %d bytes; want 200 and the embedded %d bytes", name, resp.Status, len(got), len(want))
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
