package dotenv

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/phpbuild/phpbuild/badinput"
)

// Var is one KEY=value of an env file.
type Var struct {
	Key   string
	Value string
	File  string // where it was set; "" for a value from elsewhere, such as a release's secret
	Line  int
}

// ReadFile reads and parses path. A file it cannot read is a
// *badinput.Error naming it that wraps the cause, so a caller to whom a
// missing file is no error can test errors.Is(err, fs.ErrNotExist).
func ReadFile(path string) ([]Var, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, badinput.New(path, "reading: %w", badinput.PathCause(err))
	}
	return Parse(path, data)
}

// Parse parses dotenv syntax; name is used in errors. It returns one
// Var per key, in the order of their lines; a key set twice keeps the
// later value. Every syntax error is a *badinput.Error with name and line.
//
// The dialect is what vlucas/phpdotenv v5 and docker compose agree on,
// with these choices:
//
//   - KEY = value is allowed, as in both (symfony/dotenv rejects it).
//   - Unquoted values are trimmed and may hold inner spaces, as compose
//     reads them; phpdotenv rejects "a b". A # starts a comment at the start
//     of the value or after a space or tab, so COLOR=#fff is empty (as in
//     phpdotenv and symfony/dotenv) and URL=a#b keeps the # (as in compose).
//   - Single quotes are literal and may span lines (compose, symfony/dotenv).
//   - Double quotes may span lines and know \\ \" \$ \n \r \t \f \v; any
//     other escape is an error, as in phpdotenv (compose keeps it verbatim).
//   - ${NAME} expands in double-quoted and unquoted values to the value of
//     NAME set earlier in the same data, or to "" (compose, symfony/dotenv;
//     phpdotenv keeps an unknown ${NAME} verbatim). $NAME without braces
//     stays literal, as in phpdotenv; compose would expand it. Defaults such
//     as ${NAME:-x} are an error: phpdotenv keeps them verbatim while
//     compose expands them, so no reading is safe.
//   - A line without =, such as a bare KEY, is an error: compose copies
//     KEY from its own environment and phpdotenv unsets it.
func Parse(name string, data []byte) ([]Var, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	// Inside quotes too, as in phpdotenv: a PEM key saved on Windows
	// should not carry \r.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	p := &parser{file: name, lines: strings.Split(text, "\n"), vars: map[string]Var{}}
	for i, l := range p.lines {
		if strings.IndexByte(l, 0) >= 0 {
			return nil, p.errorf(i+1, "", "NUL byte; an env file is text")
		}
		if !utf8.ValidString(l) {
			return nil, p.errorf(i+1, "", "invalid UTF-8; save the file as UTF-8")
		}
	}
	for ; p.n < len(p.lines); p.n++ {
		if err := p.entry(); err != nil {
			return nil, err
		}
	}
	vars := slices.Collect(maps.Values(p.vars))
	slices.SortFunc(vars, func(a, b Var) int { return cmp.Compare(a.Line, b.Line) })
	return vars, nil
}

// parser reads lines one by one; a quoted value may take more lines
// than the entry it starts on.
type parser struct {
	file  string
	lines []string
	n     int // index of the line being read
	vars  map[string]Var
}

func (p *parser) errorf(line int, key, format string, args ...any) error {
	return &badinput.Error{File: p.file, Line: line, Field: key, Err: fmt.Errorf(format, args...)}
}

// entry reads the entry, blank line or comment that starts on line p.n.
func (p *parser) entry() error {
	line := p.n + 1
	s := strings.TrimLeft(p.lines[p.n], " \t")
	if s == "" || s[0] == '#' {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		s = strings.TrimLeft(rest, " \t")
	}
	key, raw, ok := strings.Cut(s, "=")
	if !ok {
		return p.errorf(line, "", "expected KEY=value")
	}
	key = strings.TrimRight(key, " \t")
	switch {
	case key == "":
		return p.errorf(line, "", "missing variable name before =")
	case !validName(key):
		return p.errorf(line, "", "invalid variable name %q: use letters, digits, _ and ., not starting with a digit", key)
	}
	value, err := p.value(key, strings.TrimLeft(raw, " \t"))
	if err != nil {
		return err
	}
	p.vars[key] = Var{Key: key, Value: value, File: p.file, Line: line}
	return nil
}

