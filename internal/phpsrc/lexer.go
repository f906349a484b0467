package phpsrc

import (
	"fmt"
	"strings"
)

// Kind is what a token is. Whitespace is not a token: readers of PHP never
// need it, and Offset keeps every token's place in the source.
type Kind uint8

const (
	InlineHTML  Kind = iota + 1 // text outside <?php … ?>, echoed as is
	OpenTag                     // <?php and the one whitespace character after it
	OpenTagEcho                 // <?=
	CloseTag                    // ?> and the one newline after it
	Comment                     // // …, # …, /* … */
	DocComment                  // /** … */
	Variable                    // $name; Value is the name without "$"
	Name                        // keywords and names: class, Foo, Foo\Bar, \Foo, namespace\Foo
	Number                      // 12, 0x1F, 1_000, 1.5e3
	String                      // '…', "…", `…`, heredoc and nowdoc
	Cast                        // (int), ( string ); Value is the type
	Punct                       // operators and punctuation, including #[
)

var kindNames = [...]string{
	InlineHTML:  "InlineHTML",
	OpenTag:     "OpenTag",
	OpenTagEcho: "OpenTagEcho",
	CloseTag:    "CloseTag",
	Comment:     "Comment",
	DocComment:  "DocComment",
	Variable:    "Variable",
	Name:        "Name",
	Number:      "Number",
	String:      "String",
	Cast:        "Cast",
	Punct:       "Punct",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Token is one token of PHP source.
type Token struct {
	Kind Kind
	Text string // the source text, exactly
	// Value is a String's decoded content (all of it only when Literal),
	// a Variable's name, a Cast's type ("int", "float", "string", "bool",
	// "array", "object", "unset"), and Text for every other kind.
	Value string
	// Literal is true for a String whose Value is its whole value: quoted
	// strings and heredocs without interpolation, and every nowdoc.
	Literal bool
	Line    int // 1-based line of the token's first byte
	Offset  int // byte offset of the token in the source
}

// Is reports whether t is the keyword or name word (ignoring case, as PHP
// does for keywords) or the punctuation word.
func (t Token) Is(word string) bool {
	switch t.Kind {
	case Name:
		return strings.EqualFold(t.Text, word)
	case Punct:
		return t.Text == word
	}
	return false
}

// SyntaxError is source PHP would refuse: a string or heredoc that runs to
// the end of the file. Lex still returns every token, the unterminated one
// running to the end.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// maxNesting bounds code nested in interpolated strings ("{$a["{$b}"]}"),
// so hostile input cannot exhaust the stack; deeper braces read as text.
const maxNesting = 64

// Lex splits src into tokens. It never fails to return tokens: the error,
// a *SyntaxError, says the last token runs unterminated to the end of src.
// Short open tags (<? alone) are not PHP 8's default and read as HTML. An
// unterminated /* comment is not an error, as PHP only warns about it.
func Lex(src []byte) ([]Token, error) {
	l := &lexer{src: string(src), line: 1}
	l.run()
	if l.err != nil {
		return l.toks, l.err
	}
	return l.toks, nil
}

type lexer struct {
	src   string
	pos   int
	line  int
	depth int // code nested in interpolated strings
	toks  []Token
	err   *SyntaxError
}

func (l *lexer) run() {
	halt := -1 // significant tokens still to read after __halt_compiler
	for l.pos < len(l.src) {
		l.html()
		for l.pos < len(l.src) {
			t, ok := l.code(false)
			if !ok {
				break
			}
			l.toks = append(l.toks, t)
			if halt > 0 && t.Kind != Comment && t.Kind != DocComment {
				halt--
			}
			if t.Kind == Name && strings.EqualFold(t.Text, "__halt_compiler") {
				halt = 3 // "(", ")" and ";" or "?>"
			}
			if halt == 0 || (halt > 0 && t.Kind == CloseTag) {
				// What follows is data, not PHP, as PHP's own
				// token_get_all reports it.
				if l.pos < len(l.src) {
					l.toks = append(l.toks, l.token(InlineHTML, len(l.src)-l.pos))
				}
				return
			}
			if t.Kind == CloseTag {
				break
			}
		}
	}
}

// token makes a token of the next n bytes and moves past them.
func (l *lexer) token(k Kind, n int) Token {
	start := l.pos
	end := min(start+n, len(l.src))
	t := Token{Kind: k, Text: l.src[start:end], Line: l.line, Offset: start}
	t.Value = t.Text
	l.countLines(start, end)
	l.pos = end
	return t
}

// countLines counts "\n", "\r\n" and a lone "\r" as PHP does.
func (l *lexer) countLines(start, end int) {
	for i := start; i < end; i++ {
		switch l.src[i] {
		case '\n':
			l.line++
		case '\r':
			if i+1 >= len(l.src) || l.src[i+1] != '\n' {
				l.line++
			}
		}
	}
}

func (l *lexer) fail(line int, msg string) {
	if l.err == nil {
		l.err = &SyntaxError{Line: line, Msg: msg}
	}
}

// html reads inline HTML up to and including the next open tag.
func (l *lexer) html() {
	for i := l.pos; i+1 < len(l.src); i++ {
		if l.src[i] != '<' || l.src[i+1] != '?' {
			continue
		}
		k, n := openTag(l.src[i:])
		if n == 0 {
			continue
		}
		if i > l.pos {
			l.toks = append(l.toks, l.token(InlineHTML, i-l.pos))
		}
		l.toks = append(l.toks, l.token(k, n))
		return
	}
	l.toks = append(l.toks, l.token(InlineHTML, len(l.src)-l.pos))
}

// openTag returns the kind and length of the open tag s starts with, or 0.
func openTag(s string) (Kind, int) {
	if strings.HasPrefix(s, "<?=") {
		return OpenTagEcho, 3
	}
	if len(s) < 5 || !strings.EqualFold(s[:5], "<?php") {
		return 0, 0
	}
	if len(s) == 5 {
		return OpenTag, 5
	}
	switch s[5] {
	case ' ', '\t', '\n':
		return OpenTag, 6
	case '\r':
		if len(s) > 6 && s[6] == '\n' {
			return OpenTag, 7
		}
		return OpenTag, 6
	}
	return 0, 0
}

// code reads the next token of PHP code; false at the end of src. Nested
// code (inside an interpolated string) has no close tag.
func (l *lexer) code(nested bool) (Token, bool) {
	s := l.src
	for l.pos < len(s) && isSpace(s[l.pos]) {
		l.countLines(l.pos, l.pos+1)
		l.pos++
	}
	if l.pos >= len(s) {
		return Token{}, false
	}
	i := l.pos
	c := s[i]
	next := byte(0)
	if i+1 < len(s) {
		next = s[i+1]
	}
	switch {
	case c == '$' && isNameStart(next):
		n := 2
		for i+n < len(s) && isNameChar(s[i+n]) {
			n++
		}
		t := l.token(Variable, n)
		t.Value = t.Text[1:]
		return t, true
	case (c == 'b' || c == 'B') && (next == '\'' || next == '"' || (next == '<' && heredocAt(s, i+1))):
		return l.str(1), true
	case isNameStart(c) || (c == '\\' && isNameStart(next)):
		return l.token(Name, nameLen(s[i:])), true
	case isDigit(c) || (c == '.' && isDigit(next)):
		return l.token(Number, numberLen(s[i:])), true
	case c == '\'' || c == '"' || c == '`':
		return l.str(0), true
	case c == '<' && heredocAt(s, i):
		return l.str(0), true
	case c == '#' && next != '[', c == '/' && next == '/':
		return l.token(Comment, lineCommentLen(s[i:])), true
	case c == '/' && next == '*':
		end := strings.Index(s[i+2:], "*/")
		n := len(s) - i
		if end >= 0 {
			n = end + 4
		}
		k := Comment
		if n > 4 && s[i+2] == '*' && isSpace(s[i+3]) {
			k = DocComment
		}
		return l.token(k, n), true
	case c == '?' && next == '>' && !nested:
		n := 2
		if i+2 < len(s) && s[i+2] == '\n' {
			n = 3
		} else if i+2 < len(s) && s[i+2] == '\r' {
			n = 3
			if i+3 < len(s) && s[i+3] == '\n' {
				n = 4
			}
		}
		return l.token(CloseTag, n), true
	case c == '(':
		if n, typ := castAt(s[i:]); n > 0 {
			t := l.token(Cast, n)
			t.Value = typ
			return t, true
		}
	}
	return l.token(Punct, punctLen(s[i:])), true
}

func nameLen(s string) int {
	i := 0
	if s[0] == '\\' {
		i++
	}
	for {
		i++ // a name start, checked by the caller or below
		for i < len(s) && isNameChar(s[i]) {
			i++
		}
		if i+1 < len(s) && s[i] == '\\' && isNameStart(s[i+1]) {
			i++
			continue
		}
		return i
	}
}

// numberLen follows PHP's LNUM, DNUM, EXPONENT_DNUM, HNUM, BNUM and ONUM,
// underscores allowed anywhere after the first digit.
func numberLen(s string) int {
	if len(s) > 2 && s[0] == '0' {
		var ok func(byte) bool
		switch s[1] | 0x20 {
		case 'x':
			ok = isHex
		case 'b':
			ok = func(c byte) bool { return c == '0' || c == '1' }
		case 'o':
			ok = func(c byte) bool { return c >= '0' && c <= '7' }
		}
		if ok != nil && ok(s[2]) {
			i := 3
			for i < len(s) && (ok(s[i]) || s[i] == '_') {
				i++
			}
			return i
		}
	}
	i := 0
	digits := func() {
		for i < len(s) && (isDigit(s[i]) || s[i] == '_') {
			i++
		}
	}
	digits()
	if i < len(s) && s[i] == '.' {
		i++
		digits()
	}
	if i < len(s) && s[i]|0x20 == 'e' {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			i = j
			digits()
		}
	}
	return i
}

