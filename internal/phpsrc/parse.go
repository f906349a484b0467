package phpsrc

import (
	"slices"
	"strings"
)

// File is PHP source read for its declarations: the tokens that are code,
// its namespaces with their imports, its classes and functions. Expressions
// are parsed on demand (Expr, Postfix).
type File struct {
	// Code is the tokens of PHP code: no comments, inline HTML or open
	// tags. A CloseTag stays, as it ends a statement; so does OpenTagEcho.
	Code       []Token
	Namespaces []Namespace // in source order; the first may be the global one
	Classes    []Class     // classes, interfaces, traits, enums, in source order
	Funcs      []Func      // functions, methods, closures and arrow functions

	match     []int        // the partner of each bracket; -1 when none
	funcAt    []int32      // the innermost Func whose body holds each token
	classAt   []int32      // the innermost Class whose body holds each token
	funcByTok map[int]int  // "function"/"fn" token → Funcs index
	classTok  map[int]int  // "class" of an anonymous class → Classes index
	params    map[int]bool // Variables that are parameters, not statements
	nsStarts  []int        // Namespaces[i].Start, for search
}

// Namespace is a namespace block or statement and its class imports.
type Namespace struct {
	Name  string            // "" for the global namespace
	Start int               // index in Code of its first token
	Uses  map[string]string // lower-case alias → imported class, fully qualified
}

// Class is a class-like declaration.
type Class struct {
	Kind       string   // "class", "interface", "trait" or "enum"
	Name       string   // fully qualified, no leading "\"; "" for an anonymous class
	Extends    []string // resolved; a class has at most one
	Implements []string // resolved
	At         int      // index in Code of the keyword
	Open       int      // index in Code of the body's "{"
	Close      int      // index in Code of the body's "}"
	Props      []Property
}

// Property is a property declared in a class body.
type Property struct {
	Name    string // without "$"
	Type    string // resolved class or lower-case builtin; "" when none or not a single type
	Default int    // index in Code of its default expression; -1 when none
}

// Func is a function, method, closure or arrow function.
type Func struct {
	Name    string // the name as declared; "" for closures and arrow functions
	Class   int    // Classes index of the class it is a method of; -1 otherwise
	Parent  int    // Funcs index of the function whose body holds it; -1 at file level
	Closure bool   // a closure or arrow function
	Static  bool   // a static closure, which has no $this
	Params  []Param
	At      int // index in Code of "function" or "fn"
	Open    int // index in Code of the body's "{" (an arrow function's "=>"); -1 when abstract
	Close   int // index in Code of the body's "}"; -1 when abstract or an arrow function
}

// Param is a function parameter.
type Param struct {
	Name string // without "$"
	Type string // resolved class or lower-case builtin; "" when none or not a single type
	At   int    // index in Code of the variable
}

// Parse lexes src and reads its declarations. Like Lex it always returns a
// File; the error says the source ends inside a string.
func Parse(src []byte) (*File, error) {
	toks, err := Lex(src)
	return ParseTokens(toks), err
}

// ParseTokens reads the declarations of tokens Lex returned, for a caller
// that needs the tokens too.
func ParseTokens(toks []Token) *File {
	f := &File{funcByTok: map[int]int{}, classTok: map[int]int{}, params: map[int]bool{}, Code: make([]Token, 0, len(toks))}
	for _, t := range toks {
		switch t.Kind {
		case InlineHTML, OpenTag, Comment, DocComment:
			continue
		}
		f.Code = append(f.Code, t)
	}
	f.matchBrackets()
	f.declarations()
	return f
}

// Match returns the index of the bracket that closes or opens the one at
// i, or -1 when i is not a bracket or has no partner.
func (f *File) Match(i int) int {
	if i < 0 || i >= len(f.match) {
		return -1
	}
	return f.match[i]
}

