package filecache

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadFile: a file read twice comes from memory the second time; a
// change of its bytes, size, time or identity is read anew; an error is
// os.ReadFile's.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.php")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write("<?php // v1", t0)
	first, err := ReadFile(p)
	if err != nil || string(first) != "<?php // v1" {
		t.Fatalf("ReadFile = %q, %v", first, err)
	}
	again, _ := ReadFile(p)
	if &again[0] != &first[0] {
		t.Error("a second read of an unchanged file was not served from memory")
	}

	write("<?php // v2", t0.Add(time.Millisecond)) // same size, another time
	if got, _ := ReadFile(p); string(got) != "<?php // v2" {
		t.Errorf("after a same-size change: %q", got)
	}
	write("<?php // version 3", t0.Add(time.Millisecond)) // same time, another size
	if got, _ := ReadFile(p); string(got) != "<?php // version 3" {
		t.Errorf("after a change of size: %q", got)
	}
	// Another file renamed over it, same size and time: another inode.
	q := filepath.Join(dir, "b.php")
	if err := os.WriteFile(q, []byte("<?php // version 4"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(q, t0.Add(time.Millisecond), t0.Add(time.Millisecond))
	if err := os.Rename(q, p); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadFile(p); string(got) != "<?php // version 4" {
		t.Errorf("after a rename over it: %q", got)
	}

	if _, err := ReadFile(filepath.Join(dir, "missing.php")); !os.IsNotExist(err) {
		t.Errorf("a missing file: %v, want not-exist", err)
	}
}

// TestReadFileRaw: readFile returns the file's bytes whatever the size it
// was told (an empty file, one grown since its stat, one shrunk), and
// os.ReadFile's errors.
func TestReadFileRaw(t *testing.T) {
	dir := t.TempDir()
	big := bytes.Repeat([]byte("<?php class A {}\n"), 10000)
	for _, tc := range []struct {
		name string
		body []byte
		hint int64
	}{
		{"empty", nil, 0},
		{"exact", big, int64(len(big))},
		{"grown", big, 10},
		{"shrunk", []byte("x"), 4096},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.body, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readFile(p, tc.hint)
		if err != nil || !bytes.Equal(got, tc.body) {
			t.Errorf("%s: readFile = %d bytes, %v; want %d bytes", tc.name, len(got), err, len(tc.body))
		}
	}
	if _, err := readFile(filepath.Join(dir, "missing"), 0); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v, want a not-exist error naming it", err)
	}
	if _, err := readFile(dir, 0); err == nil {
		t.Error("a directory: no error")
	}
}

// TestSum: the sum is the bytes' sha256, computed once, and a changed file
// gets its own.
func TestSum(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.php")
	if err := os.WriteFile(p, []byte("<?php // one"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	data, sum, err := Sum(p, fi)
	if err != nil || string(data) != "<?php // one" || sum != sha256.Sum256(data) {
		t.Fatalf("Sum = %q, %x, %v", data, sum, err)
	}
	mu.Lock()
	summed := files[p].summed
	mu.Unlock()
	if !summed {
		t.Error("the sum was not kept")
	}
	if err := os.WriteFile(p, []byte("<?php // two, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Lstat(p)
	data, sum, err = Sum(p, fi)
	if err != nil || string(data) != "<?php // two, longer" || sum != sha256.Sum256(data) {
		t.Errorf("after a change: Sum = %q, %x, %v", data, sum, err)
	}
}
