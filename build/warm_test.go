package build

import (
	"context"
	"testing"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/gittest"
)

// TestComposerStepLikely: the CLI image is warmed for a class added or
// removed, a composer change and a build without a cache image; not for a
// code change, nor when the cache image's commit is unknown.
func TestComposerStepLikely(t *testing.T) {
	gittest.Require(t)
	dir := t.TempDir()
	gittest.Write(t, dir, "composer.json", `{"autoload": {"psr-4": {"App\\": "src/"}}}`)
	gittest.Write(t, dir, "src/A.php", "<?php namespace App; class A {}")
	gittest.Init(t, dir)
	first := gittest.CommitAll(t, dir, "one", "2026-01-01T00:00:00Z")
	commit := func() *git.Commit {
		t.Helper()
		c, err := git.ReadCommit(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	prevAt := func(sha string) *cacheImage { return &cacheImage{revision: sha} }

	gittest.Write(t, dir, "src/A.php", "<?php namespace App; class A { function f() {} }")
	codeChange := gittest.CommitAll(t, dir, "code", "2026-01-02T00:00:00Z")
	gittest.Write(t, dir, "src/B.php", "<?php namespace App; class B {}")
	gittest.CommitAll(t, dir, "class", "2026-01-03T00:00:00Z")
	classAdded := commit()
	for _, tc := range []struct {
		name string
		prev *cacheImage
		want bool
	}{
		{"no cache image", nil, true},
		{"an older cache image, a class added since", prevAt(first), true},
		{"a class added", prevAt(codeChange), true},
		{"the same commit", prevAt(classAdded.SHA), false},
		{"an unknown revision", prevAt(""), false},
	} {
		if got := composerStepLikely(context.Background(), dir, classAdded, tc.prev); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	gittest.Write(t, dir, "src/B.php", "<?php namespace App; class B { const X = 1; }")
	gittest.CommitAll(t, dir, "code again", "2026-01-04T00:00:00Z")
	if composerStepLikely(context.Background(), dir, commit(), prevAt(classAdded.SHA)) {
		t.Error("a code change warms the CLI image")
	}
	gittest.Write(t, dir, "composer.lock", `{"packages": []}`)
	gittest.CommitAll(t, dir, "lock", "2026-01-05T00:00:00Z")
	if !composerStepLikely(context.Background(), dir, commit(), prevAt(classAdded.SHA)) {
		t.Error("a lock change does not warm the CLI image")
	}
}