// FuncAt returns the Funcs index of the innermost function body holding
// token i, or -1 at file or class level. Arrow functions have no body.
func (f *File) FuncAt(i int) int {
	if i < 0 || i >= len(f.funcAt) {
		return -1
	}
	return int(f.funcAt[i])
}

// ClassAt returns the Classes index of the innermost class body holding
// token i, or -1.
func (f *File) ClassAt(i int) int {
	if i < 0 || i >= len(f.classAt) {
		return -1
	}
	return int(f.classAt[i])
}

// IsParam reports whether token i is a parameter's variable.
func (f *File) IsParam(i int) bool { return f.params[i] }

// NamespaceAt returns the namespace in force at token i.
func (f *File) NamespaceAt(i int) Namespace {
	n, _ := slices.BinarySearch(f.nsStarts, i+1)
	if n == 0 {
		return Namespace{}
	}
	return f.Namespaces[n-1]
}

// ResolveClass returns the fully qualified name, without leading "\", of
// the class name n as written at token i, following PHP's rules: imports,
// then the current namespace. self, static and parent stay as they are.
func (f *File) ResolveClass(n string, i int) string {
	if strings.HasPrefix(n, `\`) {
		return n[1:]
	}
	lower := strings.ToLower(n)
	if builtinTypes[lower] {
		return lower
	}
	ns := f.NamespaceAt(i)
	if strings.HasPrefix(lower, `namespace\`) {
		return qualify(ns.Name, n[len(`namespace\`):])
	}
	first, rest, more := strings.Cut(n, `\`)
	if full, ok := ns.Uses[strings.ToLower(first)]; ok {
		if more {
			return full + `\` + rest
		}
		return full
	}
	return qualify(ns.Name, n)
}

// ResolveName returns the fully qualified name of a function or constant
// n written at token i, and the global name PHP falls back to when the
// namespaced one is not defined ("" when there is no fallback).
func (f *File) ResolveName(n string, i int) (name, global string) {
	if strings.HasPrefix(n, `\`) {
		return n[1:], ""
	}
	ns := f.NamespaceAt(i)
	if strings.HasPrefix(strings.ToLower(n), `namespace\`) {
		return qualify(ns.Name, n[len(`namespace\`):]), ""
	}
	if strings.Contains(n, `\`) {
		first, rest, _ := strings.Cut(n, `\`)
		if full, ok := ns.Uses[strings.ToLower(first)]; ok {
			return full + `\` + rest, ""
		}
		return qualify(ns.Name, n), ""
	}
	if ns.Name == "" {
		return n, ""
	}
	return qualify(ns.Name, n), n
}

func qualify(ns, n string) string {
	if ns == "" {
		return n
	}
	return ns + `\` + n
}

// builtinTypes are the type names that are never classes.
var builtinTypes = map[string]bool{
	"int": true, "float": true, "string": true, "bool": true, "array": true,
	"callable": true, "iterable": true, "object": true, "mixed": true,
	"void": true, "null": true, "never": true, "false": true, "true": true,
	"self": true, "static": true, "parent": true,
}

func (f *File) matchBrackets() {
	f.match = make([]int, len(f.Code))
	var stack []int
	for i, t := range f.Code {
		f.match[i] = -1
		if t.Kind != Punct {
			continue
		}
		switch t.Text {
		case "(", "[", "{", "#[":
			stack = append(stack, i)
		case ")", "]", "}":
			open := map[string]string{")": "(", "]": "[", "}": "{"}[t.Text]
			// An unbalanced closer pairs with the nearest opener of its
			// kind, leaving the openers above it without partners.
			for j := len(stack) - 1; j >= 0; j-- {
				o := f.Code[stack[j]].Text
				if o == open || (o == "#[" && open == "[") {
					f.match[stack[j]], f.match[i] = i, stack[j]
					stack = stack[:j]
					break
				}
			}
		}
	}
}

// end returns the partner of the opener at i, or the last token when it
// has none, so a body never reaches past the file.
func (f *File) end(i int) int {
	if m := f.Match(i); m > i {
		return m
	}
	return len(f.Code) - 1
}

func (f *File) tok(i int) Token {
	if i < 0 || i >= len(f.Code) {
		return Token{}
	}
	return f.Code[i]
}

// body is a class or function body waiting to be entered.
type body struct {
	open, close int
	fn, class   int32
}

// declarations finds namespaces, imports, classes and functions in one
// pass, keeping a stack of the bodies the current token is in.
func (f *File) declarations() {
	f.funcAt = make([]int32, len(f.Code))
	f.classAt = make([]int32, len(f.Code))
	var stack, pending []body
	cur := body{fn: -1, class: -1}
	paramsEnd := -1
	for i := 0; i < len(f.Code); i++ {
		for len(stack) > 0 && i > stack[len(stack)-1].close {
			stack = stack[:len(stack)-1]
		}
		for len(pending) > 0 && pending[0].open <= i {
			b := pending[0]
			pending = pending[1:]
			if b.close < i {
				continue
			}
			if b.class < 0 && len(stack) > 0 {
				// A function body is in the class its code sees as $this.
				b.class = stack[len(stack)-1].class
			}
			stack = append(stack, b)
		}
		cur = body{fn: -1, class: -1}
		if len(stack) > 0 {
			cur = stack[len(stack)-1]
		}
		f.funcAt[i], f.classAt[i] = cur.fn, cur.class
		t := f.Code[i]
		prev := f.tok(i - 1)
		if prev.Kind == Punct && (prev.Text == "->" || prev.Text == "?->" || prev.Text == "::") {
			continue
		}
		inClassBody := len(stack) > 0 && cur.fn < 0
		if t.Kind == Variable && inClassBody && i > paramsEnd {
			f.property(i, int(cur.class))
			continue
		}
		if t.Kind != Name {
			continue
		}
		switch strings.ToLower(t.Text) {
		case "namespace":
			f.namespace(i)
		case "use":
			if len(stack) == 0 {
				f.imports(i)
			}
		case "class", "interface", "trait", "enum":
			if b, ok := f.class(i); ok {
				pending = insertBody(pending, b)
			}
		case "function", "fn":
			class := -1
			if inClassBody {
				class = int(cur.class)
			}
			if b, pe, ok := f.function(i, int(cur.fn), class); ok {
				paramsEnd = max(paramsEnd, pe)
				if b.open >= 0 {
					pending = insertBody(pending, b)
				}
			}
		}
	}
}

// insertBody keeps pending bodies sorted by where they open: an anonymous
// class's arguments may hold a closure whose body opens first.
func insertBody(pending []body, b body) []body {
	i := len(pending)
	for i > 0 && pending[i-1].open > b.open {
		i--
	}
	return slices.Insert(pending, i, b)
}

func (f *File) namespace(i int) {
	next := f.tok(i + 1)
	name := ""
	switch {
	case next.Kind == Name:
		name = next.Text
	case next.Kind == Punct && next.Text == "{":
	default:
		return // namespace\Foo is one Name token; anything else is not a declaration
	}
	f.Namespaces = append(f.Namespaces, Namespace{Name: name, Start: i, Uses: map[string]string{}})
	f.nsStarts = append(f.nsStarts, i)
}

// imports reads "use A\B [as C], …;" and "use A\{B, C as D};" at file
// level, keeping class imports only.
func (f *File) imports(i int) {
	if len(f.Namespaces) == 0 {
		f.Namespaces = append(f.Namespaces, Namespace{Start: 0, Uses: map[string]string{}})
		f.nsStarts = append(f.nsStarts, 0)
	}
	uses := f.Namespaces[len(f.Namespaces)-1].Uses
	j := i + 1
	kind := ""
	if t := f.tok(j); t.Is("function") || t.Is("const") {
		kind = strings.ToLower(t.Text)
		j++
	}
	prefix := ""
	for j < len(f.Code) {
		t := f.tok(j)
		if t.Kind == Punct && t.Text == "(" {
			return // a closure's use list
		}
		if t.Kind != Name {
			return
		}
		name := strings.TrimPrefix(t.Text, `\`)
		j++
		if n := f.tok(j); n.Kind == Punct && n.Text == `\` && f.tok(j+1).Text == "{" {
			// use A\{B, C}: the group's names are relative to A.
			prefix = name + `\`
			j += 2
			continue
		}
		itemKind := kind
		if (name == "function" || name == "const") && f.tok(j).Kind == Name {
			itemKind, name = name, strings.TrimPrefix(f.tok(j).Text, `\`)
			j++
		}
		alias := name[strings.LastIndex(name, `\`)+1:]
		if f.tok(j).Is("as") && f.tok(j+1).Kind == Name {
			alias = f.tok(j + 1).Text
			j += 2
		}
		if itemKind == "" {
			uses[strings.ToLower(alias)] = prefix + name
		}
		switch t := f.tok(j); {
		case t.Kind == Punct && t.Text == ",":
			j++
		case t.Kind == Punct && t.Text == "}":
			prefix = ""
			j++
			if n := f.tok(j); n.Kind == Punct && n.Text == "," {
				j++
			}
		default:
			return
		}
	}
}

func (f *File) class(i int) (body, bool) {
	t := f.Code[i]
	kind := strings.ToLower(t.Text)
	c := Class{Kind: kind, At: i}
	j := i + 1
	anon := kind == "class" && f.tok(i-1).Is("new")
	if anon {
		if n := f.tok(j); n.Kind == Punct && n.Text == "(" {
			j = f.end(j) + 1
		}
	} else {
		n := f.tok(j)
		if n.Kind != Name || strings.Contains(n.Text, `\`) {
			return body{}, false
		}
		if kind == "enum" {
			// enum is a keyword only before "Name {", "Name :" or
			// "Name implements".
			a := f.tok(j + 1)
			if !(a.Kind == Punct && (a.Text == "{" || a.Text == ":")) && !a.Is("implements") {
				return body{}, false
			}
		}
		c.Name = qualify(f.NamespaceAt(i).Name, n.Text)
		j++
	}
	var list *[]string
	for ; j < len(f.Code); j++ {
		n := f.Code[j]
		switch {
		case n.Is("extends"):
			list = &c.Extends
		case n.Is("implements"):
			list = &c.Implements
		case n.Kind == Punct && n.Text == ":" && kind == "enum":
			list = nil
			j++ // the backing type
		case n.Kind == Name && list != nil:
			*list = append(*list, f.ResolveClass(n.Text, j))
		case n.Kind == Punct && n.Text == ",":
		case n.Kind == Punct && n.Text == "{":
			c.Open, c.Close = j, f.end(j)
			f.Classes = append(f.Classes, c)
			idx := len(f.Classes) - 1
			if anon {
				f.classTok[i] = idx
			}
			return body{open: c.Open, close: c.Close, fn: -1, class: int32(idx)}, true
		default:
			return body{}, false
		}
	}
	return body{}, false
}

// function reads a function header at i. It returns the body to enter
// (open -1 for none) and the index of the last token of the header's
// parameter and use lists.
func (f *File) function(i, parent, class int) (body, int, bool) {
	arrow := f.Code[i].Is("fn")
	fn := Func{Class: class, Parent: parent, At: i, Open: -1, Close: -1}
	fn.Static = f.tok(i - 1).Is("static")
	j := i + 1
	if t := f.tok(j); t.Kind == Punct && t.Text == "&" {
		j++
	}
	if t := f.tok(j); t.Kind == Name && !arrow {
		fn.Name = t.Text
		j++
	} else {
		fn.Closure = true
		fn.Class = -1
	}
	if t := f.tok(j); t.Kind != Punct || t.Text != "(" {
		return body{}, 0, false
	}
	close := f.end(j)
	fn.Params = f.paramList(j, close)
	headerEnd := close
	j = close + 1
	if f.tok(j).Is("use") && f.tok(j+1).Text == "(" {
		j = f.end(j+1) + 1
		headerEnd = j - 1
	}
	if t := f.tok(j); t.Kind == Punct && t.Text == ":" {
		// A return type: names, ?, |, & and the parentheses of DNF types.
		for j++; j < len(f.Code); j++ {
			t := f.Code[j]
			if t.Kind == Name || (t.Kind == Punct && strings.Contains("?|&()", t.Text) && len(t.Text) == 1) {
				continue
			}
			break
		}
	}
	idx := len(f.Funcs)
	b := body{open: -1, fn: int32(idx), class: -1}
	switch t := f.tok(j); {
	case arrow && t.Kind == Punct && t.Text == "=>":
		fn.Open = j
	case !arrow && t.Kind == Punct && t.Text == "{":
		fn.Open, fn.Close = j, f.end(j)
		b.open, b.close = fn.Open, fn.Close
	case !arrow && fn.Name != "" && t.Kind == Punct && t.Text == ";":
	default:
		return body{}, 0, false
	}
	f.Funcs = append(f.Funcs, fn)
	f.funcByTok[i] = idx
	for _, p := range fn.Params {
		f.params[p.At] = true
	}
	return b, headerEnd, true
}

// paramList reads the parameters between the parentheses at open and close.
func (f *File) paramList(open, close int) []Param {
	var params []Param
	var typ []Token
	typeAt := 0
	for j := open + 1; j < close && j < len(f.Code); j++ {
		t := f.Code[j]
		switch {
		case t.Kind == Punct && (t.Text == "#[" || t.Text == "(" || t.Text == "["):
			if t.Text == "(" && len(typ) > 0 {
				typ = append(typ, t) // DNF type
				continue
			}
			j = max(j, f.Match(j))
		case t.Kind == Punct && t.Text == ",":
			typ = typ[:0]
		case t.Kind == Variable:
			p := Param{Name: t.Value, At: j}
			if len(typ) == 1 && typ[0].Kind == Name {
				p.Type = f.ResolveClass(typ[0].Text, typeAt)
			}
			params = append(params, p)
			typ = typ[:0]
			// Skip the default value up to the next parameter.
			for j+1 < close && f.Code[j+1].Text != "," {
				j++
				if m := f.Match(j); m > j {
					j = m
				}
			}
		case t.Kind == Name && isModifier(t.Text):
		case t.Kind == Punct && (t.Text == "?" || t.Text == "&" || t.Text == "..."):
			// ?T is T for our purpose; & and ... mark the variable.
		default:
			if len(typ) == 0 {
				typeAt = j
			}
			typ = append(typ, t)
		}
	}
	return params
}

func isModifier(s string) bool {
	switch strings.ToLower(s) {
	case "public", "protected", "private", "static", "var", "readonly", "abstract", "final":
		return true
	}
	return false
}

// property records a property declared at the variable at i in class c's
// body: "[modifiers] [?Type] $name [= default]".
func (f *File) property(i, c int) {
	if c < 0 || c >= len(f.Classes) {
		return
	}
	p := Property{Name: f.Code[i].Value, Default: -1}
	switch prev := f.tok(i - 1); {
	case prev.Kind == Name && !isModifier(prev.Text):
		if b := f.tok(i - 2); !(b.Kind == Punct && (b.Text == "|" || b.Text == "&" || b.Text == ")")) {
			p.Type = f.ResolveClass(prev.Text, i-1)
		}
	case prev.Kind == Punct && (prev.Text == ";" || prev.Text == "{" || prev.Text == ","):
	case prev.Kind == Name:
	default:
		return // not a declaration, e.g. inside an attribute
	}
	if n := f.tok(i + 1); n.Kind == Punct && n.Text == "=" {
		p.Default = i + 2
	}
	f.Classes[c].Props = append(f.Classes[c].Props, p)
}
