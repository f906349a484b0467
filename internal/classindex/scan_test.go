package classindex

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestScanFile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		want     []string
		wantHash bool
	}{
		{
			name: "strings",
			src:  "<?php\n$a = \"class Fake {}\";\n$b = 'interface Fake2 {}';\n$c = b\"trait Fake3 {}\";\nclass Real {}\n",
			want: []string{"Real"},
		},
		{
			name: "heredoc and nowdoc",
			src:  "<?php\n$a = <<<EOT\nclass Fake {}\nEOT;\n$b = <<<'EOT'\nenum Fake2 {}\nEOT;\n$c = <<<\"X\"\n  class Fake3 {}\n  X;\nclass Real {}\n",
			want: []string{"Real"},
		},
		{
			name: "comments",
			src:  "<?php\n// class Fake1 {}\n# class Fake2 {}\n/* class Fake3 {} */\n/** class Fake4 {} */\nclass Real {}\n",
			want: []string{"Real"},
		},
		{
			name: "inline HTML",
			src:  "<p>class Fake1 {}</p>\n<?php class Real {} ?>\n<p>class Fake2 {}</p>\n",
			want: []string{"Real"},
		},
		{
			name: "conditional declarations",
			src:  "<?php\nnamespace App;\nif (!class_exists('App\\\\Polyfill')) {\n    class Polyfill {}\n}\nfunction load() {\n    interface Late {}\n}\n",
			want: []string{`App\Polyfill`, `App\Late`},
		},
		{
			name: "interface trait enum",
			src:  "<?php\nnamespace App;\ninterface I {}\ntrait T {}\nenum Suit: string { case Hearts = 'H'; }\nenum Plain { case A; }\nenum Wide:int implements I { case B = 1; }\nfinal readonly class C {}\n",
			want: []string{`App\I`, `App\T`, `App\Suit`, `App\Plain`, `App\Wide`, `App\C`},
		},
		{
			name: "unbraced namespaces",
			src:  "<?php\nnamespace A\\B;\nclass X {}\nnamespace C;\nclass Y {}\nclass Y {}\n",
			want: []string{`A\B\X`, `C\Y`, `C\Y`},
		},
		{
			name: "braced namespaces",
			src:  "<?php\nnamespace A { class X {} }\nnamespace { class G {} }\nnamespace B\\C { trait T {} }\n",
			want: []string{`A\X`, `G`, `B\C\T`},
		},
		{
			name: "anonymous classes and class constants",
			src:  "<?php\n$a = new class extends Base {};\n$b = new class {};\n$c = new class(1) implements I {};\n$d = Foo::class;\n$e = $obj->class;\n$f = $obj?->class;\n",
			want: []string{},
		},
		{
			name: "no declarations",
			src:  "<?php\nreturn ['class' => 'Foo'];\n",
			want: []string{},
		},
		{
			name:     "after __halt_compiler",
			src:      "<?php\nclass A {}\n__halt_compiler();\nclass B {}\n",
			want:     []string{"A"},
			wantHash: true,
		},
		{
			name:     "unterminated string",
			src:      "<?php\nclass A {}\n$x = \"class B {}\n",
			want:     []string{"A"},
			wantHash: true,
		},
		{
			name:     "short open tag",
			src:      "<? class Short {} ?>\n",
			want:     []string{},
			wantHash: true,
		},
		{
			name:     "backtick string",
			src:      "<?php\n$x = `echo class Fake {}`;\n",
			want:     []string{},
			wantHash: true,
		},
		{
			name:     "quote inside interpolation",
			src:      "<?php\n$x = \"{$a[\"k\"]} class Fake {}\";\nclass Real {}\n",
			want:     []string{"Real"},
			wantHash: true,
		},
		{
			name:     "comment glues keyword to name",
			src:      "<?php\nabstract/**/class Hidden {}\n",
			want:     []string{"Hidden"},
			wantHash: true,
		},
		{
			name:     "keyword glued to a wide character",
			src:      "<?php\n$x = 1; \xe9class Odd {}\n",
			want:     []string{},
			wantHash: true,
		},
		{
			name: "escaped quotes",
			src:  "<?php\n$x = \"a \\\" class Fake {} \\\\\";\nclass Real {}\n",
			want: []string{"Real"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := scanFile("a.php", []byte(tc.src))
			if diff := cmp.Diff(tc.want, f.Classes); diff != "" {
				t.Errorf("Classes (-want +got):\n%s", diff)
			}
			if got := f.Hash != ""; got != tc.wantHash {
				t.Errorf("Hash = %q, want set: %v", f.Hash, tc.wantHash)
			}
		})
	}
}

func TestComposerClassesAgreesOnPlainSource(t *testing.T) {
	// The cross-check must not flag ordinary files, or every body change in
	// them would change the Digest.
	src := "<?php\n\ndeclare(strict_types=1);\n\nnamespace App\\Http;\n\nuse Foo\\Bar;\n\n#[Attr]\nabstract class Controller extends Bar implements \\Stringable\n{\n    public function __toString(): string { return static::class . \"{$this->name}\"; }\n}\n"
	f := scanFile("a.php", []byte(src))
	if diff := cmp.Diff([]string{`App\Http\Controller`}, f.Classes); diff != "" {
		t.Errorf("Classes (-want +got):\n%s", diff)
	}
	if f.Hash != "" {
		t.Errorf("Hash = %q, want none", f.Hash)
	}
}