// lineCommentLen ends a // or # comment before a newline or "?>", which
// closes PHP mode even inside a line comment.
func lineCommentLen(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\n', '\r':
			return i
		case '?':
			if i+1 < len(s) && s[i+1] == '>' {
				return i
			}
		}
	}
	return len(s)
}

var casts = map[string]string{
	"int": "int", "integer": "int",
	"bool": "bool", "boolean": "bool",
	"float": "float", "double": "float", "real": "float",
	"string": "string", "binary": "string",
	"array": "array", "object": "object", "unset": "unset",
}

// castAt returns the length and type of the cast s starts with, or 0.
func castAt(s string) (int, string) {
	i := 1
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	w := i
	for i < len(s) && i-w < 8 && isLetter(s[i]) {
		i++
	}
	word := strings.ToLower(s[w:i])
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if i >= len(s) || s[i] != ')' {
		return 0, ""
	}
	if typ, ok := casts[word]; ok {
		return i + 1, typ
	}
	return 0, ""
}

// puncts are PHP's operators longer than one byte, longest first. "?:" is
// two tokens, as in PHP.
var puncts = []string{
	"**=", "...", "<<=", ">>=", "===", "!==", "<=>", "??=", "?->",
	"->", "=>", "::", "==", "!=", "<>", "<=", ">=", "&&", "||", "++", "--",
	"+=", "-=", "*=", "/=", ".=", "%=", "&=", "|=", "^=", "<<", ">>", "??", "**", "#[",
}

