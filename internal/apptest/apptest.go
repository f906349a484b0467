// Package apptest writes app directories for tests from a map of files, so
// each test states its app in one literal.
package apptest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write makes a new temp dir holding files and returns it. See Into.
func Write(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	Into(t, dir, files)
	return dir
}

// Into writes files under dir. Names are slash-separated; a name ending in
// "/" or a body of "<dir>" is an empty directory, and a body "->TARGET" is a
// symlink to TARGET.
func Into(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") || body == "<dir>" {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(body, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
