package filecache

import (
	"os"
	"path/filepath"
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
