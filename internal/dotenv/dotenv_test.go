package dotenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Var // File is filled in
	}{
		{"empty", "", nil},
		{"blank lines and comments", "\n  \n# comment\n\t# indented comment\nA=1\n\n", []Var{{Key: "A", Value: "1", Line: 5}}},
		{"no final newline", "A=1\nB=2", []Var{{Key: "A", Value: "1", Line: 1}, {Key: "B", Value: "2", Line: 2}}},
		{"export prefix", "export A=1\nexport\tB=2\n  export   C = 3", []Var{{Key: "A", Value: "1", Line: 1}, {Key: "B", Value: "2", Line: 2}, {Key: "C", Value: "3", Line: 3}}},
		{"key named export", "export=1\nexported=2", []Var{{Key: "export", Value: "1", Line: 1}, {Key: "exported", Value: "2", Line: 2}}},
		{"spaces around =", "A = 1\n  B\t=\t2", []Var{{Key: "A", Value: "1", Line: 1}, {Key: "B", Value: "2", Line: 2}}},
		{"key charset", "_a.b_C9=1", []Var{{Key: "_a.b_C9", Value: "1", Line: 1}}},
		{"empty value", "A=\nB=   ", []Var{{Key: "A", Line: 1}, {Key: "B", Line: 2}}},
		{"value with =", "A=b=c", []Var{{Key: "A", Value: "b=c", Line: 1}}},
		{"unquoted trimmed with inner spaces", "A=  hello   world  ", []Var{{Key: "A", Value: "hello   world", Line: 1}}},
		{"inline comment", "A=value # comment\nB=value\t# tab comment", []Var{{Key: "A", Value: "value", Line: 1}, {Key: "B", Value: "value", Line: 2}}},
		{"# inside a word stays", "A=https://example.com/#top", []Var{{Key: "A", Value: "https://example.com/#top", Line: 1}}},
		{"# at the start is a comment", "A=#fff\nB= # nothing", []Var{{Key: "A", Line: 1}, {Key: "B", Line: 2}}},
		{"unquoted keeps backslashes and quotes", `A=a\nb"c'd`, []Var{{Key: "A", Value: `a\nb"c'd`, Line: 1}}},
		{"single quotes are literal", `A='  a\n ${B} $C "d" # e  '`, []Var{{Key: "A", Value: `  a\n ${B} $C "d" # e  `, Line: 1}}},
		{"single quotes span lines", "A='one\n\n  two'\nB=2", []Var{{Key: "A", Value: "one\n\n  two", Line: 1}, {Key: "B", Value: "2", Line: 4}}},
		{"single quotes then comment", "A='x' # c\nB='y'#c\nC=''", []Var{{Key: "A", Value: "x", Line: 1}, {Key: "B", Value: "y", Line: 2}, {Key: "C", Line: 3}}},
		{"double quotes escapes", `A="\\ \" \$ \n \r \t \f \v"`, []Var{{Key: "A", Value: "\\ \" $ \n \r \t \f \v", Line: 1}}},
		{"double quotes keep ' and #", `A="it's # not a comment"  # but this is`, []Var{{Key: "A", Value: "it's # not a comment", Line: 1}}},
		{"double quotes keep spaces", `A="  padded  "`, []Var{{Key: "A", Value: "  padded  ", Line: 1}}},
		{
			"double quotes span lines",
			"KEY=\"-----BEGIN KEY-----\nMIIB\\tx\n-----END KEY-----\n\"\nNEXT=1",
			[]Var{{Key: "KEY", Value: "-----BEGIN KEY-----\nMIIB\tx\n-----END KEY-----\n", Line: 1}, {Key: "NEXT", Value: "1", Line: 5}},
		},
		{"empty double quotes", `A=""`, []Var{{Key: "A", Line: 1}}},
		{
			"expansion",
			"A=x\nB=${A}y\nC=\"${A} ${B}\"\nD='${A}'\nE=\"\\${A}\"\nF=$A\nG=${NOPE}-\nH=a\\${A}",
			[]Var{
				{Key: "A", Value: "x", Line: 1},
				{Key: "B", Value: "xy", Line: 2},
				{Key: "C", Value: "x xy", Line: 3},
				{Key: "D", Value: "${A}", Line: 4},
				{Key: "E", Value: "${A}", Line: 5},
				{Key: "F", Value: "$A", Line: 6},
				{Key: "G", Value: "-", Line: 7},
				{Key: "H", Value: `a\x`, Line: 8},
			},
		},
		{"expansion sees values set so far", "A=1\nB=${A}\nA=2\nC=${A}${C}", []Var{{Key: "B", Value: "1", Line: 2}, {Key: "A", Value: "2", Line: 3}, {Key: "C", Value: "2", Line: 4}}},
		{"lone $ stays", `A=$ 5$`, []Var{{Key: "A", Value: "$ 5$", Line: 1}}},
		{"later key wins", "A=1\nB=2\nA=3", []Var{{Key: "B", Value: "2", Line: 2}, {Key: "A", Value: "3", Line: 3}}},
		{"CRLF", "A=1\r\nB=\"x\r\ny\"\r\nC='z'\r\n", []Var{{Key: "A", Value: "1", Line: 1}, {Key: "B", Value: "x\ny", Line: 2}, {Key: "C", Value: "z", Line: 4}}},
		{"BOM", "\uFEFFA=1", []Var{{Key: "A", Value: "1", Line: 1}}},
		{"BOM before a comment", "\uFEFF# saved by Notepad\nA=1", []Var{{Key: "A", Value: "1", Line: 2}}},
		{
			"BOM and CRLF, as Windows editors save",
			"\uFEFF# comment\r\n\r\nexport APP_NAME=My Shop\r\nA=x # c\r\nB='y'\r\nC=\r\nD=${APP_NAME}\r\n",
			[]Var{
				{Key: "APP_NAME", Value: "My Shop", Line: 3},
				{Key: "A", Value: "x", Line: 4},
				{Key: "B", Value: "y", Line: 5},
				{Key: "C", Line: 6},
				{Key: "D", Value: "My Shop", Line: 7},
			},
		},
		{"CRLF in single quotes", "A='one\r\ntwo'\r\n", []Var{{Key: "A", Value: "one\ntwo", Line: 1}}},
		{"escaped \\r stays", "A=\"one\\r\\ntwo\"\r\n", []Var{{Key: "A", Value: "one\r\ntwo", Line: 1}}},
		{"unicode", "A=héllo wörld ✓\nB=\"日本\"", []Var{{Key: "A", Value: "héllo wörld ✓", Line: 1}, {Key: "B", Value: "日本", Line: 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f.env", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				tc.want[i].File = "f.env"
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		line  int
		field string
		msg   string
	}{
		{"no =", "A=1\nJUSTAKEY\n", 2, "", "expected KEY=value"},
		{"export without =", "export A", 1, "", "expected KEY=value"},
		{"no key", "=1", 1, "", "missing variable name before ="},
		{"key starts with a digit", "1A=1", 1, "", `invalid variable name "1A"`},
		{"dash in key", "\nA-B=1", 2, "", `invalid variable name "A-B"`},
		{"space in key", "A B=1", 1, "", `invalid variable name "A B"`},
		{"non-ASCII key", "É=1", 1, "", `invalid variable name "É"`},
		{"unterminated double quote", "A=1\nB=\"open\n\nC=2\n", 2, "B", "unterminated double-quoted value: no closing \" before the end of the file"},
		{"unterminated single quote", "A='open", 1, "A", "unterminated single-quoted value"},
		{"escaped closing quote", `A="open\"`, 1, "A", "unterminated double-quoted value"},
		{"text after double quote", "A=\"x\" y", 1, "A", `unexpected text after the closing quote; write \" for a quote`},
		{"inner quotes not escaped", "A=1\nB=\"say \"hi\"\"", 2, "B", "unexpected text after the closing quote"},
		{"text after single quote", "A='it's'", 1, "A", "single quotes cannot hold a '"},
		{"text after multi-line value", "A=\"x\ny\" z", 2, "A", "unexpected text after the closing quote"},
		{"unknown escape", "A=\"one\ntwo \\q\"", 2, "A", `unknown escape "\q" in double quotes; write \\ for a backslash`},
		{"unknown escape of a non-ASCII letter", `A="\é"`, 1, "A", `unknown escape "\é"`},
		{"backslash at end of line", "A=\"one\\\ntwo\"", 1, "A", "backslash at the end of a line in double quotes"},
		{"default value", "A=${B:-x}", 1, "A", `unsupported expansion "${B:-x}": only ${NAME} is expanded`},
		{"empty expansion", `A="${}"`, 1, "A", `unsupported expansion "${}"`},
		{"unclosed expansion", "A=\"${B\n}\"", 1, "A", `"${" without a closing "}"`},
		{"NUL byte", "A=1\nB=x\x00y", 2, "", "NUL byte"},
		{"NUL byte in a comment", "# \x00", 1, "", "NUL byte"},
		{"invalid UTF-8", "A=1\n\nB=\xff", 3, "", "invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f.env", []byte(tc.in))
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("Parse = %v, %v; want a *badinput.Error", got, err)
			}
			if be.File != "f.env" || be.Line != tc.line || be.Field != tc.field {
				t.Errorf("error at %s:%d field %q, want f.env:%d field %q", be.File, be.Line, be.Field, tc.line, tc.field)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
}

func TestParseErrorReads(t *testing.T) {
	_, err := Parse(".env.production", []byte("A=1\nSECRET=\"abc\n"))
	want := `.env.production:2: SECRET: unterminated double-quoted value: no closing " before the end of the file`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Var{{Key: "A", Value: "1", File: path, Line: 1}}, got); diff != "" {
		t.Errorf("ReadFile (-want +got):\n%s", diff)
	}

	missing := filepath.Join(dir, "missing.env")
	_, err = ReadFile(missing)
	var be *badinput.Error
	if !errors.As(err, &be) || be.File != missing || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("ReadFile(missing) = %v, want a *badinput.Error naming %s", err, missing)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want one that is fs.ErrNotExist", err)
	}
	if strings.Count(err.Error(), missing) != 1 {
		t.Errorf("error %q should name the file once", err)
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		in   []Var
		want string
	}{
		{"nothing", nil, ""},
		{
			"sorted, single-quoted where possible",
			[]Var{{Key: "B", Value: "two words"}, {Key: "A", Value: `$HOME ${X} \n #`}, {Key: "C"}, {Key: "D", Value: `{"a": "\"b\""}`}},
			"A='$HOME ${X} \\n #'\nB='two words'\nC=''\nD='{\"a\": \"\\\"b\\\"\"}'\n",
		},
		{
			"double-quoted when needed",
			[]Var{{Key: "Q", Value: "it's \"$5\"\t\\"}, {Key: "M", Value: "a\r\nb"}, {Key: "E", Value: `a="b`}},
			"E=\"a=\\\"b\"\nM=\"a\\r\\nb\"\nQ=\"it's \\\"\\$5\\\"\t\\\\\"\n",
		},
		{"duplicates keep their order", []Var{{Key: "A", Value: "1"}, {Key: "A", Value: "2"}}, "A='1'\nA='2'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, string(Format(tc.in))); diff != "" {
				t.Errorf("Format (-want +got):\n%s", diff)
			}
			if Format(tc.in) == nil {
				t.Error("Format returned nil, which run takes for a rollback's snapshot")
			}
		})
	}
}

