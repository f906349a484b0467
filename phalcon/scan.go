package phalcon

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/phpsrc"
)

// Scanned is what an app's PHP tells Phalcon at run time, as far as
// reading the source without running it can say.
type Scanned struct {
	// Container is how the web app makes its DI: "FactoryDefault" when it
	// instantiates Phalcon\Di\FactoryDefault (not the Cli one), "Di" when
	// it only instantiates Phalcon\Di\Di or Phalcon\Di, "" when neither was
	// seen. ContainerAt is "FILE:LINE".
	Container   string `json:"container"`
	ContainerAt string `json:"containerAt,omitempty"`
	// Services are the service names the app registers, sorted by name,
	// each once (where first found).
	Services []Found `json:"services"`
	// Options are the Volt options set with a value read from the source,
	// in source order; a key set twice (two view services) is here twice.
	Options []Option `json:"options"`
	// Unread are the Volt options set with an expression phpbuild cannot
	// evaluate. Name is the normalized key, or "" when the whole options
	// array could not be read.
	Unread []Found `json:"unread"`
}

// Found is a name and where the source sets it.
type Found struct {
	Name string `json:"name"`
	At   string `json:"at"` // "FILE:LINE", FILE app-relative
}

// Option is a Volt option and the value the source gives it.
type Option struct {
	// Key is normalized: "path", "separator", "extension", "prefix",
	// "stat" or "always" (Phalcon 3's compiledPath, compiledSeparator,
	// compiledExtension and compileAlways included).
	Key string `json:"key"`
	// Value is a string for path, separator, extension and prefix, a bool
	// for stat and always. A path is where it is in the image: a relative
	// one joined to the front controller's dir, as php-fpm resolves it,
	// and not cleaned, as Phalcon uses the string as it is.
	Value any    `json:"value"`
	At    string `json:"at"`
	// AssumesUnset names the environment variables whose defaults the
	// value took (getenv('X') ?: default, $_ENV['X'] ?? default): it holds
	// only when they are unset at run time.
	AssumesUnset []string `json:"assumesUnset,omitempty"`
}

// Scan reads the app's PHP files (files: app-relative, slash-separated
// paths; only those ending in .php are read; dir: the app root on disk)
// and reports what the app tells Phalcon at run time. appPath is where the
// app lives in the image ("/app"), webRoot the app-relative web root
// ("public"); both evaluate paths as PHP would at run time.
//
// A file PHP could not parse (a string running to its end) is skipped, so
// a scan never stops a build; the error is for a file that cannot be read.
func Scan(dir string, files []string, appPath, webRoot string) (*Scanned, error) {
	s := &scanner{
		appPath:  strings.TrimSuffix(appPath, "/"),
		webRoot:  strings.Trim(webRoot, "/"),
		byPath:   map[string]*phpFile{},
		consts:   map[string][]constDef{},
		constMem: map[string]*memo{},
		classes:  map[string]classRef{},
		valueSvc: map[string][]closureRef{},
		services: map[string]Found{},
		svcMem:   map[string]*memo{},
		propMem:  map[propKey]*memo{},
		out:      &Scanned{Services: []Found{}, Options: []Option{}, Unread: []Found{}},
	}
	var php []string
	for _, f := range files {
		if strings.HasSuffix(f, ".php") {
			php = append(php, f)
		}
	}
	slices.Sort(php)
	for _, rel := range php {
		src, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, &badinput.Error{File: rel, Err: fmt.Errorf("reading: %w", badinput.PathCause(err))}
		}
		f, err := phpsrc.Parse(src)
		if err != nil {
			continue
		}
		pf := &phpFile{rel: rel, f: f, assigns: map[string][]*assign{}, diBound: map[int]bool{}}
		s.files = append(s.files, pf)
		s.byPath[rel] = pf
	}
	for _, pf := range s.files {
		s.index(pf)
	}
	s.orderConstants()
	for _, pf := range s.files {
		s.walk(pf, s.findServices)
	}
	// Values read while finding services may have missed services and
	// closure bindings found later; read them again with all of them known.
	s.forget()
	for _, pf := range s.files {
		s.walk(pf, s.findOptions)
	}
	for _, f := range s.services {
		s.out.Services = append(s.out.Services, f)
	}
	slices.SortFunc(s.out.Services, func(a, b Found) int { return strings.Compare(a.Name, b.Name) })
	return s.out, nil
}

// forget drops every memoized value.
func (s *scanner) forget() {
	for _, pf := range s.files {
		pf.retMem = memo{}
		for _, list := range pf.assigns {
			for _, a := range list {
				a.mem = memo{}
			}
		}
	}
	s.config = memo{}
	clear(s.constMem)
	clear(s.svcMem)
	clear(s.propMem)
	s.steps = 0
}

type scanner struct {
	appPath, webRoot string
	files            []*phpFile
	byPath           map[string]*phpFile
	consts           map[string][]constDef // fully qualified name → definitions, preferred first
	constMem         map[string]*memo
	classes          map[string]classRef     // lower-case fully qualified name → declaration
	valueSvc         map[string][]closureRef // service → closures registered for it
	services         map[string]Found
	config           memo
	svcMem           map[string]*memo
	propMem          map[propKey]*memo
	depth, steps     int
	out              *Scanned
}

type propKey struct {
	class classRef
	name  string
}

