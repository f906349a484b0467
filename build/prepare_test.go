package build

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/runtimes"
)

// A commit built from a used work tree and from a fresh clone is detected
// and keyed the same: empty untracked dirs, ignored files and a checked-out
// submodule are not the commit's.
func TestPlanGitWorkTreeMatchesClone(t *testing.T) {
	gittest.Require(t)
	t.Parallel()
	sub := gittest.NewRepo(t)
	gittest.Write(t, sub, "src/Lib.php", "<?php\n")
	gittest.CommitAll(t, sub, "lib", "")

	worktree := gittest.NewRepo(t)
	for f, body := range map[string]string{
		"composer.json":                      `{"require": {"php": "^8.2"}}`,
		"composer.lock":                      `{"packages": [], "platform": {"php": "^8.2"}}`,
		"public/index.php":                   "<?php\n",
		"src/Kernel.php":                     "<?php\n",
		"storage/framework/cache/.gitignore": "*\n!.gitignore\n",
		".gitignore":                         "/cache/\n/var/\n/vendor/\n.env.local\n",
	} {
		gittest.Write(t, worktree, f, body)
	}
	gittest.Git(t, worktree, "-c", "protocol.file.allow=always", "submodule", "--quiet", "add", sub, "lib/sub")
	gittest.CommitAll(t, worktree, "app", "")

	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Git(t, filepath.Dir(clone), "clone", "-q", worktree, clone)

	// What a developer's work tree gathers; none of it is committed, and
	// git status stays clean.
	if err := os.MkdirAll(filepath.Join(worktree, "var", "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string]string{
		"cache/pages/home.html":           "<p>cached</p>\n",
		"var/log/dev.log":                 "x\n",
		"vendor/autoload.php":             "<?php\n",
		".env.local":                      "APP_SECRET=x\n",
		"storage/framework/cache/data/ab": "x",
	} {
		gittest.Write(t, worktree, f, body)
	}

	o, err := newOptions([]Option{WithRuntimeRepo(runtimeRepo(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	type result struct {
		Dirty    bool
		WebRoot  string
		Writable []string
		Files    []string
		Warnings []string
		Layers   []PlanLayer
	}
	run := func(dir string) result {
		t.Helper()
		commit, app, rt, err := prepare(ctx, dir, o)
		if err != nil {
			t.Fatalf("prepare(%s): %v", dir, err)
		}
		p, err := NewPlan(ctx, app, rt)
		if err != nil {
			t.Fatalf("NewPlan(%s): %v", dir, err)
		}
		return result{commit.Dirty, app.WebRoot, app.Writable, app.Files, p.Warnings, p.Layers}
	}
	got, want := run(worktree), run(clone)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("work tree differs from a clone (-clone +work tree):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"storage"}, want.Writable); diff != "" {
		t.Errorf("Writable (-want +got):\n%s", diff)
	}
	wantFiles := []string{".gitignore", ".gitmodules", "composer.json", "composer.lock", "public/index.php", "src/Kernel.php", "storage/framework/cache/.gitignore"}
	if diff := cmp.Diff(wantFiles, want.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// runtimeRepo is a runtime repo in an in-memory registry holding one PHP 8.4
// runtime with the catalog's default extensions.
func runtimeRepo(t *testing.T) name.Repository {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(u.Host + "/team/php-runtimes")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := runtimes.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	push := func() string {
		img, err := random.Image(64, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(repo.Digest(d.String()), img); err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	e := runtimes.Entry{
		Key:        "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		PHP:        "8.4.5",
		PHPMinor:   "8.4",
		Extensions: cat.DefaultExtensions,
		Base:       "docker.io/library/debian:trixie-slim",
		BaseDigest: "sha256:" + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		Run:        push(),
		Build:      push(),
		Composer:   push(),
		Built:      "2025-06-01T12:00:00Z",
	}
	if err := runtimes.Record(context.Background(), repo, e); err != nil {
		t.Fatal(err)
	}
	return repo
}
