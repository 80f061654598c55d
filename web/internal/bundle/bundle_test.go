package bundle

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every exported struct of package protocol has its TypeScript interface:
// a new wire type cannot be left out of the browser SDK's types.
func TestWireTypesComplete(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, "../../../protocol", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want, wantOps, wantPushes []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.IsExported() {
					if _, ok := ts.Type.(*ast.StructType); ok {
						want = append(want, ts.Name.Name)
					}
				}
				if vs, ok := n.(*ast.ValueSpec); ok {
					for _, id := range vs.Names {
						if name, ok := strings.CutPrefix(id.Name, "Op"); ok {
							wantOps = append(wantOps, name)
						}
						if name, ok := strings.CutPrefix(id.Name, "Push"); ok {
							wantPushes = append(wantPushes, name)
						}
					}
				}
				return true
			})
		}
	}
	var got []string
	for _, v := range WireTypes {
		got = append(got, reflect.TypeOf(v).Name())
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("WireTypes = %v\nprotocol's exported structs = %v", got, want)
	}
	names := func(cs []constant) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.name)
		}
		slices.Sort(out)
		return out
	}
	slices.Sort(wantOps)
	slices.Sort(wantPushes)
	if got := names(ops); !slices.Equal(got, wantOps) {
		t.Errorf("ops = %v\nprotocol's Op constants = %v", got, wantOps)
	}
	if got := names(pushes); !slices.Equal(got, wantPushes) {
		t.Errorf("pushes = %v\nprotocol's Push constants = %v", got, wantPushes)
	}
}

func TestProtocolTS(t *testing.T) {
	ts := string(ProtocolTS())
	for _, want := range []string{
		"export interface LoginRequest {\n  sdkAppID: number;\n  userID: string;\n  userSig: string;\n  platform: Platform;\n  instanceID: string;\n  sessionID?: string;\n  sdkVersion?: string;\n}",
		"  lastMessage?: Message;\n",
		"  msgs: Message[] | null;\n",
		"  data?: unknown;\n",
		`export type Platform = | "Android" | "iPhone" | "iPad" | "Windows" | "Mac" | "Linux" | "Web";`,
		"  Kicked: 4100,\n",
		"  SvrUserSigMismatchKey: 70009,\n",
	} {
		if !strings.Contains(ts, want) {
			t.Errorf("protocol.ts lacks %q", want)
		}
	}
}