type phpFile struct {
	rel     string
	f       *phpsrc.File
	assigns map[string][]*assign // variable → assignments, in source order
	rets    []phpsrc.Expr        // the returns at file level, in source order
	retMem  memo
	diBound map[int]bool // Funcs indexes of closures Phalcon binds to the DI
}

// assign is "$name = rhs" or a typed parameter.
type assign struct {
	at, end int // the variable's token; the first token after the statement
	scope   int // Funcs index of the body it is in; -1 at file level
	rhs     phpsrc.Expr
	typ     string // a parameter's type
	mem     memo
}

type constDef struct {
	pf   *phpFile
	expr phpsrc.Expr
}

type classRef struct {
	pf  *phpFile
	idx int
}

type closureRef struct {
	pf *phpFile
	fn int
}

// memo holds a value being or already evaluated; evaluating it again while
// in progress (a cycle) gives unknown.
type memo struct {
	state int // 0 not yet, 1 in progress, 2 done
	v     value
}

func (m *memo) get(eval func() value) value {
	switch m.state {
	case 1:
		return value{}
	case 2:
		return m.v
	}
	m.state = 1
	m.v = eval()
	m.state = 2
	return m.v
}

// index records what later reads look up: assignments, typed parameters,
// constants, classes and the file's return value.
func (s *scanner) index(pf *phpFile) {
	f := pf.f
	for i, t := range f.Code {
		if member(f, i) {
			continue
		}
		switch {
		case t.Kind == phpsrc.Variable && !f.IsParam(i) && !(f.ClassAt(i) >= 0 && f.FuncAt(i) < 0):
			x, j := f.Postfix(i)
			v, ok := x.(*phpsrc.Var)
			if n := tokAt(f, j); !ok || v.Name == "" || n.Kind != phpsrc.Punct || n.Text != "=" {
				continue
			}
			rhs, end := f.Expr(j + 1)
			pf.assigns[v.Name] = append(pf.assigns[v.Name], &assign{at: i, end: end, scope: f.FuncAt(i), rhs: rhs})
		case t.Kind == phpsrc.Name && strings.EqualFold(strings.TrimPrefix(t.Text, `\`), "define") && tokAt(f, i+1).Text == "(":
			x, _ := f.Postfix(i)
			if c, ok := x.(*phpsrc.Call); ok && len(c.Args) >= 2 {
				if n, ok := literal(c.Args[0].Value); ok {
					s.consts[strings.TrimPrefix(n, `\`)] = append(s.consts[strings.TrimPrefix(n, `\`)], constDef{pf, c.Args[1].Value})
				}
			}
		case t.Is("const") && f.ClassAt(i) < 0 && f.FuncAt(i) < 0:
			ns := f.NamespaceAt(i).Name
			for j := i + 1; tokAt(f, j).Kind == phpsrc.Name && tokAt(f, j+1).Text == "="; {
				e, end := f.Expr(j + 2)
				name := tokAt(f, j).Text
				if ns != "" {
					name = ns + `\` + name
				}
				s.consts[name] = append(s.consts[name], constDef{pf, e})
				if tokAt(f, end).Text != "," {
					break
				}
				j = end + 1
			}
		case t.Is("return") && f.FuncAt(i) < 0 && f.ClassAt(i) < 0:
			e, _ := f.Expr(i + 1)
			pf.rets = append(pf.rets, e)
		}
	}
	for idx, fn := range f.Funcs {
		if fn.Close < 0 {
			continue
		}
		for _, p := range fn.Params {
			if p.Type != "" {
				pf.assigns[p.Name] = append(pf.assigns[p.Name], &assign{at: p.At, end: p.At + 1, scope: idx, typ: p.Type})
			}
		}
	}
	for _, list := range pf.assigns {
		slices.SortStableFunc(list, func(a, b *assign) int { return a.at - b.at })
	}
	for idx, c := range f.Classes {
		if c.Name != "" {
			s.classes[strings.ToLower(c.Name)] = classRef{pf, idx}
		}
	}
}

// orderConstants puts definitions in the web root first: the front
// controller runs before any file it includes, so where a constant is
// defined both there and elsewhere (defined('X') || define(…)), its
// definition wins.
func (s *scanner) orderConstants() {
	inWebRoot := func(pf *phpFile) bool {
		return s.webRoot == "" || s.webRoot == "." || strings.HasPrefix(pf.rel, s.webRoot+"/")
	}
	for _, defs := range s.consts {
		slices.SortStableFunc(defs, func(a, b constDef) int {
			switch wa, wb := inWebRoot(a.pf), inWebRoot(b.pf); {
			case wa && !wb:
				return -1
			case wb && !wa:
				return 1
			}
			return 0
		})
	}
}

// walk calls visit with every operand that can start a call chain (a
// variable, a Name:: static access, or new), next being the index of the
// token after it. Each method call is in the chain of one operand only.
func (s *scanner) walk(pf *phpFile, visit func(pf *phpFile, x phpsrc.Expr, next int)) {
	f := pf.f
	for i, t := range f.Code {
		if member(f, i) {
			continue
		}
		switch {
		case t.Kind == phpsrc.Variable,
			t.Kind == phpsrc.Name && tokAt(f, i+1).Text == "::" && !tokAt(f, i-1).Is("new"),
			t.Is("new"):
			x, next := f.Postfix(i)
			visit(pf, x, next)
		}
	}
}

// member reports whether token i follows ->, ?->, :: or $, so it is a
// member name or part of a variable variable, not an operand of its own.
func member(f *phpsrc.File, i int) bool {
	p := tokAt(f, i-1)
	return p.Kind == phpsrc.Punct && (p.Text == "->" || p.Text == "?->" || p.Text == "::" || p.Text == "$")
}

func tokAt(f *phpsrc.File, i int) phpsrc.Token {
	if i < 0 || i >= len(f.Code) {
		return phpsrc.Token{}
	}
	return f.Code[i]
}

func (s *scanner) at(pf *phpFile, i int) string {
	return fmt.Sprintf("%s:%d", pf.rel, tokAt(pf.f, i).Line)
}

// Di's own methods whose names start with "set" and "get": every other
// setX(…) and getX() on a Di reaches its __call, which registers or
// resolves the service "x".
var (
	diSetters = map[string]bool{"set": true, "setshared": true, "setraw": true, "setservice": true, "setdefault": true, "setinternaleventsmanager": true}
	diGetters = map[string]bool{"get": true, "getshared": true, "getraw": true, "getservice": true, "getservices": true, "getdefault": true, "getinternaleventsmanager": true}
)

// findServices finds the DI's construction and service registrations.
func (s *scanner) findServices(pf *phpFile, x phpsrc.Expr, next int) {
	f := pf.f
	if n, ok := x.(*phpsrc.New); ok && n.Class != "" {
		s.container(pf, n)
	}
	if ix, ok := x.(*phpsrc.Index); ok && ix.Index != nil {
		if t := tokAt(f, next); t.Kind == phpsrc.Punct && t.Text == "=" && s.eval(pf, ix.X).k == vDI {
			def, _ := f.Expr(next + 1)
			s.register(pf, ix.Index, def, ix.Index.Start())
		}
	}
	for e := x; e != nil; e = receiver(e) {
		m, ok := e.(*phpsrc.MethodCall)
		if !ok || m.Name == "" {
			continue
		}
		lower := strings.ToLower(m.Name)
		magic := strings.HasPrefix(m.Name, "set") && len(m.Name) > 3 && !diSetters[lower] && len(m.Args) > 0
		switch lower {
		case "set", "setshared", "setraw", "setservice", "attempt", "offsetset", "loadfromphp":
		default:
			if !magic {
				continue
			}
		}
		if s.eval(pf, m.X).k != vDI {
			continue
		}
		switch {
		case lower == "loadfromphp":
			s.loadFromPhp(pf, arg(m.Args, 0, "filePath"))
		case magic:
			name := lcfirst(m.Name[3:])
			s.addService(name, s.at(pf, m.NameAt))
			s.bind(pf, name, m.Args[0].Value)
		default:
			s.register(pf, arg(m.Args, 0, "name"), arg(m.Args, 1, "definition"), m.NameAt)
		}
	}
}

// receiver returns the expression a call chain link applies to.
func receiver(e phpsrc.Expr) phpsrc.Expr {
	switch e := e.(type) {
	case *phpsrc.MethodCall:
		return e.X
	case *phpsrc.PropFetch:
		return e.X
	case *phpsrc.Index:
		return e.X
	case *phpsrc.Call:
		return e.Callee
	}
	return nil
}

// arg returns the argument named name, or else the one at pos when it is
// positional; nil when neither is there.
func arg(args []phpsrc.Arg, pos int, name string) phpsrc.Expr {
	for _, a := range args {
		if a.Name == name {
			return a.Value
		}
	}
	if pos < len(args) && args[pos].Name == "" && !args[pos].Spread {
		return args[pos].Value
	}
	return nil
}

func (s *scanner) container(pf *phpFile, n *phpsrc.New) {
	at := s.at(pf, n.Start())
	switch s.classKind(pf.f.ResolveClass(n.Class, n.Start())) {
	case kindFactoryDefault:
		if s.out.Container != "FactoryDefault" {
			s.out.Container, s.out.ContainerAt = "FactoryDefault", at
		}
	case kindDi:
		if s.out.Container == "" {
			s.out.Container, s.out.ContainerAt = "Di", at
		}
	}
}

// register records the service nameExpr names, when it reads as a string.
func (s *scanner) register(pf *phpFile, nameExpr, def phpsrc.Expr, at int) {
	v := s.eval(pf, nameExpr)
	if v.k != vString || v.s == "" {
		return // a name phpbuild cannot read
	}
	s.addService(v.s, s.at(pf, at))
	s.bind(pf, v.s, def)
}

func (s *scanner) addService(name, at string) {
	if _, ok := s.services[name]; !ok {
		s.services[name] = Found{Name: name, At: at}
	}
}

// bind notes a service defined by a closure: Phalcon binds the closure to
// the DI, so $this in it (and in closures inside it) is the DI, and what a
// closure that only returns a value returns is the service.
func (s *scanner) bind(pf *phpFile, name string, def phpsrc.Expr) {
	if n, ok := def.(*phpsrc.New); ok && len(n.Args) > 0 &&
		strings.EqualFold(pf.f.ResolveClass(n.Class, n.Start()), `Phalcon\Di\Service`) {
		def = n.Args[0].Value // new Service(function () {…}, true)
	}
	c, ok := def.(*phpsrc.Closure)
	if !ok {
		return
	}
	if !pf.f.Funcs[c.Func].Static {
		pf.diBound[c.Func] = true
	}
	s.valueSvc[name] = append(s.valueSvc[name], closureRef{pf, c.Func})
}

// loadFromPhp reads the services of a file that returns an array: its
// string keys.
func (s *scanner) loadFromPhp(pf *phpFile, p phpsrc.Expr) {
	target := s.includeFile(pf, s.eval(pf, p))
	if target == nil {
		return
	}
	if v := s.fileReturn(target); v.k == vArray {
		for _, k := range v.arr.keys {
			if e := v.arr.vals[k]; e.str {
				s.addService(k, e.at)
			}
		}
	}
}

// Volt option keys, Phalcon 3's names included, by what they mean. The
// compiler reads them case-sensitively.
var voltKeys = map[string]string{
	"path": "path", "compiledPath": "path",
	"separator": "separator", "compiledSeparator": "separator",
	"extension": "extension", "compiledExtension": "extension",
	"prefix": "prefix", "stat": "stat",
	"always": "always", "compileAlways": "always",
}

// findOptions finds setOptions and setOption calls on a Volt engine or
// compiler.
func (s *scanner) findOptions(pf *phpFile, x phpsrc.Expr, _ int) {
	for e := x; e != nil; e = receiver(e) {
		m, ok := e.(*phpsrc.MethodCall)
		if !ok {
			continue
		}
		lower := strings.ToLower(m.Name)
		if lower != "setoptions" && lower != "setoption" {
			continue
		}
		if k := s.eval(pf, m.X).k; k != vVolt && k != vCompiler {
			continue
		}
		at := s.at(pf, m.NameAt)
		if lower == "setoption" {
			k := s.eval(pf, arg(m.Args, 0, "option"))
			if k.k != vString {
				s.unread("", at)
				continue
			}
			if key, ok := voltKeys[k.s]; ok {
				s.option(key, s.eval(pf, arg(m.Args, 1, "value")), at)
			}
			continue
		}
		v := s.eval(pf, arg(m.Args, 0, "options"))
		if v.k != vArray {
			s.unread("", at)
			continue
		}
		if v.arr.partial {
			s.unread("", at)
		}
		for _, k := range v.arr.keys {
			if key, ok := voltKeys[k]; ok {
				s.option(key, v.arr.vals[k].v, v.arr.vals[k].at)
			}
		}
	}
}

func (s *scanner) option(key string, v value, at string) {
	o := Option{Key: key, At: at, AssumesUnset: v.env}
	switch {
	case (key == "stat" || key == "always") && v.k == vBool:
		o.Value = v.b
	case key != "stat" && key != "always" && v.k == vString:
		o.Value = v.s
		if key == "path" {
			o.Value = s.imagePath(v.s)
		}
	default:
		s.unread(key, at)
		return
	}
	s.out.Options = append(s.out.Options, o)
}

func (s *scanner) unread(key, at string) {
	s.out.Unread = append(s.out.Unread, Found{Name: key, At: at})
}

// imagePath joins a relative path to the front controller's dir, where
// php-fpm runs the script, without cleaning it: Phalcon uses the string.
func (s *scanner) imagePath(p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return s.cwd() + "/" + p
}

// cwd is the front controller's dir in the image.
func (s *scanner) cwd() string {
	if s.webRoot == "" || s.webRoot == "." {
		return s.appPath
	}
	return s.appPath + "/" + s.webRoot
}

func lcfirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// literal returns the value of a literal string expression.
func literal(e phpsrc.Expr) (string, bool) {
	l, ok := e.(*phpsrc.Lit)
	if !ok || l.Tok.Kind != phpsrc.String || !l.Tok.Literal {
		return "", false
	}
	return l.Tok.Value, true
}

// Values

type vkind uint8

const (
	vUnknown vkind = iota
	vString
	vBool
	vNumber
	vNull
	vArray // arrays and Phalcon\Config objects
	vDI
	vVolt
	vCompiler
	vObject // an instance of another class; s is the class
)

type value struct {
	k   vkind
	s   string
	b   bool
	arr *array
	// env lists the environment variables assumed unset to get here.
	env []string
	// envRead is the variable an unknown value reads: getenv('X'),
	// $_ENV['X'], $_SERVER['X'].
	envRead string
}

type array struct {
	keys    []string
	vals    map[string]entry
	next    int  // the next integer key
	partial bool // some elements could not be read (unknown key, spread)
}

type entry struct {
	v   value
	at  string
	str bool // a string key
}

func newArray() *array { return &array{vals: map[string]entry{}} }

func (a *array) set(k string, e entry) {
	if _, ok := a.vals[k]; !ok {
		a.keys = append(a.keys, k)
	}
	a.vals[k] = e
	if n, err := strconv.Atoi(k); err == nil && n >= a.next {
		a.next = n + 1
	}
}

func (a *array) get(k string) value {
	if e, ok := a.vals[k]; ok {
		return e.v
	}
	return value{}
}

func str(s string, env ...[]string) value {
	v := value{k: vString, s: s}
	for _, e := range env {
		v.env = appendEnv(v.env, e...)
	}
	return v
}

func appendEnv(env []string, more ...string) []string {
	for _, m := range more {
		if !slices.Contains(env, m) {
			env = append(env, m)
		}
	}
	return env
}

// text converts a scalar as PHP's string conversion does.
func (v value) text() (string, bool) {
	switch v.k {
	case vString:
		return v.s, true
	case vNumber:
		return strings.ReplaceAll(v.s, "_", ""), true
	case vBool:
		if v.b {
			return "1", true
		}
		return "", true
	case vNull:
		return "", true
	}
	return "", false
}

// truth returns a scalar's truth value as PHP's ?: tests it.
func (v value) truth() (bool, bool) {
	switch v.k {
	case vBool:
		return v.b, true
	case vNull:
		return false, true
	case vString:
		return v.s != "" && v.s != "0", true
	case vArray:
		return len(v.arr.keys) > 0 || v.arr.partial, !v.arr.partial
	case vDI, vVolt, vCompiler, vObject:
		return true, true
	}
	return false, false
}

// Class kinds phpbuild knows.
const (
	kindOther = iota
	kindFactoryDefault
	kindCli
	kindDi
	kindDiInterface
	kindVolt
	kindCompiler
	kindConfig
)

var phalconClasses = map[string]int{
	`phalcon\di\factorydefault`:             kindFactoryDefault,
	`phalcon\di\factorydefault\cli`:         kindCli,
	`phalcon\di\di`:                         kindDi,
	`phalcon\di`:                            kindDi,
	`phalcon\di\diinterface`:                kindDiInterface,
	`phalcon\diinterface`:                   kindDiInterface,
	`phalcon\mvc\view\engine\volt`:          kindVolt,
	`phalcon\mvc\view\engine\volt\compiler`: kindCompiler,
	`phalcon\config\config`:                 kindConfig,
	`phalcon\config`:                        kindConfig,
}

// classKind follows the app's own classes up to a Phalcon class.
func (s *scanner) classKind(name string) int {
	lower := strings.ToLower(strings.TrimPrefix(name, `\`))
	for range 16 {
		if k, ok := phalconClasses[lower]; ok {
			return k
		}
		c, ok := s.classes[lower]
		if !ok {
			return kindOther
		}
		ext := c.pf.f.Classes[c.idx].Extends
		if len(ext) == 0 {
			return kindOther
		}
		lower = strings.ToLower(ext[0])
	}
	return kindOther
}

// instance is the value of an object of class name.
func (s *scanner) instance(name string) value {
	switch s.classKind(name) {
	case kindFactoryDefault, kindCli, kindDi, kindDiInterface:
		return value{k: vDI}
	case kindVolt:
		return value{k: vVolt}
	case kindCompiler:
		return value{k: vCompiler}
	case kindConfig:
		return s.configRoot()
	}
	if strings.Contains(name, `\`) || !builtinType(name) {
		return value{k: vObject, s: name}
	}
	return value{}
}

func builtinType(name string) bool {
	switch name {
	case "int", "float", "string", "bool", "array", "callable", "iterable", "object", "mixed",
		"void", "null", "never", "false", "true", "self", "static", "parent":
		return true
	}
	return false
}

// Evaluation limits: nesting, and steps per scan. Every value that can
// recur (variables, constants, services, properties, file returns) is
// memoized, so real apps stay far below maxEvalSteps; it only bounds input
// crafted to explode.
const (
	maxEvalDepth = 64
	maxEvalSteps = 2_000_000
)

func (s *scanner) eval(pf *phpFile, e phpsrc.Expr) value {
	if e == nil || s.depth > maxEvalDepth || s.steps > maxEvalSteps {
		return value{}
	}
	s.steps++
	s.depth++
	defer func() { s.depth-- }()
	f := pf.f
	switch e := e.(type) {
	case *phpsrc.Lit:
		switch {
		case e.Tok.Kind == phpsrc.Number:
			return value{k: vNumber, s: e.Tok.Text}
		case e.Tok.Literal:
			return str(e.Tok.Value)
		}
	case *phpsrc.ConstFetch:
		return s.constant(pf, e)
	case *phpsrc.Var:
		return s.variable(pf, e.Name, e.Start())
	case *phpsrc.Array:
		return s.array(pf, e)
	case *phpsrc.Call:
		return s.call(pf, e)
	case *phpsrc.New:
		if e.Class == "" || e.Anon >= 0 {
			return value{}
		}
		cls := f.ResolveClass(e.Class, e.Start())
		if s.classKind(cls) == kindConfig {
			if v := s.eval(pf, arg(e.Args, 0, "data")); v.k == vArray {
				return v
			}
			return value{}
		}
		return s.instance(cls)
	case *phpsrc.PropFetch:
		return s.prop(pf, e)
	case *phpsrc.MethodCall:
		return s.method(pf, e)
	case *phpsrc.StaticCall:
		if strings.EqualFold(e.Name, "getDefault") && e.Class != "" {
			if k := s.classKind(f.ResolveClass(e.Class, e.Start())); k == kindDi || k == kindFactoryDefault || k == kindCli {
				return value{k: vDI}
			}
		}
	case *phpsrc.ClassConst:
		if strings.EqualFold(e.Name, "class") && e.Class != "" && !builtinType(strings.ToLower(e.Class)) {
			return str(f.ResolveClass(e.Class, e.Start()))
		}
	case *phpsrc.Index:
		return s.indexValue(pf, e)
	case *phpsrc.Binary:
		switch e.Op {
		case ".":
			x, y := s.eval(pf, e.X), s.eval(pf, e.Y)
			a, ok1 := x.text()
			b, ok2 := y.text()
			if ok1 && ok2 {
				return str(a+b, x.env, y.env)
			}
		case "??":
			return s.orElse(pf, e.X, e.Y, func(v value) (bool, bool) { return v.k != vNull, v.k != vUnknown })
		}
	case *phpsrc.Ternary:
		if e.Then == nil {
			return s.orElse(pf, e.Cond, e.Else, value.truth)
		}
	case *phpsrc.Unary:
		switch e.Op {
		case "@":
			return s.eval(pf, e.X)
		case "(string)", "(array)":
			if v := s.eval(pf, e.X); (v.k == vString && e.Op == "(string)") || (v.k == vArray && e.Op == "(array)") {
				return v
			}
		}
	case *phpsrc.Include:
		return s.fileReturn(s.includeFile(pf, s.eval(pf, e.Path)))
	case *phpsrc.Assign:
		if e.Op == "=" {
			return s.eval(pf, e.Y)
		}
	}
	return value{}
}

// orElse evaluates x ?: y and x ?? y. When x reads an environment
// variable, the value is y's, assuming the variable unset.
func (s *scanner) orElse(pf *phpFile, x, y phpsrc.Expr, keep func(value) (bool, bool)) value {
	v := s.eval(pf, x)
	if v.envRead != "" {
		w := s.eval(pf, y)
		w.env = appendEnv(w.env, v.envRead)
		return w
	}
	k, known := keep(v)
	switch {
	case !known:
		return value{}
	case k:
		return v
	}
	return s.eval(pf, y)
}

func (s *scanner) constant(pf *phpFile, e *phpsrc.ConstFetch) value {
	switch strings.ToLower(strings.TrimPrefix(e.Name, `\`)) {
	case "true":
		return value{k: vBool, b: true}
	case "false":
		return value{k: vBool}
	case "null":
		return value{k: vNull}
	case "__dir__":
		return str(s.dirOf(pf))
	case "__file__":
		return str(s.appPath + "/" + pf.rel)
	case "directory_separator":
		return str("/")
	}
	name, global := pf.f.ResolveName(e.Name, e.Start())
	if v := s.constValue(name); v.k != vUnknown || global == "" {
		return v
	}
	return s.constValue(global)
}

func (s *scanner) constValue(name string) value {
	defs := s.consts[name]
	if len(defs) == 0 {
		return value{}
	}
	m, ok := s.constMem[name]
	if !ok {
		m = &memo{}
		s.constMem[name] = m
	}
	return m.get(func() value {
		for _, d := range defs {
			if v := s.eval(d.pf, d.expr); v.k != vUnknown {
				return v
			}
		}
		return value{}
	})
}

func (s *scanner) dirOf(pf *phpFile) string {
	return path.Join(s.appPath, path.Dir(pf.rel))
}

// variable evaluates $name at token pos: its last assignment before pos
// in a scope that sees it, or what Phalcon apps conventionally call so.
func (s *scanner) variable(pf *phpFile, name string, pos int) value {
	switch name {
	case "this":
		return s.this(pf, pos)
	case "":
		return value{}
	}
	if a := pf.lookup(name, pos); a != nil {
		v := a.mem.get(func() value {
			if a.typ != "" {
				return s.instance(a.typ)
			}
			return s.eval(pf, a.rhs)
		})
		if v.k != vUnknown {
			return v
		}
	}
	switch name {
	case "di", "container", "dependencyInjector":
		return value{k: vDI}
	case "volt":
		return value{k: vVolt}
	case "compiler":
		return value{k: vCompiler}
	case "config":
		return s.configRoot()
	}
	return value{}
}

// lookup returns the last assignment to $name before pos that pos can
// see: in its function, or in the functions around a closure (closures
// see what they use; arrow functions see everything).
func (pf *phpFile) lookup(name string, pos int) *assign {
	list := pf.assigns[name]
	scope := pf.f.FuncAt(pos)
	for k := len(list) - 1; k >= 0; k-- {
		a := list[k]
		if a.at >= pos || pos < a.end {
			continue
		}
		for sc := scope; ; {
			if sc == a.scope {
				return a
			}
			if sc < 0 || !pf.f.Funcs[sc].Closure {
				break
			}
			sc = pf.f.Funcs[sc].Parent
		}
	}
	return nil
}

// this evaluates $this at pos: the DI in a closure Phalcon binds to it, or
// an object of the class around the method.
func (s *scanner) this(pf *phpFile, pos int) value {
	f := pf.f
	for fn := f.FuncAt(pos); fn >= 0; fn = f.Funcs[fn].Parent {
		if !f.Funcs[fn].Closure {
			break
		}
		if pf.diBound[fn] {
			return value{k: vDI}
		}
		if f.Funcs[fn].Static {
			return value{}
		}
	}
	c := f.ClassAt(pos)
	if c < 0 {
		return value{}
	}
	if cls := f.Classes[c]; cls.Name != "" {
		return s.instance(cls.Name)
	} else if len(cls.Extends) > 0 {
		return s.instance(cls.Extends[0])
	}
	return value{}
}

func isThis(e phpsrc.Expr) bool {
	v, ok := e.(*phpsrc.Var)
	return ok && v.Name == "this"
}

func (s *scanner) prop(pf *phpFile, e *phpsrc.PropFetch) value {
	if isThis(e.X) {
		// Phalcon's Injectable resolves $this->config and its DI for
		// controllers, components and the rest.
		switch e.Name {
		case "di", "container", "dependencyInjector", "_dependencyInjector":
			return value{k: vDI}
		case "config":
			return s.configRoot()
		}
		if v := s.property(pf, e); v.k != vUnknown {
			return v
		}
	}
	x := s.eval(pf, e.X)
	switch x.k {
	case vArray:
		return x.arr.get(e.Name)
	case vDI:
		return s.serviceValue(e.Name)
	}
	return value{}
}

// property evaluates $this->name from the declaration of the class around
// it or a class it extends: the default value, else the declared type.
func (s *scanner) property(pf *phpFile, e *phpsrc.PropFetch) value {
	c := pf.f.ClassAt(e.Start())
	ref := classRef{pf, c}
	for range 16 {
		if ref.idx < 0 {
			return value{}
		}
		cls := ref.pf.f.Classes[ref.idx]
		for _, p := range cls.Props {
			if p.Name != e.Name {
				continue
			}
			if p.Default >= 0 {
				key := propKey{ref, p.Name}
				m, ok := s.propMem[key]
				if !ok {
					m = &memo{}
					s.propMem[key] = m
				}
				return m.get(func() value {
					d, _ := ref.pf.f.Expr(p.Default)
					return s.eval(ref.pf, d)
				})
			}
			if p.Type != "" {
				return s.instance(p.Type)
			}
			return value{}
		}
		if len(cls.Extends) == 0 {
			return value{}
		}
		next, ok := s.classes[strings.ToLower(cls.Extends[0])]
		if !ok {
			return value{}
		}
		ref = next
	}
	return value{}
}

func (s *scanner) method(pf *phpFile, e *phpsrc.MethodCall) value {
	lower := strings.ToLower(e.Name)
	if lower == "getdi" {
		// Phalcon's InjectionAwareInterface: whatever has a DI hands it out.
		return value{k: vDI}
	}
	if isThis(e.X) {
		switch lower {
		case "getconfig":
			return s.configRoot()
		case "get", "getshared":
			if n, ok := literal(arg(e.Args, 0, "name")); ok && n == "config" {
				return s.configRoot()
			}
		}
	}
	x := s.eval(pf, e.X)
	switch x.k {
	case vDI:
		switch {
		case lower == "get" || lower == "getshared" || lower == "offsetget":
			if n := s.eval(pf, arg(e.Args, 0, "name")); n.k == vString {
				return s.serviceValue(n.s)
			}
		case strings.HasPrefix(e.Name, "get") && len(e.Name) > 3 && !diGetters[lower]:
			return s.serviceValue(lcfirst(e.Name[3:]))
		}
	case vVolt:
		if lower == "getcompiler" {
			return value{k: vCompiler}
		}
	case vArray:
		switch lower {
		case "toarray":
			return x
		case "get", "offsetget":
			k, ok := s.eval(pf, arg(e.Args, 0, "index")).text()
			if !ok {
				return value{}
			}
			if _, found := x.arr.vals[k]; !found && len(e.Args) > 1 {
				return s.eval(pf, arg(e.Args, 1, "defaultValue"))
			}
			return x.arr.get(k)
		case "path":
			p, ok := s.eval(pf, arg(e.Args, 0, "path")).text()
			if !ok {
				return value{}
			}
			delim := "."
			if d, ok := s.eval(pf, arg(e.Args, 2, "delimiter")).text(); ok && d != "" {
				delim = d
			}
			v := x
			for _, k := range strings.Split(p, delim) {
				if v.k != vArray {
					v = value{}
					break
				}
				if _, found := v.arr.vals[k]; !found {
					if len(e.Args) > 1 {
						return s.eval(pf, arg(e.Args, 1, "defaultValue"))
					}
					return value{}
				}
				v = v.arr.get(k)
			}
			return v
		}
	}
	return value{}
}

func (s *scanner) indexValue(pf *phpFile, e *phpsrc.Index) value {
	if v, ok := e.X.(*phpsrc.Var); ok && (v.Name == "_ENV" || v.Name == "_SERVER") {
		if k, ok := literal(e.Index); ok {
			return value{envRead: k}
		}
		return value{}
	}
	x := s.eval(pf, e.X)
	k, ok := s.eval(pf, e.Index).text()
	if !ok {
		return value{}
	}
	switch x.k {
	case vArray:
		return x.arr.get(k)
	case vDI:
		return s.serviceValue(k)
	}
	return value{}
}

func (s *scanner) call(pf *phpFile, e *phpsrc.Call) value {
	// Functions resolve to the global ones: an app that declares its own
	// dirname in its namespace is not worth the lookup.
	name := strings.ToLower(e.Func)
	name = name[strings.LastIndex(name, `\`)+1:]
	switch name {
	case "dirname":
		v := s.eval(pf, arg(e.Args, 0, "path"))
		p, ok := v.text()
		if !ok {
			return value{}
		}
		levels := 1
		if l := arg(e.Args, 1, "levels"); l != nil {
			n, ok := s.eval(pf, l).text()
			if levels, _ = strconv.Atoi(n); !ok || levels < 1 {
				return value{}
			}
		}
		for range min(levels, 64) {
			p = dirname(p)
		}
		return str(p, v.env)
	case "realpath":
		v := s.eval(pf, arg(e.Args, 0, "path"))
		p, ok := v.text()
		if !ok {
			return value{}
		}
		if !strings.HasPrefix(p, "/") {
			p = s.cwd() + "/" + p
		}
		return str(path.Clean(p), v.env)
	case "getenv":
		if n, ok := literal(arg(e.Args, 0, "name")); ok {
			return value{envRead: n}
		}
	}
	return value{}
}

// dirname is PHP's dirname on Unix: trailing slashes do not count, and
// what is left is not cleaned.
func dirname(p string) string {
	if p == "" {
		return ""
	}
	t := strings.TrimRight(p, "/")
	if t == "" {
		return "/"
	}
	i := strings.LastIndex(t, "/")
	if i < 0 {
		return "."
	}
	t = strings.TrimRight(t[:i], "/")
	if t == "" {
		return "/"
	}
	return t
}

func (s *scanner) array(pf *phpFile, e *phpsrc.Array) value {
	a := newArray()
	for _, it := range e.Items {
		v := s.eval(pf, it.Value)
		if it.Spread {
			if v.k != vArray {
				a.partial = true
				continue
			}
			for _, k := range v.arr.keys {
				en := v.arr.vals[k]
				if !en.str {
					k = strconv.Itoa(a.next)
				}
				a.set(k, en)
			}
			a.partial = a.partial || v.arr.partial
			continue
		}
		en := entry{v: v, at: s.at(pf, it.At)}
		if it.Key == nil {
			a.set(strconv.Itoa(a.next), en)
			continue
		}
		kv := s.eval(pf, it.Key)
		k, ok := kv.text()
		if !ok {
			a.partial = true
			continue
		}
		if kv.k == vBool && kv.b {
			k = "1"
		} else if kv.k == vBool {
			k = "0"
		}
		en.str = kv.k == vString
		a.set(k, en)
	}
	return value{k: vArray, arr: a}
}

// serviceValue is what the DI returns for a service: the config, or what
// a closure that only returns a value returns.
func (s *scanner) serviceValue(name string) value {
	if name == "config" {
		return s.configRoot()
	}
	m, ok := s.svcMem[name]
	if !ok {
		m = &memo{}
		s.svcMem[name] = m
	}
	return m.get(func() value { return s.closureReturn(name) })
}

func (s *scanner) closureReturn(name string) value {
	for _, c := range s.valueSvc[name] {
		fn := c.pf.f.Funcs[c.fn]
		f := c.pf.f
		if fn.Close < 0 || !tokAt(f, fn.Open+1).Is("return") {
			continue
		}
		e, end := f.Expr(fn.Open + 2)
		if t := tokAt(f, end); t.Text != ";" || end+1 != fn.Close {
			continue
		}
		if v := s.eval(c.pf, e); v.k != vUnknown {
			return v
		}
	}
	return value{}
}

// includeFile returns the app file a path names, as PHP resolves include
// paths: a relative one against the working dir (the front controller's),
// then, unless it starts with ./ or ../, the including file's dir.
func (s *scanner) includeFile(pf *phpFile, v value) *phpFile {
	p, ok := v.text()
	if !ok || p == "" {
		return nil
	}
	candidates := []string{p}
	if !strings.HasPrefix(p, "/") {
		candidates = []string{s.cwd() + "/" + p}
		if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") {
			candidates = append(candidates, s.dirOf(pf)+"/"+p)
		}
	}
	for _, c := range candidates {
		rel, ok := strings.CutPrefix(path.Clean(c), s.appPath+"/")
		if t := s.byPath[rel]; ok && t != nil {
			return t
		}
	}
	return nil
}

// fileReturn is what including pf returns: its first file-level return
// phpbuild can read, passing over guarded early ones such as
// "if (is_file($local)) return require $local;".
func (s *scanner) fileReturn(pf *phpFile) value {
	if pf == nil {
		return value{}
	}
	return pf.retMem.get(func() value {
		for _, r := range pf.rets {
			if v := s.eval(pf, r); v.k != vUnknown {
				return v
			}
		}
		return value{}
	})
}

// configRoot is every config of the app merged, later paths winning: files
// that return a Phalcon\Config, and files under a config dir that return
// an array.
func (s *scanner) configRoot() value {
	return s.config.get(func() value {
		root := newArray()
		for _, pf := range s.files {
			if len(pf.rets) == 0 || !s.isConfigFile(pf) {
				continue
			}
			if v := s.fileReturn(pf); v.k == vArray {
				root = merge(root, v.arr)
			}
		}
		return value{k: vArray, arr: root}
	})
}

func (s *scanner) isConfigFile(pf *phpFile) bool {
	for _, r := range pf.rets {
		if e, ok := r.(*phpsrc.New); ok && e.Class != "" && s.classKind(pf.f.ResolveClass(e.Class, e.Start())) == kindConfig {
			return true
		}
	}
	for _, d := range strings.Split(path.Dir(pf.rel), "/") {
		if d = strings.ToLower(d); d == "config" || d == "configs" {
			return true
		}
	}
	return false
}

// merge returns dst with src merged in, as Phalcon\Config::merge does:
// nested arrays merge, anything else is replaced. Neither input changes.
func merge(dst, src *array) *array {
	out := newArray()
	for _, k := range dst.keys {
		out.set(k, dst.vals[k])
	}
	out.partial = dst.partial || src.partial
	for _, k := range src.keys {
		e := src.vals[k]
		if old, ok := out.vals[k]; ok && old.v.k == vArray && e.v.k == vArray {
			e.v = value{k: vArray, arr: merge(old.v.arr, e.v.arr)}
		}
		out.set(k, e)
	}
	return out
}
