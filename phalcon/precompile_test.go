package phalcon

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPrecompileFiles(t *testing.T) {
	p := &Precompile{
		Options:    VoltOptions{Path: "/app/cache/", Separator: "_", Extension: ".php", Bootstrap: "app/volt.php"},
		Services:   nil,
		Extensions: []Extension{{Kind: "function", Name: "money", Code: "$compiler->addFunction('money', 'number_format');\n"}},
		AppPath:    "/app",
		Templates:  []string{"app/views/index/index.volt", "app/views/layouts/main.volt", "views/x.volt"},
	}
	files, err := p.Files()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"volt.php", "volt.json", "extensions.php"}, names); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	script := string(files[0].Data)
	for _, want := range []string{"'" + PrecompilerDir + "/volt.json'", "'" + PrecompilerDir + "/extensions.php'", `"` + errorMarker + `\t"`} {
		if !strings.Contains(script, want) {
			t.Errorf("the script lacks %s", want)
		}
	}
	if strings.Contains(script, "{{") {
		t.Errorf("the script has an unexpanded placeholder")
	}
	var cfg map[string]any
	if err := json.Unmarshal(files[1].Data, &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"path": "/app/cache/", "separator": "_", "extension": ".php", "prefix": "", "bootstrap": "/app/app/volt.php",
		"factoryDefault": false, "services": []any{},
		"templates": []any{"/app/app/views/index/index.volt", "/app/app/views/layouts/main.volt", "/app/views/x.volt"},
		"viewsDirs": []any{"/app/app/views/index/", "/app/app/views/layouts/", "/app/app/views/", "/app/app/", "/app/views/", "/app/"},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if got, want := string(files[2].Data), "<?php\n"+p.Extensions[0].Code; got != want {
		t.Errorf("extensions.php = %q, want %q", got, want)
	}
	if got := p.Command(); !cmp.Equal(got, []string{"php", "/phpbuild/volt.php"}) {
		t.Errorf("command = %q", got)
	}
}

func TestParseCompileError(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want *CompileError
	}{
		{name: "with a line", line: errorMarker + "\t/app/views/a.volt\t3\tSyntax error, unexpected EOF in /app/views/a.volt on line 3",
			want: &CompileError{Template: "/app/views/a.volt", Line: 3, Message: "Syntax error, unexpected EOF in /app/views/a.volt on line 3"}},
		{name: "without a line", line: errorMarker + "\t/app/views/a.volt\t0\tno such file", want: &CompileError{Template: "/app/views/a.volt", Message: "no such file"}},
		{name: "message with tabs kept", line: errorMarker + "\t/app/a.volt\t1\ta\tb", want: &CompileError{Template: "/app/a.volt", Line: 1, Message: "a\tb"}},
		{name: "other output", line: "compiled 3 templates"},
		{name: "marker inside a line", line: "x " + errorMarker + "\t/app/a.volt\t1\tm"},
		{name: "too few fields", line: errorMarker + "\t/app/a.volt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseCompileError(tc.line)
			if ok != (tc.want != nil) {
				t.Fatalf("ok = %v", ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