func punctLen(s string) int {
	for _, p := range puncts {
		if strings.HasPrefix(s, p) {
			return len(p)
		}
	}
	return 1
}

// str reads a quoted string, heredoc or nowdoc after a prefix of n bytes
// (PHP's "b" for binary strings).
func (l *lexer) str(prefix int) Token {
	start, line := l.pos, l.line
	body := start + prefix
	switch l.src[body] {
	case '\'':
		return l.single(start, line)
	case '"', '`':
		return l.double(start, line, prefix)
	}
	return l.heredoc(start, line, prefix)
}

func (l *lexer) single(start, line int) Token {
	s := l.src
	i := start
	for i < len(s) && s[i] != '\'' {
		i++ // the prefix
	}
	i++
	var b strings.Builder
	closed := false
	for i < len(s) {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '\\') {
			b.WriteByte(s[i+1])
			i += 2
			continue
		}
		i++
		if c == '\'' {
			closed = true
			break
		}
		b.WriteByte(c)
	}
	if !closed {
		l.fail(line, "unterminated string")
	}
	t := l.token(String, i-start)
	t.Value, t.Literal = b.String(), true
	return t
}

// double reads a "…" or `…` string. Code nested in it ({$…} and ${…}) is
// read as tokens, so quotes inside it do not end the string.
func (l *lexer) double(start, line, prefix int) Token {
	s := l.src
	quote := s[start+prefix]
	i := start + prefix + 1
	interp, closed := false, false
	for i < len(s) && !closed {
		c := s[i]
		switch {
		case c == '\\':
			i += 2
		case c == quote:
			i++
			closed = true
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			interp = true
			i = l.skipCode(i + 2)
		case c == '{' && i+1 < len(s) && s[i+1] == '$':
			interp = true
			i = l.skipCode(i + 1)
		case c == '$' && i+1 < len(s) && isNameStart(s[i+1]):
			interp = true
			i++
		default:
			i++
		}
	}
	i = min(i, len(s))
	if !closed {
		l.fail(line, "unterminated string")
	}
	body := s[start+prefix+1 : i]
	if closed {
		body = body[:len(body)-1]
	}
	t := l.token(String, i-start)
	t.Value = unescape(body, quote)
	t.Literal = !interp && quote == '"'
	return t
}

