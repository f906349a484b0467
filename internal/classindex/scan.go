package classindex

import (
	"slices"
	"strings"

	"github.com/phpbuild/phpbuild/internal/phpsrc"
)

// scanFile reads the declarations of the file at p. Its Classes are
// phpsrc's named class-likes, wherever they are (in an if, in a function),
// as composer counts them too. phpsrc is not composer's reader: composer
// strips the file with php_strip_whitespace, blanks strings with its own
// PhpFileCleaner and matches regular expressions (class-map-generator's
// src/PhpFileParser.php, src/PhpFileCleaner.php). Where the two may read a
// file differently, the file also gets a Hash of its content.
func scanFile(p string, src []byte) File {
	f := File{Path: p, Classes: []string{}}
	toks, lexErr := phpsrc.Lex(src)
	parsed := phpsrc.ParseTokens(toks)
	for _, c := range parsed.Classes {
		if c.Name != "" {
			f.Classes = append(f.Classes, c.Name)
		}
	}
	if lexErr != nil || doubtful(toks) || !slices.Equal(f.Classes, composerClasses(string(src), toks)) {
		f.Hash = digest(src)
	}
	return f
}

// doubtful reports source composer's cleaner does not read as PHP does.
func doubtful(toks []phpsrc.Token) bool {
	for _, t := range toks {
		switch {
		case t.Kind == phpsrc.Name && strings.EqualFold(t.Text, "__halt_compiler"):
			// php_strip_whitespace only lexes, so composer reads the data
			// after __halt_compiler as code; phpsrc reads it as HTML.
			return true
		case t.Kind == phpsrc.Name && gluedKeyword(t.Text):
			return true
		case t.Kind == phpsrc.InlineHTML && strings.Contains(t.Text, "<?"):
			// The cleaner takes any "<?" for an open tag (short tags, <?xml).
			return true
		case t.Kind == phpsrc.String && strings.HasPrefix(t.Text, "`"):
			// The cleaner does not skip backtick strings.
			return true
		case t.Kind == phpsrc.String && strings.HasPrefix(strings.TrimLeft(t.Text, "bB"), `"`):
			// The cleaner ends a string at its first unescaped quote, even
			// one inside an interpolation: "{$a["k"]}".
			s := strings.TrimLeft(t.Text, "bB")
			if end := quoteEnd(s); end != len(s)-1 {
				return true
			}
		}
	}
	return false
}

// gluedKeyword reports a name holding a keyword after a byte above 0x7f,
// which is not a word character to composer's \b: "éclass Foo" declares
// Foo to composer.
func gluedKeyword(name string) bool {
	lower := strings.ToLower(name)
	for _, kw := range []string{"class", "interface", "trait", "enum", "namespace"} {
		for i := strings.Index(lower, kw); i >= 0; {
			if i > 0 && lower[i-1] >= 0x80 {
				return true
			}
			j := strings.Index(lower[i+1:], kw)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	return false
}

// quoteEnd returns the index of the quote closing the string opened at
// s[0], skipping \\ and \" as PhpFileCleaner::skipString does.
func quoteEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"') {
				i++
			}
		case '"':
			return i
		}
	}
	return -1
}

// composerClasses reads the names composer's regular expressions would
// find in the tokens of code: "class|interface|trait|enum" and a name after
// whitespace, the keyword not glued to a word character or to \ $ : >, and
// "namespace [name] {|;" setting the namespace. Whitespace is what
// php_strip_whitespace leaves: a comment alone between two tokens glues
// them.
func composerClasses(src string, toks []phpsrc.Token) []string {
	var code []int // indexes of the tokens of code
	for i, t := range toks {
		switch t.Kind {
		case phpsrc.Comment, phpsrc.DocComment, phpsrc.InlineHTML:
		default:
			code = append(code, i)
		}
	}
	// spaced reports whether the stripped source has a space between
	// tokens a < b: some whitespace between them outside comments.
	spaced := func(a, b int) bool {
		for i := a; i < b; i++ {
			if toks[i].Offset+len(toks[i].Text) < toks[i+1].Offset {
				return true
			}
		}
		return false
	}
	// keyword reports whether the code token at k is a keyword to composer.
	keyword := func(k int) bool {
		if k == 0 || toks[code[k-1]].Kind == phpsrc.OpenTag || spaced(code[k-1], code[k]) {
			return true
		}
		prev := toks[code[k-1]]
		c := prev.Text[len(prev.Text)-1]
		if prev.Kind == phpsrc.String {
			c = 'l' // the cleaner writes each string as "null"
		}
		return !strings.ContainsRune(`\$:>`, rune(c)) && !isWord(c)
	}
	tok := func(k int) phpsrc.Token {
		if k < len(code) {
			return toks[code[k]]
		}
		return phpsrc.Token{}
	}
	classes := []string{}
	ns := ""
	for k := range code {
		t := tok(k)
		if t.Kind != phpsrc.Name || !keyword(k) {
			continue
		}
		switch kw := strings.ToLower(t.Text); kw {
		case "namespace":
			n := tok(k + 1)
			switch {
			case n.Is("{") || n.Is(";"):
				ns = ""
			case n.Kind == phpsrc.Name && n.Text[0] != '\\' && spaced(code[k], code[k+1]) && (tok(k+2).Is("{") || tok(k+2).Is(";")):
				ns = n.Text
			}
		case "class", "interface", "trait", "enum":
			n := tok(k + 1)
			if n.Kind != phpsrc.Name || n.Text[0] == '\\' || !spaced(code[k], code[k+1]) {
				continue
			}
			name := nameRun(src[n.Offset:])
			if name == "extends" || name == "implements" {
				continue // an anonymous class; composer compares case-sensitively
			}
			if i := strings.LastIndexByte(name, ':'); kw == "enum" && i >= 0 {
				name = name[:i]
			}
			classes = append(classes, strings.TrimLeft(ns+`\`+name, `\`))
		}
	}
	return classes
}

// nameRun is the class name composer reads at the start of s:
// [a-zA-Z0-9_\x7f-\xff:\-]*.
func nameRun(s string) string {
	i := 0
	for i < len(s) && (isWord(s[i]) || s[i] >= 0x7f || s[i] == ':' || s[i] == '-') {
		i++
	}
	return s[:i]
}

func isWord(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
