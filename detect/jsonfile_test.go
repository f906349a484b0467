package detect

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

// jsonWhere is the part of a *badinput.Error a user reads to find the
// mistake.
type jsonWhere struct {
	Line  int
	Field string
}

// scalarOffsetBug: in "{\n  ... 10 lines ...\n  \"prefer-stable\": tru\n}" the
// error is on line 11 but reported on line 7.
const scalarOffsetBug = "detect/jsonfile.go parseJSON takes the line from json.SyntaxError.Offset, which for a streaming json.Decoder counts only the bytes of values read through Decode, not the whole input; an error inside a scalar value is reported several lines too early"

// longPrefix is the first 10 lines of a composer.json, so that an error on
// line 11 is far from the bytes the decoder's value scanner has counted.
const longPrefix = "{\n    \"name\": \"acme/app\",\n    \"description\": \"An app\",\n    \"type\": \"project\",\n    \"license\": \"MIT\",\n    \"require\": {\n        \"php\": \"^8.2\",\n        \"ext-intl\": \"*\",\n        \"acme/x\": \"^1.0\"\n    },\n"

func TestParseJSONErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		line int
		msg  string // a part of the message
		bug  string
	}{
		{"missing value", "{\n    \"a\": 1,\n    \"b\": ,\n    \"c\": 3\n}\n", 3, "invalid JSON", ""},
		{"missing comma", "{\n    \"a\": \"x\"\n    \"b\": \"y\"\n}\n", 3, "after object key:value pair", ""},
		{"missing colon", "{\n    \"require\": {\n        \"php\" \"^8.2\"\n    }\n}\n", 3, "after object key", ""},
		{"bad character in column 1", "{\n\"a\": 1,\n@\n}\n", 3, "'@'", ""},
		{"trailing comma", "{\n    \"a\": 1,\n}\n", 3, "looking for beginning of object key", ""},
		{"single quotes", "{\n    'a': 1\n}\n", 2, "invalid JSON", ""},
		{"bad literal", "{\n    \"a\": tru\n}\n", 2, "in literal true", ""},
		{"NaN", "{\n    \"a\": 1,\n    \"b\": NaN\n}\n", 3, "invalid JSON", scalarOffsetBug},
		{"bad literal after many lines", longPrefix + "    \"prefer-stable\": tru\n}\n", 11, "in literal true", scalarOffsetBug},
		{"bad escape after many lines", longPrefix + "    \"autoload\": \"C:\\Users\"\n}\n", 11, "escape", scalarOffsetBug},
		{"control character after many lines", longPrefix + "    \"description\": \"a\tb\"\n}\n", 11, "in string literal", scalarOffsetBug},
		{"missing comma after many lines", longPrefix + "    \"a\": 1\n    \"b\": 2\n}\n", 12, "after object key:value pair", ""},
		{"bad escape", "{\n    \"a\": \"C:\\Users\"\n}\n", 2, "escape", ""},
		{"control character in a string", "{\n    \"a\": \"tab\there\"\n}\n", 2, "in string literal", ""},
		{"trailing garbage on the same line", "{} x", 1, "unexpected data after the top-level value", ""},
		{"trailing garbage on a later line", "{\n}\nxyz\n", 3, "unexpected data after the top-level value", ""},
		{"two objects", "{\n    \"a\": 1\n}\n{\n}\n", 4, "unexpected data after the top-level value", ""},
		{"empty", "", 0, "empty file", ""},
		{"blank", " \n\t\n", 0, "empty file", ""},
		{"top-level array", "[1, 2]\n", 1, "not an array", ""},
		{"top-level array after blank lines", "\n\n[\n    1\n]\n", 3, "not an array", ""},
		{"top-level string", "\"composer.json\"", 1, "not a string", ""},
		{"top-level null", "null\n", 1, "not null", ""},
		{"truncated inside a string", "{\n    \"a\": \"abc", 2, "unexpected end of file", ""},
		{"truncated after a key", "{\n    \"require\": {\n        \"php\"", 3, "unexpected end of file", ""},
		{"truncated inside a list", "{\n    \"a\": [1,", 2, "unexpected end of file", ""},
		{
			"truncated file ending in a newline", "{\n    \"a\": [1,\n", 2, "unexpected end of file",
			"detect/jsonfile.go lineAt: since 2dcd52c dropped the newline adjustment, an end of file right after a final newline is reported on the line after the last one (3 for this 2-line file)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Logf("regression test for a fixed bug: %s", tc.bug)
			}
			doc, err := parseJSON("composer.json", []byte(tc.data))
			if err == nil {
				t.Fatalf("parseJSON succeeded (%+v); want an error", doc.root)
			}
			got := asBadInput(t, err)
			if got.File != "composer.json" {
				t.Errorf("error %q names %q, want composer.json", got, got.File)
			}
			if diff := cmp.Diff(jsonWhere{Line: tc.line}, jsonWhere{got.Line, got.Field}); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", got, tc.msg)
			}
		})
	}
}

