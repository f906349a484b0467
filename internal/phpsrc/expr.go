package phpsrc

import "strings"

// Expr is a parsed PHP expression. The parser models what readers of an
// app's wiring need (names, calls, arrays, strings, concatenation) and
// keeps everything else as Bad, skipped whole, so it never fails.
type Expr interface {
	Start() int // index in Code of the expression's first token
}

type node struct{ start int }

func (n node) Start() int { return n.start }

type (
	// Lit is a String or Number token.
	Lit struct {
		node
		Tok Token
	}
	// ConstFetch is a bare name: a constant, true, false, null or a magic
	// constant such as __DIR__, as written.
	ConstFetch struct {
		node
		Name string
	}
	// Var is a variable; Name is "" for $$x and ${…}.
	Var struct {
		node
		Name string
	}
	// Array is [ … ] or array( … ).
	Array struct {
		node
		Items []Item
	}
	// Call calls a function by name (Func, as written) or an expression.
	Call struct {
		node
		Func   string
		Callee Expr // when Func is ""
		Args   []Arg
	}
	// New is new X(…). Class is as written; "" when computed. Anon is the
	// Classes index of an anonymous class, -1 otherwise.
	New struct {
		node
		Class string
		Anon  int
		Args  []Arg
	}
	// PropFetch is X->name or X?->name; Name is "" when computed.
	PropFetch struct {
		node
		X        Expr
		Name     string
		NullSafe bool
	}
	// MethodCall is X->name(…); Name is "" when computed. NameAt is the
	// index in Code of the method name.
	MethodCall struct {
		node
		X        Expr
		Name     string
		NameAt   int
		Args     []Arg
		NullSafe bool
	}
	// StaticCall is Class::name(…), Class as written ("" when computed).
	StaticCall struct {
		node
		Class string
		Name  string
		Args  []Arg
	}
	// ClassConst is Class::NAME, including Class::class.
	ClassConst struct {
		node
		Class string
		Name  string
	}
	// Index is X[Index]; Index is nil for X[].
	Index struct {
		node
		X, Index Expr
	}
	// Binary is X Op Y; word operators (and, or, xor, instanceof) are lower case.
	Binary struct {
		node
		Op   string
		X, Y Expr
	}
	// Ternary is Cond ? Then : Else; Then is nil for Cond ?: Else.
	Ternary struct {
		node
		Cond, Then, Else Expr
	}
	// Unary is a prefix operator (!, -, +, ~, @, ++, --, clone, print,
	// throw, yield), a cast ("(int)"), or a postfix "post++"/"post--".
	Unary struct {
		node
		Op string
		X  Expr
	}
	// Include is include, include_once, require or require_once.
	Include struct {
		node
		Kind string
		Path Expr
	}
	// Assign is X Op Y for = and the compound assignments.
	Assign struct {
		node
		Op   string
		X, Y Expr
	}
	// Closure is a closure or arrow function: Funcs[Func]. Arrow is an
	// arrow function's expression.
	Closure struct {
		node
		Func  int
		Arrow Expr
	}
	// Bad is what the parser does not model (match, list(), static
	// properties, …), from Start up to End (exclusive).
	Bad struct {
		node
		End int
	}
)

// Item is an array element.
type Item struct {
	Key    Expr // nil when none
	Value  Expr
	At     int // index in Code of the element's first token
	Spread bool
	ByRef  bool
}

// Arg is a call argument.
type Arg struct {
	Name   string // a named argument's name
	Value  Expr   // nil for the first-class callable syntax f(...)
	Spread bool
}

// maxDepth bounds nesting, so hostile input cannot exhaust the stack.
const maxDepth = 200

// Expr parses the expression that starts at token i, assignments
// included, and returns it with the index of the first token after it.
func (f *File) Expr(i int) (Expr, int) {
	p := &parser{f: f, pos: i, lim: len(f.Code)}
	e := p.expr()
	return e, p.pos
}

// Postfix parses the operand that starts at token i: a variable, name,
// literal, new, array or parenthesized expression with its ->, ?->, ::,
// [] and () suffixes, but no operator or assignment after them.
func (f *File) Postfix(i int) (Expr, int) {
	p := &parser{f: f, pos: i, lim: len(f.Code)}
	e := p.primary()
	return e, p.pos
}

type parser struct {
	f        *File
	pos, lim int
	depth    int
}

