package archcheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The engine (node/) is an assembly of parts: the table, the coordinator,
// the shard home, the replica side, delivery. Each owns its state and is
// given its dependencies as values. These tests hold it to that:
//
//   - no type but Node has a field of type Node or *Node (no part keeps a
//     back-pointer to the assembly), and no function but Node's methods
//     and the engine's constructor takes one;
//   - no method reaches through a field into the fields of another
//     stateful type of the package (one with a lock or a channel): a part
//     is used through its methods, never by editing its maps or taking
//     its locks.

const enginePkg = "../../node"

type structInfo struct {
	fields   map[string]ast.Expr // field name → type (embedded fields promoted)
	stateful bool                // has a mutex, a WaitGroup or a channel
}

func parseEngine(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(enginePkg)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(enginePkg, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", enginePkg)
	}
	return fset, files
}

// typeName is the name of a local type behind t (T, *T), or "".
func typeName(t ast.Expr) string {
	switch x := t.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return typeName(x.X)
	}
	return ""
}

func isStateful(t ast.Expr) bool {
	switch x := t.(type) {
	case *ast.ChanType:
		return true
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok && id.Name == "sync" {
			return x.Sel.Name == "Mutex" || x.Sel.Name == "RWMutex" || x.Sel.Name == "WaitGroup"
		}
	}
	return false
}

func structs(files []*ast.File) map[string]*structInfo {
	raw := map[string]*ast.StructType{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					raw[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	out := map[string]*structInfo{}
	var build func(name string, seen map[string]bool) *structInfo
	build = func(name string, seen map[string]bool) *structInfo {
		if si, ok := out[name]; ok {
			return si
		}
		st := raw[name]
		si := &structInfo{fields: map[string]ast.Expr{}}
		if st == nil || seen[name] {
			return si
		}
		seen[name] = true
		for _, fl := range st.Fields.List {
			if isStateful(fl.Type) {
				si.stateful = true
			}
			if len(fl.Names) == 0 { // embedded: promote its fields
				inner := build(typeName(fl.Type), seen)
				for k, v := range inner.fields {
					si.fields[k] = v
				}
				si.fields[typeName(fl.Type)] = fl.Type
				continue
			}
			for _, n := range fl.Names {
				si.fields[n.Name] = fl.Type
			}
		}
		out[name] = si
		return si
	}
	for name := range raw {
		build(name, map[string]bool{})
	}
	return out
}

func TestNoPartHoldsTheNode(t *testing.T) {
	fset, files := parseEngine(t)
	var bad []string
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.TypeSpec:
				st, ok := x.Type.(*ast.StructType)
				if !ok || x.Name.Name == "Node" {
					return true
				}
				for _, fl := range st.Fields.List {
					if typeName(fl.Type) == "Node" {
						bad = append(bad, fset.Position(fl.Pos()).String()+": "+x.Name.Name+" holds a Node")
					}
				}
			case *ast.FuncDecl:
				recvNode := x.Recv != nil && typeName(x.Recv.List[0].Type) == "Node"
				if recvNode || x.Name.Name == "New" && x.Recv == nil {
					return true
				}
				for _, p := range x.Type.Params.List {
					if typeName(p.Type) == "Node" {
						bad = append(bad, fset.Position(p.Pos()).String()+": "+x.Name.Name+" takes a Node")
					}
				}
			}
			return true
		})
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

func TestNoPartReachesIntoAnother(t *testing.T) {
	fset, files := parseEngine(t)
	types := structs(files)
	var bad []string
	for _, f := range files {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List[0].Names) == 0 || fn.Body == nil {
				continue
			}
			recv := fn.Recv.List[0].Names[0].Name
			self := types[typeName(fn.Recv.List[0].Type)]
			if self == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				outer, ok := n.(*ast.SelectorExpr) // recv.field.inner
				if !ok {
					return true
				}
				mid, ok := outer.X.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := mid.X.(*ast.Ident)
				if !ok || id.Name != recv {
					return true
				}
				ft, ok := self.fields[mid.Sel.Name]
				if !ok {
					return true
				}
				other := types[typeName(ft)]
				if other == nil || !other.stateful || other == self {
					return true
				}
				if _, isField := other.fields[outer.Sel.Name]; isField {
					bad = append(bad, fset.Position(outer.Pos()).String()+": "+recv+"."+mid.Sel.Name+"."+outer.Sel.Name+
						" reaches into a field of "+typeName(ft))
				}
				return true
			})
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}