// Type errors come after parsing, from the readers of each field.
func TestJSONTypeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		read func(d *jsonDoc) error
		want jsonWhere
		msg  string
	}{
		{
			name: "number for a constraint",
			data: "{\n    \"name\": \"acme/app\",\n    \"require\": {\"php\": 8.1}\n}\n",
			read: readRequire,
			want: jsonWhere{3, "require.php"}, msg: "want a string, not a number",
		},
		{
			name: "value on the line after its key",
			data: "{\n    \"require\": {\n        \"php\":\n            true\n    }\n}\n",
			read: readRequire,
			want: jsonWhere{4, "require.php"}, msg: "not a boolean",
		},
		{
			name: "null constraint",
			data: "{\n    \"require\": {\n        \"php\": \"^8.2\",\n        \"ext-intl\": null\n    }\n}\n",
			read: readRequire,
			want: jsonWhere{4, "require.ext-intl"}, msg: "not null",
		},
		{
			name: "object of strings is a string",
			data: "{\n    \"require\": \"php\"\n}\n",
			read: readRequire,
			want: jsonWhere{2, "require"}, msg: "want an object of strings, not a string",
		},
		{
			name: "object of strings is a list with items",
			data: "{\n    \"require\": [\n        \"php\"\n    ]\n}\n",
			read: readRequire,
			want: jsonWhere{2, "require"}, msg: "not an array",
		},
		{
			name: "string is an object",
			data: "{\n    \"name\": \"x\",\n    \"packageManager\": {\n        \"name\": \"pnpm\"\n    }\n}\n",
			read: func(d *jsonDoc) error {
				_, err := d.stringAt(d.root.get("packageManager"), "packageManager")
				return err
			},
			want: jsonWhere{3, "packageManager"}, msg: "want a string, not an object",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parseOK(t, tc.data)
			err := tc.read(doc)
			if err == nil {
				t.Fatal("read succeeded; want an error")
			}
			got := asBadInput(t, err)
			if diff := cmp.Diff(tc.want, jsonWhere{got.Line, got.Field}); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", got, tc.msg)
			}
		})
	}
}

func readRequire(d *jsonDoc) error {
	_, err := d.stringMapAt(d.root.get("require"), "require")
	return err
}

func TestJSONStringMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		want map[string]string
	}{
		{"absent", "{}", nil},
		{"null", "{\"require\": null}", nil},
		{"PHP's empty array", "{\"require\": []}", nil},
		{"keys lower-cased", "{\"require\": {\"PHP\": \"^8.2\", \"Ext-Intl\": \"*\"}}", map[string]string{"php": "^8.2", "ext-intl": "*"}},
		{"last duplicate wins", "{\"require\": {\"php\": \"^8.1\"}, \"require\": {\"php\": \"^8.3\"}}", map[string]string{"php": "^8.3"}},
		{"escapes", "{\"require\": {\"acme\\/x\": \"\\u003e=1.0\"}}", map[string]string{"acme/x": ">=1.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := parseOK(t, tc.data)
			got, err := doc.stringMapAt(doc.root.get("require"), "require")
			if err != nil {
				t.Fatalf("stringMapAt: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Every value remembers the line it starts on, so errors can point at it.
func TestJSONValueLines(t *testing.T) {
	doc := parseOK(t, `{
    "name": "acme/app",
    "require": {
        "php": "^8.2",
        "ext-intl": "*"
    },
    "list": [
        1,
        {"deep": [true, null]},
        2.5e3
    ],
    "last": false
}
`)
	var got []string
	var visit func(path string, v *jsonValue)
	visit = func(path string, v *jsonValue) {
		got = append(got, path+"@"+strconv.Itoa(v.line)+":"+v.kind.String())
		for _, m := range v.obj {
			visit(path+"."+m.key, m.val)
		}
		for i, e := range v.arr {
			visit(path+"["+strconv.Itoa(i)+"]", e)
		}
	}
	visit("", doc.root)
	want := []string{
		"@1:an object",
		".name@2:a string",
		".require@3:an object",
		".require.php@4:a string",
		".require.ext-intl@5:a string",
		".list@7:an array",
		".list[0]@8:a number",
		".list[1]@9:an object",
		".list[1].deep@9:an array",
		".list[1].deep[0]@9:a boolean",
		".list[1].deep[1]@9:null",
		".list[2]@10:a number",
		".last@12:a boolean",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("value lines (-want +got):\n%s", diff)
	}
	if got := doc.root.get("list").arr[2].str; got != "2.5e3" {
		t.Errorf("number kept as %q, want it as written, 2.5e3", got)
	}
}

func TestReadJSONMissing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "package.json")
	_, err := readJSON(file)
	got := asBadInput(t, err)
	if got.File != file {
		t.Errorf("error names %q, want %q", got.File, file)
	}
	if n := strings.Count(got.Error(), file); n != 1 {
		t.Errorf("error %q names the file %d times, want once", got, n)
	}
}

func parseOK(t *testing.T, data string) *jsonDoc {
	t.Helper()
	doc, err := parseJSON("composer.json", []byte(data))
	if err != nil {
		t.Fatalf("parseJSON: %v", err)
	}
	return doc
}

func asBadInput(t *testing.T, err error) *badinput.Error {
	t.Helper()
	var be *badinput.Error
	if !errors.As(err, &be) {
		t.Fatalf("error %v (%T) is not a *badinput.Error", err, err)
	}
	return be
}