func (p *parser) peek() Token {
	if p.pos >= p.lim || p.pos < 0 {
		return Token{}
	}
	return p.f.Code[p.pos]
}

func (p *parser) isPunct(s string) bool {
	t := p.peek()
	return t.Kind == Punct && t.Text == s
}

// sub parses inside the bracket at p.pos with parse, then moves past its
// partner.
func (p *parser) sub(parse func(q *parser)) {
	open := p.pos
	close := p.f.Match(open)
	q := &parser{f: p.f, pos: open + 1, lim: close, depth: p.depth}
	if close < open {
		q.lim = p.lim
	}
	parse(q)
	p.pos = q.pos
	if close > open {
		p.pos = close + 1
	}
}

// skip moves past the token at p.pos, or past the group it opens.
func (p *parser) skip() {
	if p.pos >= p.lim {
		return
	}
	if m := p.f.Match(p.pos); m > p.pos {
		p.pos = m + 1
		return
	}
	p.pos++
}

func (p *parser) bad(start int) *Bad { return &Bad{node{start}, p.pos} }

func (p *parser) expr() Expr { return p.binary(1) }

// Binary precedence, lowest first, as PHP 8 has it; assignment (4) is
// parsed with its target.
var binPrec = map[string]int{
	"or": 1, "xor": 2, "and": 3,
	"?": 5, "??": 6, "||": 7, "&&": 8, "|": 9, "^": 10, "&": 11,
	"==": 12, "!=": 12, "===": 12, "!==": 12, "<>": 12, "<=>": 12,
	"<": 13, "<=": 13, ">": 13, ">=": 13,
	".": 14, "<<": 15, ">>": 15, "+": 16, "-": 16, "*": 17, "/": 17, "%": 17,
	"instanceof": 18, "**": 20,
}

func opOf(t Token) string {
	switch t.Kind {
	case Punct:
		return t.Text
	case Name:
		return strings.ToLower(t.Text)
	}
	return ""
}

func (p *parser) binary(min int) Expr {
	start := p.pos
	x := p.unary()
	for {
		op := opOf(p.peek())
		prec, ok := binPrec[op]
		if !ok || prec < min {
			return x
		}
		p.pos++
		switch op {
		case "?":
			if p.isPunct(":") {
				p.pos++
				x = &Ternary{node{start}, x, nil, p.binary(prec + 1)}
				continue
			}
			then := p.expr()
			if p.isPunct(":") {
				p.pos++
			}
			x = &Ternary{node{start}, x, then, p.binary(prec + 1)}
		case "??", "**":
			x = &Binary{node{start}, op, x, p.binary(prec)}
		default:
			x = &Binary{node{start}, op, x, p.binary(prec + 1)}
		}
	}
}

var assignOps = map[string]bool{
	"=": true, "+=": true, "-=": true, "*=": true, "/=": true, ".=": true, "%=": true,
	"**=": true, "&=": true, "|=": true, "^=": true, "<<=": true, ">>=": true, "??=": true,
}

// IsAssignOp reports whether t is = or a compound assignment.
func IsAssignOp(t Token) bool { return t.Kind == Punct && assignOps[t.Text] }

func (p *parser) unary() Expr {
	start := p.pos
	if p.depth > maxDepth {
		p.skip()
		return p.bad(start)
	}
	p.depth++
	defer func() { p.depth-- }()
	t := p.peek()
	switch t.Kind {
	case Cast:
		p.pos++
		return &Unary{node{start}, "(" + t.Value + ")", p.binary(20)}
	case Punct:
		switch t.Text {
		case "!":
			p.pos++
			return &Unary{node{start}, "!", p.binary(18)}
		case "-", "+", "~", "@":
			p.pos++
			return &Unary{node{start}, t.Text, p.binary(20)}
		case "++", "--":
			p.pos++
			return &Unary{node{start}, t.Text, p.unary()}
		case "&":
			p.pos++
			return p.unary()
		case "#[":
			p.skip()
			return p.unary()
		}
	case Name:
		switch strings.ToLower(t.Text) {
		case "clone":
			p.pos++
			return &Unary{node{start}, "clone", p.binary(20)}
		case "print":
			p.pos++
			return &Unary{node{start}, "print", p.binary(4)}
		case "throw":
			p.pos++
			return &Unary{node{start}, "throw", p.expr()}
		case "yield":
			p.pos++
			if p.peek().Is("from") {
				p.pos++
			}
			if p.terminator() {
				return &Unary{node{start}, "yield", nil}
			}
			return &Unary{node{start}, "yield", p.binary(4)}
		case "include", "include_once", "require", "require_once":
			p.pos++
			return &Include{node{start}, strings.ToLower(t.Text), p.expr()}
		}
	}
	x := p.primary()
	if t := p.peek(); IsAssignOp(t) {
		p.pos++
		return &Assign{node{start}, t.Text, x, p.binary(4)}
	}
	return x
}

