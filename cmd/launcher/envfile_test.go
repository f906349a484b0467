package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/release"
)

// TestEnvFileReadsWhatReleaseWrites: the launcher's small reader and
// release.FormatEnv agree on every kind of value.
func TestEnvFileReadsWhatReleaseWrites(t *testing.T) {
	values := map[string]string{
		"PLAIN": "prod", "EMPTY": "", "SPACES": "  padded  ", "SINGLE": "it's", "DOUBLE": `say "hi"`,
		"DOLLAR": "$HOME ${X}", "BACKSLASH": `C:\path\n`, "MULTI": "line1\nline2\r\n", "HASH": "a #b", "EQUALS": `a="b"`,
		"UNICODE": "grüße ✓", "PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
	}
	var vars []release.EnvVar
	for k, v := range values {
		vars = append(vars, release.EnvVar{Key: k, Value: v})
	}
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, release.FormatEnv(vars), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(values) {
		t.Fatalf("read %d values, want %d:\n%q", len(got), len(values), got)
	}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		if values[k] != v {
			t.Errorf("%s = %q, want %q", k, v, values[k])
		}
	}
}