// trickyValues are values a snapshot must carry through unchanged.
var trickyValues = []string{
	"",
	"plain",
	" leading and trailing ",
	"\t",
	`'`,
	`"`,
	`it's "quoted"`,
	`\`,
	`a\`,
	`\\`,
	`\n`,
	`\"`,
	`C:\new\table`,
	`$`,
	`$HOME`,
	`${HOME}`,
	`\${HOME}`,
	`$(id)`,
	`'$X:-$Y'`,
	"#",
	"a #b",
	"#!/bin/sh",
	"=",
	"line one\nline two\n",
	"-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n",
	"\r\n",
	"ends with a quote'\n\"",
	"héllo ✓ 日本 \u00a0",
	"export X=1",
	`say \"hi\"`,
	`{"key": "-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n"}`,
	`a="b`,
	`a="b" it's`,
	`$X:-\$Y it's`,
}

func TestFormatRoundTrip(t *testing.T) {
	var vars []Var
	for i, v := range trickyValues {
		vars = append(vars, Var{Key: fmt.Sprintf("V%02d", i), Value: v})
	}
	got, err := Parse("snapshot", Format(vars))
	if err != nil {
		t.Fatalf("Parse(Format) = %v\n%s", err, Format(vars))
	}
	values := map[string]string{}
	for _, v := range got {
		values[v.Key] = v.Value
	}
	for _, v := range vars {
		t.Run(v.Key, func(t *testing.T) {
			if values[v.Key] != v.Value {
				t.Errorf("%q read back as %q", v.Value, values[v.Key])
			}
		})
	}
	if len(got) != len(vars) {
		t.Errorf("read back %d variables, want %d", len(got), len(vars))
	}
}

func FuzzFormatRoundTrip(f *testing.F) {
	for _, v := range trickyValues {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsRune(value, 0) || !utf8.ValidString(value) {
			t.Skip("not a possible env value")
		}
		data := Format([]Var{{Key: "K", Value: value}})
		got, err := Parse("snapshot", data)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", data, err)
		}
		if len(got) != 1 || got[0].Value != value {
			t.Fatalf("%q read back as %+v from %q", value, got, data)
		}
	})
}

// FuzzParse: whatever the file holds, Parse returns values or one
// *badinput.Error, which the launcher prints as its one line; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"A=1", "\uFEFFexport A = 'x'\r\n", "A=\"${B}\\n\nc\"", "A='", "A=${", "A=\"\\", "=", "#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		_, err := Parse("f.env", []byte(data))
		var be *badinput.Error
		if err != nil && !errors.As(err, &be) {
			t.Fatalf("Parse(%q) = %v, want a *badinput.Error", data, err)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n") {
			t.Fatalf("Parse(%q) error %q is more than one line", data, err)
		}
	})
}
