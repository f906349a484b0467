package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
)

// jsonValue is a decoded JSON value that remembers its line. encoding/json
// reports byte offsets only for syntax errors, and a user fixing
// `"php": 8.1` in composer.json wants the line of that value.
type jsonValue struct {
	line int
	kind jsonKind
	str  string // string, number (as written), or "true"/"false"
	obj  []jsonMember
	arr  []*jsonValue
}

type jsonMember struct {
	key string
	val *jsonValue
}

type jsonKind int

const (
	jsonNull jsonKind = iota
	jsonString
	jsonNumber
	jsonBool
	jsonObject
	jsonArray
)

func (k jsonKind) String() string {
	return [...]string{"null", "a string", "a number", "a boolean", "an object", "an array"}[k]
}

// jsonDoc is one JSON file: its name for errors and its parsed root.
type jsonDoc struct {
	file string
	root *jsonValue
}

func readJSON(file string) (*jsonDoc, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, badinput.New(file, "reading: %v", badinput.PathCause(err))
	}
	return parseJSON(file, data)
}

func parseJSON(file string, data []byte) (*jsonDoc, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, badinput.New(file, "empty file; want a JSON object")
	}
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	for i, c := range data {
		if c == '\n' {
			p.nl = append(p.nl, int64(i))
		}
	}
	p.dec.UseNumber()
	root, err := p.value()
	if err == nil {
		if _, terr := p.dec.Token(); terr != io.EOF {
			err = fmt.Errorf("unexpected data after the top-level value")
		}
	}
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			// In token mode, Offset counts from the value being decoded, and
			// InputOffset is where that value starts: the larger is nearer.
			return nil, &badinput.Error{File: file, Line: lineAt(data, max(syn.Offset, p.dec.InputOffset())), Err: fmt.Errorf("invalid JSON: %v", syn)}
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &badinput.Error{File: file, Line: lineAt(data, int64(len(data))), Err: errors.New("invalid JSON: unexpected end of file")}
		}
		return nil, &badinput.Error{File: file, Line: lineAt(data, p.dec.InputOffset()), Err: fmt.Errorf("invalid JSON: %v", err)}
	}
	if root.kind != jsonObject {
		return nil, &badinput.Error{File: file, Line: root.line, Err: fmt.Errorf("want a JSON object at the top level, not %s", root.kind)}
	}
	return &jsonDoc{file: file, root: root}, nil
}

type jsonParser struct {
	data  []byte
	dec   *json.Decoder
	depth int
	nl    []int64 // offsets of every newline, for lineAt by binary search
}

// maxJSONDepth bounds nesting: composer files are shallow, and a hostile
// file must not exhaust the stack.
const maxJSONDepth = 256

func (p *jsonParser) value() (*jsonValue, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	return p.from(tok)
}

func (p *jsonParser) from(tok json.Token) (*jsonValue, error) {
	v := &jsonValue{line: p.lineAt(p.dec.InputOffset())}
	switch t := tok.(type) {
	case nil:
		v.kind = jsonNull
	case string:
		v.kind, v.str = jsonString, t
	case json.Number:
		v.kind, v.str = jsonNumber, t.String()
	case bool:
		v.kind, v.str = jsonBool, fmt.Sprint(t)
	case json.Delim:
		if p.depth++; p.depth > maxJSONDepth {
			return nil, fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
		}
		defer func() { p.depth-- }()
		switch t {
		case '{':
			v.kind = jsonObject
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				val, err := p.value()
				if err != nil {
					return nil, err
				}
				v.obj = append(v.obj, jsonMember{key: key, val: val})
			}
		case '[':
			v.kind = jsonArray
			for p.dec.More() {
				val, err := p.value()
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, val)
			}
		}
		if _, err := p.dec.Token(); err != nil { // the closing delimiter
			return nil, err
		}
	}
	return v, nil
}

// lineAt is the line of offset off, found by binary search.
func (p *jsonParser) lineAt(off int64) int {
	return sort.Search(len(p.nl), func(i int) bool { return p.nl[i] >= off }) + 1
}

// lineAt returns the 1-based line holding byte offset off.
func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off == int64(len(data)) && off > 0 && data[off-1] == '\n' {
		off-- // the end of a file that ends a line is on that line
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// get returns member key of an object, or nil.
func (v *jsonValue) get(key string) *jsonValue {
	if v == nil || v.kind != jsonObject {
		return nil
	}
	var found *jsonValue
	for _, m := range v.obj {
		if m.key == key {
			found = m.val // composer, like PHP, keeps the last duplicate
		}
	}
	return found
}

// errAt reports a field of the document.
func (d *jsonDoc) errAt(v *jsonValue, field string, format string, args ...any) error {
	line := 0
	if v != nil {
		line = v.line
	}
	return &badinput.Error{File: d.file, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
}

// stringAt reads an optional string field.
func (d *jsonDoc) stringAt(v *jsonValue, field string) (string, error) {
	if v == nil || v.kind == jsonNull {
		return "", nil
	}
	if v.kind != jsonString {
		return "", d.errAt(v, field, "want a string, not %s", v.kind)
	}
	return v.str, nil
}

// stringMapAt reads an object of strings. PHP writes an empty one as [],
// as composer.lock does with "platform": [] for an app with no platform needs.
func (d *jsonDoc) stringMapAt(v *jsonValue, field string) (map[string]string, error) {
	if v == nil || v.kind == jsonNull || (v.kind == jsonArray && len(v.arr) == 0) {
		return nil, nil
	}
	if v.kind != jsonObject {
		return nil, d.errAt(v, field, "want an object of strings, not %s", v.kind)
	}
	out := make(map[string]string, len(v.obj))
	for _, m := range v.obj {
		if m.val.kind != jsonString {
			return nil, d.errAt(m.val, field+"."+m.key, "want a string, not %s", m.val.kind)
		}
		out[strings.ToLower(m.key)] = m.val.str
	}
	return out, nil
}