func (p *parser) value(key, s string) (string, error) {
	if s != "" && (s[0] == '\'' || s[0] == '"') {
		return p.quoted(key, s[1:], s[0])
	}
	for i := range len(s) {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	s = strings.TrimRight(s, " \t")
	// Unquoted values know no escapes: a \ stays, as in phpdotenv and compose.
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "${") {
			v, width, err := p.expand(key, s[i:])
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += width - 1
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String(), nil
}

// quoted reads a value from just after its opening quote q to the closing
// one, going on to the following lines until it finds it.
func (p *parser) quoted(key, s string, q byte) (string, error) {
	start := p.n + 1
	var b strings.Builder
	for {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == q:
				return b.String(), p.afterQuote(key, s[i+1:], q)
			case q == '"' && c == '\\':
				if i+1 == len(s) {
					return "", p.errorf(p.n+1, key, `backslash at the end of a line in double quotes; write \\ for a backslash`)
				}
				r, ok := escapes[s[i+1]]
				if !ok {
					e, _ := utf8.DecodeRuneInString(s[i+1:])
					return "", p.errorf(p.n+1, key, `unknown escape "\%c" in double quotes; write \\ for a backslash`, e)
				}
				b.WriteByte(r)
				i++
				continue
			case q == '"' && strings.HasPrefix(s[i:], "${"):
				v, width, err := p.expand(key, s[i:])
				if err != nil {
					return "", err
				}
				b.WriteString(v)
				i += width - 1
				continue
			}
			b.WriteByte(c)
		}
		p.n++
		if p.n == len(p.lines) {
			kind := "double-quoted"
			if q == '\'' {
				kind = "single-quoted"
			}
			return "", p.errorf(start, key, "unterminated %s value: no closing %c before the end of the file", kind, q)
		}
		b.WriteByte('\n')
		s = p.lines[p.n]
	}
}

var escapes = map[byte]byte{'\\': '\\', '"': '"', '$': '$', 'n': '\n', 'r': '\r', 't': '\t', 'f': '\f', 'v': '\v'}

// afterQuote checks what follows a closing quote: phpdotenv rejects text
// there, and compose would read it as the start of the next entry.
func (p *parser) afterQuote(key, rest string, q byte) error {
	rest = strings.TrimLeft(rest, " \t")
	if rest == "" || rest[0] == '#' {
		return nil
	}
	if q == '"' {
		return p.errorf(p.n+1, key, `unexpected text after the closing quote; write \" for a quote inside the value`)
	}
	return p.errorf(p.n+1, key, `unexpected text after the closing quote; single quotes cannot hold a ', use double quotes`)
}

// expand reads the ${NAME} that s starts with and returns its value and
// its length in s.
func (p *parser) expand(key, s string) (string, int, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", 0, p.errorf(p.n+1, key, `"${" without a closing "}"; for a literal $ use single quotes`)
	}
	if name := s[2:end]; validName(name) {
		return p.vars[name].Value, end + 1, nil
	}
	return "", 0, p.errorf(p.n+1, key, "unsupported expansion %q: only ${NAME} is expanded; for a literal $ use single quotes", s[:end+1])
}

func validName(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case i > 0 && (c == '.' || '0' <= c && c <= '9'):
		default:
			return false
		}
	}
	return s != ""
}

// Format writes vars, sorted by key, as KEY='value' or KEY="value"
// lines that Parse, vlucas/phpdotenv v5 and symfony/dotenv all read
// back to the same values. A key given twice is written twice, the later
// last, so every reader keeps the later.
//
// Single quotes are the one form all three read literally, so a value is
// single-quoted unless it holds a ', a line break, or =" (phpdotenv takes
// that for the start of a multi-line value). Those few are double-quoted
// with \\ \" \$ \n \r escaped and tabs left as they are, since
// symfony/dotenv knows no \t. Among them symfony/dotenv alone misreads a
// backslash before n, r or " (it unescapes \n before \\, and \\\" ends its
// value), and a $NAME:-x or $NAME:=x whose x holds a $. It also rejects
// keys with a . or not starting with a letter or _ and a letter.
func Format(vars []Var) []byte {
	sorted := slices.Clone(vars)
	slices.SortStableFunc(sorted, func(a, b Var) int { return strings.Compare(a.Key, b.Key) })
	b := []byte{} // never nil: to release, a nil snapshot means "a rollback's, already on the host"
	for _, v := range sorted {
		b = append(b, v.Key...)
		b = append(b, '=')
		b = append(b, quoteValue(v.Value)...)
		b = append(b, '\n')
	}
	return b
}

var doubleQuoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`, "\r", `\r`)

func quoteValue(v string) string {
	if !strings.ContainsAny(v, "'\r\n") && !strings.Contains(v, `="`) {
		return "'" + v + "'"
	}
	return `"` + doubleQuoteEscaper.Replace(v) + `"`
}