// terminator reports whether the next token ends an expression.
func (p *parser) terminator() bool {
	t := p.peek()
	switch t.Kind {
	case 0, CloseTag:
		return true
	case Punct:
		switch t.Text {
		case ")", "]", "}", "{", ",", ";", "=>", ":":
			return true
		}
	}
	return false
}

func (p *parser) primary() Expr {
	start := p.pos
	if p.depth > maxDepth+8 {
		p.skip()
		return p.bad(start)
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.terminator() {
		return p.bad(start)
	}
	t := p.peek()
	var x Expr
	switch t.Kind {
	case Variable:
		p.pos++
		x = &Var{node{start}, t.Value}
	case String, Number:
		p.pos++
		x = &Lit{node{start}, t}
	case Name:
		x = p.name()
	case Punct:
		switch t.Text {
		case "$":
			// $$x, $$$x and ${expr}: a variable whose name is computed;
			// suffixes apply to it, as in PHP 7+ ($$a->b is ($$a)->b).
			for p.isPunct("$") {
				p.pos++
			}
			switch {
			case p.isPunct("{"):
				p.skip()
			case p.peek().Kind == Variable:
				p.pos++
			}
			x = &Var{node{start}, ""}
		case "(":
			var inner Expr
			p.sub(func(q *parser) { inner = q.expr() })
			x = inner
		case "[":
			x = p.array("[")
		case "&":
			p.pos++
			return p.primary()
		default:
			p.pos++
			return p.bad(start)
		}
	default:
		p.pos++
		return p.bad(start)
	}
	if x == nil {
		return p.bad(start)
	}
	return p.postfix(start, x)
}

func (p *parser) name() Expr {
	start := p.pos
	t := p.peek()
	lower := strings.ToLower(t.Text)
	next := p.f.tok(p.pos + 1)
	nextIs := func(s string) bool { return p.pos+1 < p.lim && next.Kind == Punct && next.Text == s }
	switch lower {
	case "new":
		return p.newExpr()
	case "function", "fn":
		return p.closure()
	case "static":
		if next.Is("function") || next.Is("fn") {
			p.pos++
			c := p.closure()
			if c, ok := c.(*Closure); ok {
				c.start = start
			}
			return c
		}
	case "array", "list":
		if nextIs("(") {
			p.pos++
			if lower == "list" {
				p.skip()
				return p.bad(start)
			}
			return p.array("(")
		}
	case "match":
		if nextIs("(") {
			p.pos++
			p.skip()
			if p.isPunct("{") {
				p.skip()
			}
			return p.bad(start)
		}
	}
	p.pos++
	return &ConstFetch{node{start}, t.Text}
}

func (p *parser) newExpr() Expr {
	start := p.pos
	p.pos++
	n := &New{node: node{start}, Anon: -1}
	t := p.peek()
	switch {
	case t.Is("class"):
		idx, ok := p.f.classTok[p.pos]
		if !ok {
			p.pos++
			return p.bad(start)
		}
		n.Anon = idx
		n.Class = "class"
		if p.f.tok(p.pos+1).Text == "(" {
			p.pos++
			n.Args = p.args()
		}
		p.pos = p.f.Classes[idx].Close + 1
		return n
	case t.Kind == Name:
		n.Class = t.Text
		p.pos++
	case t.Kind == Variable:
		// new $class, new $this->class: the class is computed.
		p.pos++
		for p.isPunct("->") || p.isPunct("::") || p.isPunct("?->") {
			p.pos++
			if n := p.peek(); n.Kind == Name || n.Kind == Variable {
				p.pos++
			}
		}
		for p.isPunct("[") {
			p.skip()
		}
	case t.Kind == Punct && t.Text == "(":
		p.skip()
	default:
		return p.bad(start)
	}
	if p.isPunct("(") {
		n.Args = p.args()
	}
	return n
}

func (p *parser) closure() Expr {
	start := p.pos
	idx, ok := p.f.funcByTok[p.pos]
	if !ok {
		p.pos++
		return p.bad(start)
	}
	fn := p.f.Funcs[idx]
	c := &Closure{node: node{start}, Func: idx}
	if fn.Close >= 0 {
		p.pos = fn.Close + 1
		return c
	}
	if fn.Open >= 0 { // an arrow function: its body is an expression
		p.pos = fn.Open + 1
		c.Arrow = p.binary(4)
		return c
	}
	p.pos++
	return p.bad(start)
}

func (p *parser) postfix(start int, x Expr) Expr {
	for {
		t := p.peek()
		if t.Kind != Punct {
			return x
		}
		switch t.Text {
		case "[":
			var idx Expr
			p.sub(func(q *parser) {
				if !q.terminator() {
					idx = q.expr()
				}
			})
			x = &Index{node{start}, x, idx}
		case "->", "?->":
			p.pos++
			n := p.peek()
			name, nameAt := "", p.pos
			switch {
			case n.Kind == Name:
				name = n.Text
				p.pos++
			case n.Kind == Variable:
				p.pos++
			case n.Kind == Punct && n.Text == "{":
				p.skip()
			default:
				return x
			}
			if p.isPunct("(") {
				x = &MethodCall{node{start}, x, name, nameAt, p.args(), t.Text == "?->"}
			} else {
				x = &PropFetch{node{start}, x, name, t.Text == "?->"}
			}
		case "::":
			class := ""
			if c, ok := x.(*ConstFetch); ok {
				class = c.Name
			}
			p.pos++
			n := p.peek()
			switch {
			case n.Kind == Name:
				p.pos++
				if p.isPunct("(") {
					x = &StaticCall{node{start}, class, n.Text, p.args()}
				} else {
					x = &ClassConst{node{start}, class, n.Text}
				}
			case n.Kind == Variable:
				// A static property: not modelled.
				p.pos++
				x = p.bad(start)
			case n.Kind == Punct && n.Text == "{":
				p.skip()
				x = p.bad(start)
			default:
				return x
			}
		case "(":
			args := p.args()
			if c, ok := x.(*ConstFetch); ok {
				x = &Call{node{start}, c.Name, nil, args}
			} else {
				x = &Call{node{start}, "", x, args}
			}
		case "++", "--":
			p.pos++
			x = &Unary{node{start}, "post" + t.Text, x}
		default:
			return x
		}
	}
}

// args reads the argument list whose "(" is at p.pos.
func (p *parser) args() []Arg {
	var args []Arg
	p.sub(func(q *parser) {
		for q.pos < q.lim {
			if q.isPunct(",") {
				q.pos++
				continue
			}
			if q.isPunct("...") && q.f.tok(q.pos+1).Text == ")" && q.pos+1 == q.lim {
				q.pos++
				args = append(args, Arg{Spread: true})
				continue
			}
			var a Arg
			if n := q.peek(); n.Kind == Name && q.pos+1 < q.lim {
				if c := q.f.tok(q.pos + 1); c.Kind == Punct && c.Text == ":" {
					a.Name = n.Text
					q.pos += 2
				}
			}
			if q.isPunct("...") {
				a.Spread = true
				q.pos++
			}
			before := q.pos
			a.Value = q.expr()
			args = append(args, a)
			if q.pos == before {
				q.skip()
			}
		}
	})
	return args
}

// array reads an array literal whose opening bracket is at p.pos.
func (p *parser) array(open string) Expr {
	start := p.pos
	if open == "(" {
		start-- // the "array" keyword
	}
	a := &Array{node: node{start}}
	p.sub(func(q *parser) {
		for q.pos < q.lim {
			if q.isPunct(",") {
				q.pos++
				continue
			}
			it := Item{At: q.pos}
			if q.isPunct("...") {
				it.Spread = true
				q.pos++
			}
			if q.isPunct("&") {
				it.ByRef = true
				q.pos++
			}
			before := q.pos
			v := q.expr()
			if q.isPunct("=>") {
				q.pos++
				it.Key = v
				if q.isPunct("&") {
					it.ByRef = true
					q.pos++
				}
				v = q.expr()
			}
			it.Value = v
			a.Items = append(a.Items, it)
			if q.pos == before {
				q.skip()
			}
		}
	})
	return a
}
