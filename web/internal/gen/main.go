// Command gen writes the browser SDK's generated files: web/sdk/src/protocol.ts
// from package protocol, and the bundle web/sdk/dist/imkit-chat.js with its
// declarations imkit-chat.d.ts, which package web embeds. Run it with
// `go generate ./web`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/imkit/imkit/web/internal/bundle"
)

func main() {
	dir := "sdk"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	files, err := bundle.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