// skipCode reads the code of an interpolation starting at i up to its
// closing brace, and returns the offset after it. It leaves the line count
// to the string token around it.
func (l *lexer) skipCode(i int) int {
	if l.depth >= maxNesting {
		return i
	}
	l.depth++
	pos, line := l.pos, l.line
	l.pos = i
	for depth := 1; depth > 0; {
		t, ok := l.code(true)
		if !ok {
			break
		}
		switch {
		case t.Kind == Punct && t.Text == "{":
			depth++
		case t.Kind == Punct && t.Text == "}":
			depth--
		}
	}
	end := l.pos
	l.pos, l.line = pos, line
	l.depth--
	return end
}

// heredocAt reports whether s[i:] starts a heredoc or nowdoc: "<<<", spaces,
// a label (quoted in "" or ”), and a newline.
func heredocAt(s string, i int) bool {
	_, _, _, ok := heredocHead(s[i:])
	return ok
}

// heredocHead returns a heredoc's label, whether it is a nowdoc, and the
// length of its head including the newline.
func heredocHead(s string) (label string, nowdoc bool, n int, ok bool) {
	if !strings.HasPrefix(s, "<<<") {
		return "", false, 0, false
	}
	i := 3
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	var quote byte
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		quote = s[i]
		i++
	}
	if i >= len(s) || !isNameStart(s[i]) {
		return "", false, 0, false
	}
	ls := i
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	label = s[ls:i]
	if quote != 0 {
		if i >= len(s) || s[i] != quote {
			return "", false, 0, false
		}
		i++
	}
	switch {
	case i < len(s) && s[i] == '\n':
		i++
	case i < len(s) && s[i] == '\r':
		i++
		if i < len(s) && s[i] == '\n' {
			i++
		}
	default:
		return "", false, 0, false
	}
	return label, quote == '\'', i, true
}

