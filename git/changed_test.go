package git

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestChanged: additions, deletions and edits between two commits, a
// rename as both, paths relative to an app dir inside the repository, and
// nothing outside it.
func TestChanged(t *testing.T) {
	requireGit(t)
	repo := t.TempDir()
	git(t, repo, "init", "-q")
	writeFile(t, repo, "apps/shop/src/A.php", "<?php class A {}")
	writeFile(t, repo, "apps/shop/src/Old.php", "<?php class Old {}")
	writeFile(t, repo, "apps/shop/composer.json", "{}")
	writeFile(t, repo, "README.md", "hi")
	from := commitAll(t, repo, "one")
	writeFile(t, repo, "apps/shop/src/A.php", "<?php class A { function f() {} }")
	writeFile(t, repo, "apps/shop/src/B.php", "<?php class B {}")
	if err := os.Rename(filepath.Join(repo, "apps/shop/src/Old.php"), filepath.Join(repo, "apps/shop/src/New.php")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, repo, "README.md", "hello")
	to := commitAll(t, repo, "two")
	got, err := Changed(context.Background(), filepath.Join(repo, "apps", "shop"), from, to)
	if err != nil {
		t.Fatal(err)
	}
	type short struct {
		Status           byte
		Path             string
		OldMode, NewMode string
	}
	var paths []short
	for _, c := range got {
		paths = append(paths, short{c.Status, c.Path, c.OldMode, c.NewMode})
	}
	want := []short{{'M', "src/A.php", "100644", "100644"}, {'A', "src/B.php", "000000", "100644"},
		{'A', "src/New.php", "000000", "100644"}, {'D', "src/Old.php", "100644", "000000"}}
	if !slices.Equal(paths, want) {
		t.Errorf("Changed = %q, want %q", paths, want)
	}
	// The blobs on each side are what the files held.
	blobs, err := Blobs(context.Background(), repo, []string{got[0].OldBlob, got[0].NewBlob, got[3].OldBlob, got[3].OldBlob})
	if err != nil {
		t.Fatal(err)
	}
	for id, body := range map[string]string{got[0].OldBlob: "<?php class A {}", got[0].NewBlob: "<?php class A { function f() {} }", got[3].OldBlob: "<?php class Old {}"} {
		if string(blobs[id]) != body {
			t.Errorf("blob %s = %q, want %q", id, blobs[id], body)
		}
	}
	if _, err := Blobs(context.Background(), repo, []string{"0123456789012345678901234567890123456789"}); err == nil {
		t.Error("a missing blob: no error")
	}
	if _, err := Changed(context.Background(), repo, "0123456789012345678901234567890123456789", to); err == nil {
		t.Error("an unknown commit: no error")
	}
}
