package phpsrc_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/internal/phpsrc"
)

// tok is what a case checks of a token; Value is left out where it equals
// Text, so cases stay short.
type tok struct {
	Kind    phpsrc.Kind
	Text    string
	Value   string
	Literal bool
	Line    int
}

func toks(ts []phpsrc.Token) []tok {
	out := make([]tok, 0, len(ts))
	for _, t := range ts {
		v := t.Value
		if v == t.Text {
			v = ""
		}
		out = append(out, tok{t.Kind, t.Text, v, t.Literal, t.Line})
	}
	return out
}

const (
	html   = phpsrc.InlineHTML
	open   = phpsrc.OpenTag
	echo   = phpsrc.OpenTagEcho
	close_ = phpsrc.CloseTag
	cmt    = phpsrc.Comment
	doc    = phpsrc.DocComment
	vr     = phpsrc.Variable
	name   = phpsrc.Name
	num    = phpsrc.Number
	str    = phpsrc.String
	cast   = phpsrc.Cast
	punct  = phpsrc.Punct
)

func TestLex(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []tok
	}{
		{
			name: "tags and inline HTML",
			src:  "<p>\n<?php echo 1 ?>\n<b><?= $x ?>\r\nend <?xml ?>",
			want: []tok{
				{html, "<p>\n", "", false, 1},
				{open, "<?php ", "", false, 2},
				{name, "echo", "", false, 2},
				{num, "1", "", false, 2},
				// The close tag eats one newline, so "<b>" starts line 3.
				{close_, "?>\n", "", false, 2},
				{html, "<b>", "", false, 3},
				{echo, "<?=", "", false, 3},
				{vr, "$x", "x", false, 3},
				{close_, "?>\r\n", "", false, 3},
				// Short tags are off in PHP 8's defaults.
				{html, "end <?xml ?>", "", false, 4},
			},
		},
		{
			name: "open tag needs whitespace",
			src:  "<?phpx <?PHP\n$a;",
			want: []tok{
				{html, "<?phpx ", "", false, 1},
				{open, "<?PHP\n", "", false, 1},
				{vr, "$a", "a", false, 2},
				{punct, ";", "", false, 2},
			},
		},
		{
			name: "comments and attributes",
			src:  "<?php\n// line ?>x<?php # hash\n#[Route('/')]\n/** doc */ /**/ /* block\n */ $a;",
			want: []tok{
				{open, "<?php\n", "", false, 1},
				// A line comment ends at "?>", which still closes PHP.
				{cmt, "// line ", "", false, 2},
				{close_, "?>", "", false, 2},
				{html, "x", "", false, 2},
				{open, "<?php ", "", false, 2},
				{cmt, "# hash", "", false, 2},
				{punct, "#[", "", false, 3},
				{name, "Route", "", false, 3},
				{punct, "(", "", false, 3},
				{str, "'/'", "/", true, 3},
				{punct, ")", "", false, 3},
				{punct, "]", "", false, 3},
				{doc, "/** doc */", "", false, 4},
				{cmt, "/**/", "", false, 4},
				{cmt, "/* block\n */", "", false, 4},
				{vr, "$a", "a", false, 5},
				{punct, ";", "", false, 5},
			},
		},
		{
			name: "names and variables",
			src:  `<?php new Phalcon\Di\FactoryDefault; \Foo\Bar::class; namespace\X; $this->di; $$v; $ x;`,
			want: []tok{
				{open, "<?php ", "", false, 1},
				{name, "new", "", false, 1},
				{name, `Phalcon\Di\FactoryDefault`, "", false, 1},
				{punct, ";", "", false, 1},
				{name, `\Foo\Bar`, "", false, 1},
				{punct, "::", "", false, 1},
				{name, "class", "", false, 1},
				{punct, ";", "", false, 1},
				{name, `namespace\X`, "", false, 1},
				{punct, ";", "", false, 1},
				{vr, "$this", "this", false, 1},
				{punct, "->", "", false, 1},
				{name, "di", "", false, 1},
				{punct, ";", "", false, 1},
				{punct, "$", "", false, 1},
				{vr, "$v", "v", false, 1},
				{punct, ";", "", false, 1},
				{punct, "$", "", false, 1},
				{name, "x", "", false, 1},
				{punct, ";", "", false, 1},
			},
		},
		{
			name: "numbers",
			src:  "<?php 1_000 0x1F 0b101 0o17 017 .5 1.5e-3 1. 7E+2",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{num, "1_000", "", false, 1},
				{num, "0x1F", "", false, 1},
				{num, "0b101", "", false, 1},
				{num, "0o17", "", false, 1},
				{num, "017", "", false, 1},
				{num, ".5", "", false, 1},
				{num, "1.5e-3", "", false, 1},
				{num, "1.", "", false, 1},
				{num, "7E+2", "", false, 1},
			},
		},
		{
			name: "single-quoted strings",
			src:  `<?php 'it\'s \\ \n $x' b'bin'`,
			want: []tok{
				{open, "<?php ", "", false, 1},
				{str, `'it\'s \\ \n $x'`, `it's \ \n $x`, true, 1},
				{str, `b'bin'`, "bin", true, 1},
			},
		},
		{
			name: "double-quoted strings",
			src:  `<?php "a\tb\\\"\$x\101\x41\u{e9}\q" "$x" "{$a["k"]}" "${b}" "$ {" ` + "`ls`",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{str, `"a\tb\\\"\$x\101\x41\u{e9}\q"`, "a\tb\\\"$xAAé\\q", true, 1},
				{str, `"$x"`, "$x", false, 1},
				// Quotes in nested code do not end the string.
				{str, `"{$a["k"]}"`, `{$a["k"]}`, false, 1},
				{str, `"${b}"`, "${b}", false, 1},
				// "$" before a non-name is text.
				{str, `"$ {"`, "$ {", true, 1},
				// Shell commands are never literal.
				{str, "`ls`", "ls", false, 1},
			},
		},
		{
			name: "heredoc and nowdoc",
			src: "<?php\n$a = <<<EOT\n  one\\t\n    two\n  EOT;\n" +
				"$b = <<<\"EOT\"\nhi $name\nEOT;\n" +
				"$c = <<<'EOT'\nraw $x \\t\nEOT;\n" +
				"$d = <<<EOT\nEOT;\n$e;",
			want: []tok{
				{open, "<?php\n", "", false, 1},
				{vr, "$a", "a", false, 2},
				{punct, "=", "", false, 2},
				// The closing label's indentation leaves every line.
				{str, "<<<EOT\n  one\\t\n    two\n  EOT", "one\t\n  two", true, 2},
				{punct, ";", "", false, 5},
				{vr, "$b", "b", false, 6},
				{punct, "=", "", false, 6},
				{str, "<<<\"EOT\"\nhi $name\nEOT", "hi $name", false, 6},
				{punct, ";", "", false, 8},
				{vr, "$c", "c", false, 9},
				{punct, "=", "", false, 9},
				{str, "<<<'EOT'\nraw $x \\t\nEOT", `raw $x \t`, true, 9},
				{punct, ";", "", false, 11},
				{vr, "$d", "d", false, 12},
				{punct, "=", "", false, 12},
				{str, "<<<EOT\nEOT", "", true, 12},
				{punct, ";", "", false, 13},
				{vr, "$e", "e", false, 14},
				{punct, ";", "", false, 14},
			},
		},
		{
			name: "not a heredoc",
			src:  "<?php $a <<< 2; $b <<= 1;",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{vr, "$a", "a", false, 1},
				{punct, "<<", "", false, 1},
				{punct, "<", "", false, 1},
				{num, "2", "", false, 1},
				{punct, ";", "", false, 1},
				{vr, "$b", "b", false, 1},
				{punct, "<<=", "", false, 1},
				{num, "1", "", false, 1},
				{punct, ";", "", false, 1},
			},
		},
		{
			name: "casts",
			src:  "<?php (int) $a . ( String )$b . (Boolean)$c . (foo) $d",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{cast, "(int)", "int", false, 1},
				{vr, "$a", "a", false, 1},
				{punct, ".", "", false, 1},
				{cast, "( String )", "string", false, 1},
				{vr, "$b", "b", false, 1},
				{punct, ".", "", false, 1},
				{cast, "(Boolean)", "bool", false, 1},
				{vr, "$c", "c", false, 1},
				{punct, ".", "", false, 1},
				{punct, "(", "", false, 1},
				{name, "foo", "", false, 1},
				{punct, ")", "", false, 1},
				{vr, "$d", "d", false, 1},
			},
		},
		{
			name: "operators",
			src:  "<?php -> ?-> :: => .= === !== ?? ??= ?: ... << <=> **=",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{punct, "->", "", false, 1},
				{punct, "?->", "", false, 1},
				{punct, "::", "", false, 1},
				{punct, "=>", "", false, 1},
				{punct, ".=", "", false, 1},
				{punct, "===", "", false, 1},
				{punct, "!==", "", false, 1},
				{punct, "??", "", false, 1},
				{punct, "??=", "", false, 1},
				// "?:" is two tokens, as PHP reads it.
				{punct, "?", "", false, 1},
				{punct, ":", "", false, 1},
				{punct, "...", "", false, 1},
				{punct, "<<", "", false, 1},
				{punct, "<=>", "", false, 1},
				{punct, "**=", "", false, 1},
			},
		},
		{
			name: "halt compiler",
			src:  "<?php __halt_compiler(); <?php $x ?> \"",
			want: []tok{
				{open, "<?php ", "", false, 1},
				{name, "__halt_compiler", "", false, 1},
				{punct, "(", "", false, 1},
				{punct, ")", "", false, 1},
				{punct, ";", "", false, 1},
				{html, ` <?php $x ?> "`, "", false, 1},
			},
		},
		{
			name: "CR line ends",
			src:  "<?php\r$a;\r\n/*\r*/$b;",
			want: []tok{
				{open, "<?php\r", "", false, 1},
				{vr, "$a", "a", false, 2},
				{punct, ";", "", false, 2},
				{cmt, "/*\r*/", "", false, 3},
				{vr, "$b", "b", false, 4},
				{punct, ";", "", false, 4},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := phpsrc.Lex([]byte(tc.src))
			if err != nil {
				t.Fatalf("Lex: %v", err)
			}
			if diff := cmp.Diff(tc.want, toks(got)); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLexUnterminated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		last     tok
		wantLine int // of the error; 0 for none
	}{
		{"single quote", "<?php\n$a = 'abc\n", tok{str, "'abc\n", "abc\n", true, 2}, 2},
		{"double quote", "<?php\n\n$a = \"x{$b[\"", tok{str, "\"x{$b[\"", "", false, 3}, 3},
		{"heredoc", "<?php\n$a = <<<EOT\nabc\n", tok{str, "<<<EOT\nabc\n", "abc\n", true, 2}, 2},
		// PHP only warns about a comment that never ends.
		{"block comment", "<?php\n/* open", tok{cmt, "/* open", "", false, 2}, 0},
		{"line comment", "<?php # end", tok{cmt, "# end", "", false, 1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := phpsrc.Lex([]byte(tc.src))
			var se *phpsrc.SyntaxError
			switch {
			case tc.wantLine == 0 && err != nil:
				t.Fatalf("Lex: %v", err)
			case tc.wantLine != 0 && !errors.As(err, &se):
				t.Fatalf("Lex: err = %v, want a *SyntaxError", err)
			case se != nil && se.Line != tc.wantLine:
				t.Errorf("error line = %d, want %d", se.Line, tc.wantLine)
			}
			last := toks(got)[len(got)-1]
			if tc.last.Value == "" {
				last.Value = ""
			}
			if diff := cmp.Diff(tc.last, last); diff != "" {
				t.Errorf("last token (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenIs(t *testing.T) {
	ts, _ := phpsrc.Lex([]byte("<?php NEW -> 'new'"))
	for _, tc := range []struct {
		tok  phpsrc.Token
		word string
		want bool
	}{
		{ts[1], "new", true}, // keywords ignore case
		{ts[2], "->", true},
		{ts[2], "-", false},
		{ts[3], "new", false}, // a string is not a keyword
	} {
		if got := tc.tok.Is(tc.word); got != tc.want {
			t.Errorf("%q.Is(%q) = %v, want %v", tc.tok.Text, tc.word, got, tc.want)
		}
	}
}

// FuzzLex checks that any input lexes without panicking, and that the
// tokens cover the source in order with only whitespace between them, each
// on the line its offset says.
func FuzzLex(f *testing.F) {
	for _, s := range []string{
		"<?php echo 'a';",
		"<p><?= $x ?>\n<?php\n",
		"<?php \"{$a[\"{$b}\"]}\" `x` <<<E\n $a\n E;\n",
		"<?php <<<'N'\nx\nN . b\"y\" /** d */ #[A] # c\n?>",
		"<?php (int)$a?->b::c ?? 1.5e3; __halt_compiler();data",
		"<?php \"${",
		"<?php\r\n$a\r'\\'",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ts, _ := phpsrc.Lex(src)
		s := string(src)
		pos, line := 0, 1
		for _, tk := range ts {
			if tk.Offset < pos || tk.Offset+len(tk.Text) > len(s) || s[tk.Offset:tk.Offset+len(tk.Text)] != tk.Text {
				t.Fatalf("token %+v is not at its offset (after %d)", tk, pos)
			}
			if strings.Trim(s[pos:tk.Offset], " \t\r\n") != "" {
				t.Fatalf("non-space %q skipped before %+v", s[pos:tk.Offset], tk)
			}
			if tk.Text == "" {
				t.Fatalf("empty token %+v", tk)
			}
			line += lines(s, pos, tk.Offset)
			if tk.Line != line {
				t.Fatalf("token %+v: line %d, want %d", tk, tk.Line, line)
			}
			line += lines(s, tk.Offset, tk.Offset+len(tk.Text))
			pos = tk.Offset + len(tk.Text)
		}
		if strings.Trim(s[pos:], " \t\r\n") != "" {
			t.Fatalf("non-space %q left at the end", s[pos:])
		}
	})
}

func lines(s string, start, end int) int {
	n := 0
	for i := start; i < end; i++ {
		if s[i] == '\n' || (s[i] == '\r' && (i+1 >= len(s) || s[i+1] != '\n')) {
			n++
		}
	}
	return n
}
