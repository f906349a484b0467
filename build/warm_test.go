package build

import (
	"context"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/runtimes"
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

// TestToWarm: a build without a cache image warms the node image when the
// app has assets and the runtime a node image (its first layers are the CLI
// image's), else the CLI image; with a cache image, what composerStepLikely
// says.
func TestToWarm(t *testing.T) {
	gittest.Require(t)
	dir := t.TempDir()
	gittest.Write(t, dir, "src/A.php", "<?php class A {}")
	gittest.Init(t, dir)
	sha := gittest.CommitAll(t, dir, "one", "2026-01-01T00:00:00Z")
	commit := &git.Commit{SHA: sha}
	rt := &runtimes.Runtime{CLIImage: "registry.example/rt@sha256:" + strings.Repeat("4", 64), NodeImage: "registry.example/rt@sha256:" + strings.Repeat("5", 64)}
	assets, plain := &detect.App{Node: &detect.Node{PackageManager: "npm"}}, &detect.App{}
	old := &runtimes.Runtime{CLIImage: rt.CLIImage}
	for _, tc := range []struct {
		name string
		prev *cacheImage
		app  *detect.App
		rt   *runtimes.Runtime
		want string
	}{
		{"cold, assets", nil, assets, rt, rt.NodeImage},
		{"cold, no assets", nil, plain, rt, rt.CLIImage},
		{"cold, a runtime without a node image", nil, assets, old, rt.CLIImage},
		{"the same commit", &cacheImage{revision: sha}, assets, rt, ""},
	} {
		if got := toWarm(context.Background(), dir, commit, tc.prev, tc.app, tc.rt); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
