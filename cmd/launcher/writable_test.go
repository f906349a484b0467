package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMakeWritable(t *testing.T) {
	root := t.TempDir()
	storage := filepath.Join(root, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(root, writableFile)
	dirs := []string{storage, storage + "/framework", storage + "/framework/cache", storage + "/logs", root + "/missing/parent"}
	if err := os.WriteFile(list, []byte(strings.Join(dirs, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	makeWritable(list, &log)
	for _, d := range dirs[:4] {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s not made: %v", d, err)
		}
	}
	// A dir whose parent is not writable storage is reported, not made.
	if !strings.Contains(log.String(), "making the writable dir "+root+"/missing/parent") || strings.Count(log.String(), "\n") != 1 {
		t.Errorf("log = %q, want one line about the missing parent", log.String())
	}
	// No list (an image with no writable dirs) is nothing to do.
	log.Reset()
	makeWritable(filepath.Join(root, "none"), &log)
	if log.Len() != 0 {
		t.Errorf("log = %q", log.String())
	}
}
