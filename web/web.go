// Package web holds imkit's browser SDK, @imkit/chat: the TypeScript
// sources and npm package in web/sdk, and the bundle built from them (an ES
// module and its type declarations), embedded here so that `imkit serve`
// serves it at /sdk/imkit-chat.js and /sdk/imkit-chat.d.ts.
//
// The bundle is generated with the Go toolchain alone (esbuild's Go API) and
// committed; `go generate ./web` rebuilds it after a change to the sources or
// to package protocol, and a test fails when the committed files are stale.
package web

//go:generate go run ./internal/gen sdk

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed sdk/dist/imkit-chat.js sdk/dist/imkit-chat.d.ts
var dist embed.FS

// Files returns the bundle's files: imkit-chat.js and imkit-chat.d.ts.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "sdk/dist")
	if err != nil {
		panic(err)
	}
	return sub
}

// Path is the HTTP path prefix the SDK is served under.
const Path = "/sdk/"

// Handler serves the bundle under Path. Pages on any origin may load it (it
// holds no secret), so it answers with Access-Control-Allow-Origin: *, as ES
// modules from another origin need.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.StripPrefix(strings.TrimSuffix(Path, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		if strings.HasSuffix(r.URL.Path, ".d.ts") {
			h.Set("Content-Type", "application/typescript; charset=utf-8")
		} else if strings.HasSuffix(r.URL.Path, ".js") {
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		}
		files.ServeHTTP(w, r)
	}))
}