// heredoc reads a heredoc or nowdoc. The closing label may be indented (PHP
// 7.3+); its indentation is removed from every line of the value.
func (l *lexer) heredoc(start, line, prefix int) Token {
	s := l.src
	label, nowdoc, n, _ := heredocHead(s[start+prefix:])
	bodyStart := start + prefix + n
	end, closeLine := len(s), -1
	for k := bodyStart; k < len(s); {
		m := k
		for m < len(s) && (s[m] == ' ' || s[m] == '\t') {
			m++
		}
		if strings.HasPrefix(s[m:], label) && (m+len(label) >= len(s) || !isNameChar(s[m+len(label)])) {
			closeLine, end = k, m+len(label)
			break
		}
		for k < len(s) && s[k] != '\n' && s[k] != '\r' {
			k++
		}
		if k < len(s) && s[k] == '\r' {
			k++
		}
		if k < len(s) && s[k] == '\n' {
			k++
		}
	}
	var body string
	if closeLine < 0 {
		l.fail(line, "unterminated heredoc")
		body = s[bodyStart:]
	} else {
		body = s[bodyStart:closeLine]
		body = strings.TrimSuffix(body, "\n")
		body = strings.TrimSuffix(body, "\r")
		body = dedent(body, s[closeLine:end-len(label)])
	}
	t := l.token(String, end-start)
	if nowdoc {
		t.Value, t.Literal = body, true
		return t
	}
	t.Value, t.Literal = unescape(body, 0), !interpolates(body)
	return t
}

func dedent(body, indent string) string {
	if indent == "" || body == "" {
		return body
	}
	lines := strings.SplitAfter(body, "\n")
	for i, ln := range lines {
		j := 0
		for j < len(indent) && j < len(ln) && (ln[j] == ' ' || ln[j] == '\t') {
			j++
		}
		lines[i] = ln[j:]
	}
	return strings.Join(lines, "")
}

// interpolates reports whether a heredoc body has $name, {$…} or ${…}.
func interpolates(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '$' && (isNameStart(s[i+1]) || s[i+1] == '{'):
			return true
		case s[i] == '{' && s[i+1] == '$':
			return true
		}
	}
	return false
}

// unescape decodes PHP's double-quoted escapes. quote is '"' or '`' for
// quoted strings, whose own quote may be escaped, and 0 for heredocs.
// Unknown escapes keep their backslash, as in PHP.
func unescape(s string, quote byte) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'e':
			b.WriteByte(0x1b)
		case 'f':
			b.WriteByte('\f')
		case '\\', '$':
			b.WriteByte(e)
		case '"', '`':
			if e != quote {
				b.WriteByte('\\')
			}
			b.WriteByte(e)
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1+n < len(s) && isHex(s[i+1+n]) {
				v = v*16 + hexVal(s[i+1+n])
				n++
			}
			if n == 0 {
				b.WriteString(`\x`)
				break
			}
			b.WriteByte(byte(v))
			i += n
		case 'u':
			end := -1
			if i+1 < len(s) && s[i+1] == '{' {
				end = strings.IndexByte(s[i+2:], '}')
			}
			r, ok := 0, end > 0
			for j := i + 2; ok && j < i+2+end; j++ {
				ok = isHex(s[j]) && r <= 0x10FFFF
				r = r*16 + hexVal(s[j])
			}
			if !ok || r > 0x10FFFF {
				b.WriteString(`\u`)
				break
			}
			b.WriteRune(rune(r))
			i += 2 + end
		default:
			if e >= '0' && e <= '7' {
				v, n := 0, 0
				for n < 3 && i+n < len(s) && s[i+n] >= '0' && s[i+n] <= '7' {
					v = v*8 + int(s[i+n]-'0')
					n++
				}
				b.WriteByte(byte(v))
				i += n - 1
				break
			}
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return b.String()
}

func isSpace(c byte) bool     { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isLetter(c byte) bool    { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isHex(c byte) bool       { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }
func isNameStart(c byte) bool { return isLetter(c) || c == '_' || c >= 0x80 }
func isNameChar(c byte) bool  { return isNameStart(c) || isDigit(c) }

func hexVal(c byte) int {
	if isDigit(c) {
		return int(c - '0')
	}
	return int(c|0x20-'a') + 10
}
