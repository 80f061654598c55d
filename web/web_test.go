package web_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imkit/imkit/web"
	"github.com/imkit/imkit/web/internal/bundle"
)

// The committed generated files (the TypeScript wire types, the bundle and
// its declarations) are what the sources and package protocol make now.
func TestGeneratedFilesCurrent(t *testing.T) {
	files, err := bundle.Build("sdk")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join("sdk", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("web/sdk/%s is stale: run go generate ./web and commit it", name)
		}
	}
	// And the binary embeds the committed bundle.
	embedded, err := io.ReadAll(must(web.Files().Open("imkit-chat.js")))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embedded, files[bundle.JSFile]) {
		t.Error("the embedded bundle differs from the built one")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, status, ctype string
	}{
		{"/sdk/imkit-chat.js", "200 OK", "text/javascript; charset=utf-8"},
		{"/sdk/imkit-chat.d.ts", "200 OK", "application/typescript; charset=utf-8"},
		{"/sdk/", "404 Not Found", ""},
		{"/sdk/nope.js", "404 Not Found", ""},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Status != tc.status {
			t.Errorf("GET %s: %s, want %s", tc.path, resp.Status, tc.status)
			continue
		}
		if tc.ctype == "" {
			continue
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", tc.path, got)
		}
		if !strings.Contains(string(body), "IMKitChat") && !strings.HasSuffix(tc.path, ".js") {
			t.Errorf("GET %s: no IMKitChat in the body", tc.path)
		}
	}
}

// BenchmarkBundleSize reports the bundle's size, minified and gzipped (the
// goal is at most 20 KB).
func BenchmarkBundleSize(b *testing.B) {
	js, err := io.ReadAll(must(web.Files().Open("imkit-chat.js")))
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(js)
		zw.Close()
		n = buf.Len()
	}
	b.ReportMetric(float64(len(js)), "min-bytes")
	b.ReportMetric(float64(n), "gzip-bytes")
}

// The version the SDK sends at login is the package's.
func TestVersionMatchesPackage(t *testing.T) {
	pkg, err := os.ReadFile("sdk/package.json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Version string }
	if err := json.Unmarshal(pkg, &p); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("sdk/src/session.ts")
	if err != nil {
		t.Fatal(err)
	}
	if want := `export const sdkVersion = "` + p.Version + `";`; !strings.Contains(string(src), want) {
		t.Errorf("src/session.ts lacks %s (package.json's version)", want)
	}
}
