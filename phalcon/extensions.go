package phalcon

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/phpsrc"
)

// Extension is a function or filter the app adds to Volt's compiler in its
// PHP. Volt compiles a call to it with its definition (a PHP callable's
// name, or a closure returning PHP code), so the precompiler must have the
// same definition: without it a filter fails to compile and a function
// compiles to a macro call.
type Extension struct {
	Kind string `json:"kind"` // "function" or "filter"
	Name string `json:"name"`
	// Code is PHP that adds it to $compiler: the definition as the app
	// wrote it, in its namespace with the file's imports.
	Code string `json:"code"`
	At   string `json:"at"`
}

// scanExtensions finds addFunction and addFilter calls on a Volt compiler
// whose definition can run at build time: a string (a PHP function or
// static method name) or a closure that uses neither $this nor variables
// of its surroundings. Others get a warning naming FILE:LINE.
func scanExtensions(dir string, files []string) ([]Extension, []string, error) {
	var exts []Extension
	var warnings []string
	for _, rel := range files {
		if !strings.HasSuffix(rel, ".php") {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if fi, err := os.Lstat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, badinput.New(p, "reading: %v", badinput.PathCause(err))
		}
		if !bytes.Contains(src, []byte("addFunction")) && !bytes.Contains(src, []byte("addFilter")) && !bytes.Contains(src, []byte("addExtension")) {
			continue
		}
		f, err := phpsrc.Parse(src)
		if err != nil {
			continue // PHP would not run it either
		}
		e, w := extensionsIn(f, src, rel)
		exts = append(exts, e...)
		warnings = append(warnings, w...)
	}
	// The first definition of a name wins, as in the engine that registers
	// them in that order; a different one elsewhere is worth saying.
	var out []Extension
	for _, e := range exts {
		i := slices.IndexFunc(out, func(o Extension) bool { return o.Kind == e.Kind && o.Name == e.Name })
		if i < 0 {
			out = append(out, e)
		} else if out[i].Code != e.Code {
			warnings = append(warnings, fmt.Sprintf("%s defines the Volt %s %s again, differently from %s; precompiling with the first", e.At, e.Kind, e.Name, out[i].At))
		}
	}
	return out, warnings, nil
}

func extensionsIn(f *phpsrc.File, src []byte, rel string) ([]Extension, []string) {
	var exts []Extension
	var warnings []string
	code := f.Code
	for i := 1; i+2 < len(code); i++ {
		if !code[i].Is("->") && !code[i].Is("?->") {
			continue
		}
		method := code[i+1]
		kind := ""
		switch {
		case method.Is("addFunction"):
			kind = "function"
		case method.Is("addFilter"):
			kind = "filter"
		case method.Is("addExtension"):
			kind = "extension"
		default:
			continue
		}
		if !code[i+2].Is("(") || !onCompiler(f, i) {
			continue
		}
		at := fmt.Sprintf("%s:%d", rel, method.Line)
		open, end := i+2, f.Match(i+2)
		if end < 0 {
			continue
		}
		if kind == "extension" {
			warnings = append(warnings, fmt.Sprintf("%s: addExtension() adds Volt functions phpbuild cannot see; register the extension in a [volt] bootstrap file too, so templates precompile as they run", at))
			continue
		}
		comma := nextComma(f, open+1, end)
		if comma < 0 || comma != open+2 || code[open+1].Kind != phpsrc.String || !code[open+1].Literal {
			continue // the name is not a literal; nothing to precompile with
		}
		name := code[open+1].Value
		last := end
		if code[end-1].Is(",") {
			last = end - 1
		}
		if last <= comma+1 {
			continue
		}
		def := strings.TrimSpace(string(src[code[comma+1].Offset:code[last].Offset]))
		if why := unrunnable(f, comma+1, last); why != "" {
			warnings = append(warnings, fmt.Sprintf("%s: the Volt %s %s is defined by %s, which phpbuild cannot run at build time; add it in a [volt] bootstrap file so templates precompile as they run", at, kind, name, why))
			continue
		}
		ns := f.NamespaceAt(i)
		var b strings.Builder
		fmt.Fprintf(&b, "namespace %s {\n", ns.Name)
		for _, alias := range sortedKeys(ns.Uses) {
			fmt.Fprintf(&b, "    use %s as %s;\n", ns.Uses[alias], alias)
		}
		call := "addFunction"
		if kind == "filter" {
			call = "addFilter"
		}
		fmt.Fprintf(&b, "    // %s\n    $compiler->%s(%s, %s);\n}\n", at, call, phpString(name), def)
		exts = append(exts, Extension{Kind: kind, Name: name, Code: b.String(), At: at})
	}
	return exts, warnings
}

// onCompiler reports whether the call at arrow i is on a Volt compiler:
// a variable named like one, or getCompiler()'s result.
func onCompiler(f *phpsrc.File, i int) bool {
	prev := f.Code[i-1]
	if prev.Kind == phpsrc.Variable {
		v := strings.ToLower(prev.Value)
		return strings.Contains(v, "compiler") || strings.Contains(v, "volt")
	}
	if prev.Is(")") {
		if o := f.Match(i - 1); o > 0 && f.Code[o-1].Is("getCompiler") {
			return true
		}
	}
	return false
}

// nextComma is the first "," at the call's own depth in [from, end).
func nextComma(f *phpsrc.File, from, end int) int {
	for j := from; j < end; j++ {
		t := f.Code[j]
		if t.Is(",") {
			return j
		}
		if t.Is("(") || t.Is("[") || t.Is("{") {
			if m := f.Match(j); m > j {
				j = m
			}
		}
	}
	return -1
}

// unrunnable says why the definition in [from, to) cannot run outside the
// app, or "" when it can: a string, or a closure that needs nothing from
// where it was written.
func unrunnable(f *phpsrc.File, from, to int) string {
	t := f.Code[from]
	if t.Kind == phpsrc.String && t.Literal && to == from+1 {
		return ""
	}
	start := from
	if t.Is("static") {
		start++
	}
	if start >= to || !(f.Code[start].Is("function") || f.Code[start].Is("fn")) {
		return "an expression (not a string or a closure)"
	}
	for j := start; j < to; j++ {
		switch c := f.Code[j]; {
		case c.Kind == phpsrc.Variable && c.Value == "this":
			return "a closure that uses $this"
		case c.Is("use") && j > start && f.Code[j-1].Is(")"):
			return "a closure that uses variables of its surroundings"
		case f.Code[start].Is("fn") && c.Kind == phpsrc.Variable && !f.IsParam(j) && !paramOf(f, start, to, c.Value):
			return "an arrow function that uses variables of its surroundings"
		}
	}
	return ""
}

// paramOf reports whether name is a parameter of the function at start.
func paramOf(f *phpsrc.File, start, to int, name string) bool {
	for _, fn := range f.Funcs {
		if fn.At == start {
			return slices.ContainsFunc(fn.Params, func(p phpsrc.Param) bool { return p.Name == name })
		}
	}
	return false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// phpString quotes s as a single-quoted PHP string.
func phpString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
