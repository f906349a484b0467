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
	want := []Change{{'M', "src/A.php"}, {'A', "src/B.php"}, {'A', "src/New.php"}, {'D', "src/Old.php"}}
	if !slices.Equal(got, want) {
		t.Errorf("Changed = %q, want %q", got, want)
	}
	if _, err := Changed(context.Background(), repo, "0123456789012345678901234567890123456789", to); err == nil {
		t.Error("an unknown commit: no error")
	}
}
