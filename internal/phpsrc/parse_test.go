package phpsrc_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/phpbuild/phpbuild/internal/phpsrc"
)

const providerSrc = `<?php
declare(strict_types=1);

namespace Vokuro\Providers;

use Phalcon\Di\{DiInterface, ServiceProviderInterface as Provider};
use Phalcon\Mvc\View\Engine\Volt as VoltEngine, Phalcon\Config;
use function sprintf;
use const PHP_EOL;

interface Named extends \Countable, Provider {}
trait Loud { public function shout() {} }
enum Suit: string implements Named { case Hearts = 'H'; }

abstract class ViewProvider extends Base implements Provider
{
    use Loud;

    protected $providerName = 'view';
    private ?DiInterface $di = null;
    public static int $count = 0, $more;

    public function __construct(private Config $config, #[\SensitiveParameter] string $secret = 'x') {}

    public function register(DiInterface $di): void
    {
        $di->setShared($this->providerName, static function () use ($di): VoltEngine {
            $f = fn(VoltEngine $v) => $v;
            return new class($di) extends Base { public function x(array &$a, ...$rest) {} };
        });
    }

    abstract protected function name(): string;
}

function helper(\Phalcon\Di\Di|null $di) {}
`

func TestParseDeclarations(t *testing.T) {
	f, err := phpsrc.Parse([]byte(providerSrc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	wantUses := map[string]string{
		"diinterface": `Phalcon\Di\DiInterface`,
		"provider":    `Phalcon\Di\ServiceProviderInterface`,
		"voltengine":  `Phalcon\Mvc\View\Engine\Volt`,
		"config":      `Phalcon\Config`,
	}
	if len(f.Namespaces) != 1 || f.Namespaces[0].Name != `Vokuro\Providers` {
		t.Fatalf("Namespaces = %+v, want Vokuro\\Providers only", f.Namespaces)
	}
	if diff := cmp.Diff(wantUses, f.Namespaces[0].Uses); diff != "" {
		t.Errorf("Uses (-want +got):\n%s", diff)
	}

	type class struct {
		Kind, Name          string
		Extends, Implements []string
		Props               []string
	}
	var classes []class
	for _, c := range f.Classes {
		var props []string
		for _, p := range c.Props {
			props = append(props, fmt.Sprintf("%s:%s:%v", p.Name, p.Type, p.Default >= 0))
		}
		classes = append(classes, class{c.Kind, c.Name, c.Extends, c.Implements, props})
	}
	wantClasses := []class{
		{"interface", `Vokuro\Providers\Named`, []string{"Countable", `Phalcon\Di\ServiceProviderInterface`}, nil, nil},
		{"trait", `Vokuro\Providers\Loud`, nil, nil, nil},
		{"enum", `Vokuro\Providers\Suit`, nil, []string{`Vokuro\Providers\Named`}, nil},
		{"class", `Vokuro\Providers\ViewProvider`, []string{`Vokuro\Providers\Base`}, []string{`Phalcon\Di\ServiceProviderInterface`},
			[]string{"providerName::true", `di:Phalcon\Di\DiInterface:true`, "count:int:true", "more::false"}},
		{"class", "", []string{`Vokuro\Providers\Base`}, nil, nil},
	}
	if diff := cmp.Diff(wantClasses, classes, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Classes (-want +got):\n%s", diff)
	}

	type fn struct {
		Name            string
		Class           int
		Closure, Static bool
		Params          []phpsrc.Param
		Abstract        bool
	}
	var funcs []fn
	for _, x := range f.Funcs {
		for i := range x.Params {
			x.Params[i].At = 0
		}
		funcs = append(funcs, fn{x.Name, x.Class, x.Closure, x.Static, x.Params, x.Open < 0})
	}
	wantFuncs := []fn{
		{"shout", 1, false, false, nil, false},
		{"__construct", 3, false, false, []phpsrc.Param{{Name: "config", Type: `Phalcon\Config`}, {Name: "secret", Type: "string"}}, false},
		{"register", 3, false, false, []phpsrc.Param{{Name: "di", Type: `Phalcon\Di\DiInterface`}}, false},
		{"", -1, true, true, nil, false},
		{"", -1, true, false, []phpsrc.Param{{Name: "v", Type: `Phalcon\Mvc\View\Engine\Volt`}}, false},
		{"x", 4, false, false, []phpsrc.Param{{Name: "a", Type: "array"}, {Name: "rest"}}, false},
		{"name", 3, false, false, nil, true},
		// A union type is not one class.
		{"helper", -1, false, false, []phpsrc.Param{{Name: "di"}}, false},
	}
	if diff := cmp.Diff(wantFuncs, funcs, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Funcs (-want +got):\n%s", diff)
	}

	// Scopes: the closure's body is in the closure, inside the class.
	for i, tk := range f.Code {
		if tk.Kind == phpsrc.Variable && tk.Value == "f" {
			if got := f.FuncAt(i); got != 3 {
				t.Errorf("FuncAt($f) = %d, want 3 (the closure)", got)
			}
			if got := f.ClassAt(i); got != 3 {
				t.Errorf("ClassAt($f) = %d, want 3 (ViewProvider)", got)
			}
		}
	}
}

func TestResolveClass(t *testing.T) {
	src := `<?php
namespace App\Http;
use Phalcon\Di\FactoryDefault;
use Phalcon\Mvc\View\Engine as Engines;
$x = 1;`
	f, _ := phpsrc.Parse([]byte(src))
	at := len(f.Code) - 1
	for _, tc := range []struct{ name, want string }{
		{"FactoryDefault", `Phalcon\Di\FactoryDefault`},
		{"factorydefault", `Phalcon\Di\FactoryDefault`}, // imports ignore case
		{`FactoryDefault\Cli`, `Phalcon\Di\FactoryDefault\Cli`},
		{`Engines\Volt`, `Phalcon\Mvc\View\Engine\Volt`},
		{`\Phalcon\Di\Di`, `Phalcon\Di\Di`},
		{`namespace\Kernel`, `App\Http\Kernel`},
		{"Kernel", `App\Http\Kernel`},
		{"String", "string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.ResolveClass(tc.name, at); got != tc.want {
				t.Errorf("ResolveClass(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
	if name, global := f.ResolveName("APP_PATH", at); name != `App\Http\APP_PATH` || global != "APP_PATH" {
		t.Errorf("ResolveName(APP_PATH) = %q, %q; want the namespaced name and the global fallback", name, global)
	}
}

// render prints an expression compactly, parenthesizing every operator.
func render(e phpsrc.Expr) string {
	if e == nil {
		return "nil"
	}
	args := func(as []phpsrc.Arg) string {
		var s []string
		for _, a := range as {
			p := ""
			if a.Name != "" {
				p = a.Name + ": "
			}
			if a.Spread {
				p += "..."
			}
			if a.Value != nil {
				p += render(a.Value)
			}
			s = append(s, p)
		}
		return strings.Join(s, ", ")
	}
	switch e := e.(type) {
	case *phpsrc.Lit:
		return e.Tok.Text
	case *phpsrc.ConstFetch:
		return e.Name
	case *phpsrc.Var:
		return "$" + e.Name
	case *phpsrc.Array:
		var s []string
		for _, it := range e.Items {
			p := ""
			if it.Spread {
				p = "..."
			}
			if it.Key != nil {
				p += render(it.Key) + " => "
			}
			s = append(s, p+render(it.Value))
		}
		return "[" + strings.Join(s, ", ") + "]"
	case *phpsrc.Call:
		if e.Func == "" {
			return render(e.Callee) + "(" + args(e.Args) + ")"
		}
		return e.Func + "(" + args(e.Args) + ")"
	case *phpsrc.New:
		return "new " + e.Class + "(" + args(e.Args) + ")"
	case *phpsrc.PropFetch:
		return render(e.X) + "->" + e.Name
	case *phpsrc.MethodCall:
		return render(e.X) + "->" + e.Name + "(" + args(e.Args) + ")"
	case *phpsrc.StaticCall:
		return e.Class + "::" + e.Name + "(" + args(e.Args) + ")"
	case *phpsrc.ClassConst:
		return e.Class + "::" + e.Name
	case *phpsrc.Index:
		return render(e.X) + "[" + render(e.Index) + "]"
	case *phpsrc.Binary:
		return "(" + render(e.X) + " " + e.Op + " " + render(e.Y) + ")"
	case *phpsrc.Ternary:
		if e.Then == nil {
			return "(" + render(e.Cond) + " ?: " + render(e.Else) + ")"
		}
		return "(" + render(e.Cond) + " ? " + render(e.Then) + " : " + render(e.Else) + ")"
	case *phpsrc.Unary:
		return e.Op + "(" + render(e.X) + ")"
	case *phpsrc.Include:
		return e.Kind + "(" + render(e.Path) + ")"
	case *phpsrc.Assign:
		return "(" + render(e.X) + " " + e.Op + " " + render(e.Y) + ")"
	case *phpsrc.Closure:
		if e.Arrow != nil {
			return "fn => " + render(e.Arrow)
		}
		return "closure"
	case *phpsrc.Bad:
		return "bad"
	}
	return fmt.Sprintf("%T", e)
}

func TestExpr(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`$a . 'b' . C;`, `(($a . 'b') . C)`},
		{`getenv('X') ?: dirname(__DIR__, 2) . '/x';`, `(getenv('X') ?: (dirname(__DIR__, 2) . '/x'))`},
		{`$a ?? $b ?: $c;`, `(($a ?? $b) ?: $c)`},
		{`$a ?? $b ?? $c;`, `($a ?? ($b ?? $c))`},
		{`$di->getShared('config')->path('a.b');`, `$di->getShared('config')->path('a.b')`},
		{`$x['k']['j'] = new \Foo\Bar(1, named: 2);`, `($x['k']['j'] = new \Foo\Bar(1, named: 2))`},
		{`require APP_PATH . '/x.php';`, `require((APP_PATH . '/x.php'))`},
		{`[1, 'k' => [2], ...$rest];`, `[1, 'k' => [2], ...$rest]`},
		{`array('a' => TRUE,);`, `['a' => TRUE]`},
		{`Foo::getDefault()->set('x', Bar::class);`, `Foo::getDefault()->set('x', Bar::class)`},
		{`function () use ($a) { return 1; } . 'x';`, `(closure . 'x')`},
		{`fn($x) => $x . 'y';`, `fn => ($x . 'y')`},
		{`match($a) { 1 => 2 };`, `bad`},
		{`!$a = b();`, `!(($a = b()))`},
		{`(string) $a . 'x';`, `((string)($a) . 'x')`},
		{`$a?->b()->c;`, `$a->b()->c`},
		{`-2 ** 2;`, `-((2 ** 2))`},
		{`$a = $b = 3;`, `($a = ($b = 3))`},
		{`$a ? $b : $c . 'd';`, `($a ? $b : ($c . 'd'))`},
		{`$f(...);`, `$f(...)`},
		{`new class($di) extends Base {} ;`, `new class($di)`},
		{`(new Volt($v))->getCompiler();`, `new Volt($v)->getCompiler()`},
		{`$$name->set('x');`, `$->set('x')`},
		{`@include __DIR__ . '/x.php';`, `@(include((__DIR__ . '/x.php')))`},
	} {
		t.Run(tc.src, func(t *testing.T) {
			f, err := phpsrc.Parse([]byte("<?php " + tc.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			e, next := f.Expr(0)
			if got := render(e); got != tc.want {
				t.Errorf("Expr = %s, want %s", got, tc.want)
			}
			if next != len(f.Code)-1 {
				t.Errorf("Expr ended at token %d (%q), want the final ;", next, f.Code[min(next, len(f.Code)-1)].Text)
			}
		})
	}
}

func TestPostfix(t *testing.T) {
	f, _ := phpsrc.Parse([]byte(`<?php $this->di['flash'] = $x . 'y';`))
	e, next := f.Postfix(0)
	if got := render(e); got != `$this->di['flash']` {
		t.Errorf("Postfix = %s, want the operand only", got)
	}
	if !phpsrc.IsAssignOp(f.Code[next]) {
		t.Errorf("Postfix ended at %q, want the =", f.Code[next].Text)
	}
}

// FuzzParse checks that parsing any input, and parsing an expression at
// every token, neither panics nor runs past the tokens.
func FuzzParse(f *testing.F) {
	f.Add([]byte(providerSrc))
	for _, s := range []string{
		"<?php $di->setShared('view', function () { $v = new Volt($x, $this); $v->setOptions(['path' => A . '/b']); });",
		"<?php namespace A; use B\\{C, D as E}; class F extends G { public $h = [1, fn() => 2]; }",
		"<?php ((([[[{{{ $a ?: ?? -> :: new class { function",
		"<?php match($a) { default => function () use ($b): ?int { return <<<E\n$x\nE; } };",
		"<?php }}}) ]]] $a = [ 'k' => ",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, _ := phpsrc.Parse(src)
		n := len(file.Code)
		for i := range file.Code {
			if m := file.Match(i); m >= n {
				t.Fatalf("Match(%d) = %d past %d tokens", i, m, n)
			}
			_ = file.FuncAt(i) + file.ClassAt(i)
			_ = file.ResolveClass(file.Code[i].Text, i)
			for _, parse := range []func(int) (phpsrc.Expr, int){file.Expr, file.Postfix} {
				e, next := parse(i)
				if next < i || next > n {
					t.Fatalf("parse at %d ended at %d of %d", i, next, n)
				}
				_ = render(e)
			}
		}
	})
}
