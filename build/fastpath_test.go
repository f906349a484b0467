package build_test

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
)

// noBuildkit is a buildkitd address nothing listens on: a build that opens
// a BuildKit session with it fails, so one that succeeds opened none.
const noBuildkit = "unix:///nonexistent/phpbuild-fast-path.sock"

// fastThenFull builds dir's HEAD twice: with the cache and no buildkitd,
// which must build only the app layer, and then from scratch (--no-cache,
// with buildkitd) into another repo. Both must give the same digest.
func fastThenFull(t *testing.T, dir string, rt, repo name.Repository) {
	t.Helper()
	ctx := ctxT(t)
	var rec recorder
	reads := &blobReads{inner: remote.DefaultTransport, repo: "/v2/" + repo.RepositoryStr() + "/"}
	fast, err := push(ctx, dir, repo, append(buildOpts(t, rt), build.WithBuildkitHost(noBuildkit), build.WithLayerEvents(rec.add),
		build.WithRemoteOptions(remote.WithTransport(reads)))...)
	if err != nil {
		t.Fatalf("fast path (no buildkitd): %v", err)
	}
	// What the cache image, the parent's, says of its layers, digests and
	// diffIDs included, is in its manifest: its config is not fetched.
	parent := buildtest.Git(t, dir, "rev-parse", "HEAD^")
	if prev, err := remote.Image(repo.Tag(parent)); err == nil {
		cfg, err := prev.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(reads.paths(), reads.repo+"blobs/"+cfg.String()) {
			t.Errorf("fast path read the cache image's config %s", cfg)
		}
	}
	// The parent's manifest, the cache image's, is read once.
	n := 0
	for _, p := range reads.paths() {
		if p == reads.repo+"manifests/"+parent {
			n++
		}
	}
	if n != 1 {
		t.Errorf("fast path read the parent's manifest %d times, want once: %q", n, reads.paths())
	}
	// The parent has an image: the repo's tags, which grow with every
	// build, are not listed.
	if slices.Contains(reads.paths(), reads.repo+"tags/list") {
		t.Errorf("fast path listed the repo's tags: %q", reads.paths())
	}
	if got := rec.built(); !slices.Equal(got, []string{"app"}) {
		t.Errorf("fast path built %q, want only app", got)
	}
	// Only the app layer, the config blob and the provenance travel (the
	// SBOM is the parent's, already there); what the push says it sent is
	// what was sent.
	var appSize int64
	for _, e := range rec.events {
		if e.Name == "app" {
			appSize = e.Size
		}
	}
	if u := fast.Uploaded; u == nil || u.Blobs != 3 || u.Bytes < appSize || u.Bytes > appSize+64<<10 || u.AlreadyThere < 1<<20 {
		t.Errorf("fast path uploaded %+v; want 3 blobs, the app layer's %d bytes, the config and the provenance, the rest (megabytes) already there", u, appSize)
	}
	full, err := push(ctx, dir, testRepo(t, "nocache"), buildOpts(t, rt, build.WithoutCache())...)
	if err != nil {
		t.Fatalf("--no-cache build: %v", err)
	}
	if len(fast.Attachments) != 2 || len(full.Attachments) != 2 {
		t.Fatalf("attachments: fast path %+v, --no-cache %+v; want the SBOM and the provenance", fast.Attachments, full.Attachments)
	}
	if diff := cmp.Diff(fast.Attachments[0], full.Attachments[0]); diff != "" {
		t.Errorf("the fast path's SBOM differs from --no-cache's (-fast +full):\n%s", diff)
	}
	if fast.Digest != full.Digest {
		t.Errorf("fast path gave %s, --no-cache %s: the same commit must give the same image\n%s", fast.Digest, full.Digest, imageDiff(t, repo.Digest(fast.Digest), full.Refs[0]))
	}
}

// blobReads records what is read from one repo: blobs and manifests.
type blobReads struct {
	inner http.RoundTripper
	repo  string // "/v2/REPO/"
	mu    sync.Mutex
	read  []string
}

func (b *blobReads) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, b.repo) {
		b.mu.Lock()
		b.read = append(b.read, r.URL.Path)
		b.mu.Unlock()
	}
	return b.inner.RoundTrip(r)
}

func (b *blobReads) paths() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.read)
}

// imageDiff names the layers, and the config, that differ between two
// pushed images.
func imageDiff(t *testing.T, a name.Reference, bRef string) string {
	t.Helper()
	b, err := name.ParseReference(bRef)
	if err != nil {
		return err.Error()
	}
	var out []string
	var cfgs [2]*v1.ConfigFile
	var lss [2][]v1.Layer
	for i, ref := range []name.Reference{a, b} {
		img, err := remote.Image(ref)
		if err != nil {
			return err.Error()
		}
		if cfgs[i], err = img.ConfigFile(); err != nil {
			return err.Error()
		}
		if lss[i], err = img.Layers(); err != nil {
			return err.Error()
		}
	}
	for i := range max(len(lss[0]), len(lss[1])) {
		var da, db v1.Hash
		if i < len(lss[0]) {
			da, _ = lss[0][i].Digest()
		}
		if i < len(lss[1]) {
			db, _ = lss[1][i].Digest()
		}
		if da != db {
			out = append(out, fmt.Sprintf("layer %d: %s vs %s", i, da, db))
			if i < len(lss[0]) && i < len(lss[1]) {
				out = append(out, tarDiff(lss[0][i], lss[1][i])...)
			}
		}
	}
	if d := cmp.Diff(cfgs[0], cfgs[1]); d != "" {
		out = append(out, "config (-fast +full):\n"+d)
	}
	return strings.Join(out, "\n")
}

// appendLine adds a line to dir/rel: a change that declares nothing.
func appendLine(t *testing.T, dir, rel, line string) {
	t.Helper()
	write(t, dir, rel, readFile(t, filepath.Join(dir, rel))+line+"\n")
}

// TestFastPathEveryApp: on every sample app, a commit that changes code
// but declares no class builds without BuildKit, to the image a build from
// scratch makes.
func TestFastPathEveryApp(t *testing.T) {
	cases := []struct {
		app, file string
		phalcon   bool
	}{
		{app: "bare", file: "index.php"},
		{app: "plain", file: "src/Page.php"},
		{app: "assets", file: "public/index.php"},
		{app: "phalcon", file: "app/controllers/IndexController.php", phalcon: true},
		{app: "phalcon-shop", file: "app/Controllers/ProductsController.php", phalcon: true},
		{app: "worker", file: "src/Queue/Worker.php"},
	}
	// Every testdata app, so a new one cannot be left out.
	apps, _ := filepath.Glob("../testdata/apps/*")
	if len(apps) != len(cases) {
		t.Fatalf("%d testdata apps, %d cases: give each app one", len(apps), len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.app, func(t *testing.T) {
			rt := testRuntimes(t)
			if tc.phalcon {
				rt, _ = buildtest.PhalconRuntimes(t)
			}
			dir := gitApp(t, tc.app)
			repo := testRepo(t, "fast-"+tc.app)
			if _, err := push(ctxT(t), dir, repo, buildOpts(t, rt)...); err != nil {
				t.Fatalf("first build: %v", err)
			}
			appendLine(t, dir, tc.file, "// a code change")
			commit(t, dir, "code", "2026-01-03T00:00:00Z")
			fastThenFull(t, dir, rt, repo)
		})
	}
}

// TestAutoloadLayer walks commits of the plain app: a classmap dir added,
// method bodies changed under psr-4, in the classmap dir and outside any
// autoload path (fast path, same bytes as from scratch), then a class
// added (the autoload layer is dumped again, vendor is not), another body
// change and a class renamed in its own file.
func TestAutoloadLayer(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	repo := testRepo(t, "autoload")

	edit(t, dir, "composer.json", `"App\\": "src/"
        }`, `"App\\": "src/"
        },
        "classmap": ["lib/"]`)
	write(t, dir, "lib/Legacy/Report.php", "<?php\nclass Legacy_Report\n{\n    public function title() { return 'report v1'; }\n}\n")
	write(t, dir, "bin/tool.php", "<?php\necho \"tool v1\\n\";\n")
	commit(t, dir, "a classmap dir", "2026-01-03T00:00:00Z")
	var rec recorder
	res, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"vendor", "autoload", "config", "app"}; !slices.Equal(got, want) {
		t.Errorf("first build built %q, want %q", got, want)
	}
	ctr, _ := runImage(t, repo.Digest(res.Digest).String())
	if out, code := ctr.Exec(t, "php", "-r", "require '/app/vendor/autoload.php'; echo (new Legacy_Report)->title(), ' ', class_exists('App\\\\Page') ? 'page' : 'no page';"); code != 0 || strings.TrimSpace(out) != "report v1 page" {
		t.Errorf("autoloading from the image: %d %q, want \"report v1 page\"", code, out)
	}
	classmap, code := ctr.Exec(t, "cat", "/app/vendor/composer/autoload_classmap.php")
	if code != 0 || !strings.Contains(classmap, "'Legacy_Report' => $baseDir . '/lib/Legacy/Report.php'") || !strings.Contains(classmap, "'App\\\\Page' => $baseDir . '/src/Page.php'") {
		t.Errorf("autoload_classmap.php (%d) lacks the app's classes:\n%s", code, classmap)
	}

	edit(t, dir, "src/Page.php", "'world'", "'the world'")
	edit(t, dir, "lib/Legacy/Report.php", "report v1", "report v2")
	edit(t, dir, "bin/tool.php", "tool v1", "tool v2")
	commit(t, dir, "method bodies", "2026-01-04T00:00:00Z")
	fastThenFull(t, dir, rt, repo)

	write(t, dir, "src/Invoice.php", "<?php\n\nnamespace App;\n\nfinal class Invoice\n{\n}\n")
	commit(t, dir, "a class added", "2026-01-05T00:00:00Z")
	rec = recorder{}
	res, err = push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"autoload", "app"}; !slices.Equal(got, want) {
		t.Errorf("after a class was added built %q, want %q", got, want)
	}
	ctr, _ = runImage(t, repo.Digest(res.Digest).String())
	if out, code := ctr.Exec(t, "php", "-r", "require '/app/vendor/autoload.php'; echo class_exists('App\\\\Invoice') ? 'invoice' : 'none';"); code != 0 || strings.TrimSpace(out) != "invoice" {
		t.Errorf("the added class: %d %q", code, out)
	}

	// The index carried from the last build: a body change keeps it, a
	// class renamed inside its file (the same path, a modification) does
	// not.
	edit(t, dir, "src/Page.php", "'the world'", "'the whole world'")
	commit(t, dir, "a method body again", "2026-01-06T00:00:00Z")
	fastThenFull(t, dir, rt, repo)
	edit(t, dir, "src/Invoice.php", "final class Invoice", "final class Bill")
	commit(t, dir, "a class renamed in its file", "2026-01-07T00:00:00Z")
	rec = recorder{}
	if _, err = push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...); err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"autoload", "app"}; !slices.Equal(got, want) {
		t.Errorf("after a class was renamed built %q, want %q", got, want)
	}

	// A class added in a commit never built, then a body change on top:
	// the cache image is two commits back, and what changed since it
	// decides, not what changed since the parent (read early all the same).
	write(t, dir, "src/Quote.php", "<?php\n\nnamespace App;\n\nfinal class Quote\n{\n}\n")
	commit(t, dir, "a class added, not built", "2026-01-08T00:00:00Z")
	edit(t, dir, "src/Page.php", "'the whole world'", "'the world again'")
	commit(t, dir, "a body change on it", "2026-01-09T00:00:00Z")
	rec = recorder{}
	if res, err = push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...); err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"autoload", "app"}; !slices.Equal(got, want) {
		t.Errorf("a class added since the cache image, not since the parent: built %q, want %q", got, want)
	}
	ctr, _ = runImage(t, repo.Digest(res.Digest).String())
	if classmap, code := ctr.Exec(t, "cat", "/app/vendor/composer/autoload_classmap.php"); code != 0 || !strings.Contains(classmap, "'App\\\\Quote' => $baseDir . '/src/Quote.php'") {
		t.Errorf("autoload_classmap.php (%d) lacks App\\Quote:\n%s", code, classmap)
	}
}

// TestAutoloadScripts: an app whose composer.json runs a script with the
// autoloader's dump keeps the autoloader in the app layer, dumped with
// the script, which writes into the app; plan says why.
func TestAutoloadScripts(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	edit(t, dir, "composer.json", `"config": {`, `"scripts": {
        "post-autoload-dump": "php -r \"file_put_contents('generated.txt', 'made by composer');\""
    },
    "config": {`)
	commit(t, dir, "a post-autoload-dump script", "2026-01-03T00:00:00Z")
	plan, err := build.PlanDir(ctx, dir, build.WithRuntimeRepo(rt))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range plan.Layers {
		names = append(names, l.Name)
		if l.Name == "app" && !strings.Contains(l.Note, "post-autoload-dump") {
			t.Errorf("plan's app layer note %q does not say why it carries the autoloader", l.Note)
		}
	}
	if slices.Contains(names, "autoload") {
		t.Errorf("plan has an autoload layer for an app with a post-autoload-dump script: %q", names)
	}
	repo := testRepo(t, "scripts")
	res, err := push(ctx, dir, repo, buildOpts(t, rt)...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ctr, _ := runImage(t, repo.Digest(res.Digest).String())
	if out, code := ctr.Exec(t, "cat", "/app/generated.txt"); code != 0 || out != "made by composer" {
		t.Errorf("the script's file in the image: %d %q", code, out)
	}
}

// tarDiff lists the entries two layers hold differently.
func tarDiff(a, b v1.Layer) []string {
	read := func(l v1.Layer) map[string]string {
		out := map[string]string{}
		rc, err := l.Uncompressed()
		if err != nil {
			return out
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err != nil {
				return out
			}
			body, _ := io.ReadAll(tr)
			out[h.Name] = fmt.Sprintf("mode %o uid %d time %s size %d sha256 %x", h.Mode, h.Uid, h.ModTime.UTC().Format(time.RFC3339), h.Size, sha256.Sum256(body))
		}
	}
	ea, eb := read(a), read(b)
	var out []string
	for _, n := range slices.Sorted(maps.Keys(ea)) {
		if ea[n] != eb[n] {
			out = append(out, fmt.Sprintf("  %s: %s vs %s", n, ea[n], eb[n]))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(eb)) {
		if _, ok := ea[n]; !ok {
			out = append(out, fmt.Sprintf("  %s: only in the second: %s", n, eb[n]))
		}
	}
	return out
}

// TestNoOpReadsNoDiff: building a commit whose SHA tag is in the repo runs
// neither git diff nor cat-file (the diff read early waits for the tag's
// answer), and is not built; the next commit, a code change, reads its
// diff and takes the fast path, without buildkitd.
func TestNoOpReadsNoDiff(t *testing.T) {
	rt := testRuntimes(t)
	dir := gitApp(t, "plain")
	repo := testRepo(t, "noop-diff")
	ctx := ctxT(t)
	if _, err := push(ctx, dir, repo, buildOpts(t, rt)...); err != nil {
		t.Fatalf("first build: %v", err)
	}
	appendLine(t, dir, "src/Page.php", "// a code change")
	commit(t, dir, "code", "2026-01-03T00:00:00Z")
	built, err := push(ctx, dir, repo, buildOpts(t, rt)...)
	if err != nil {
		t.Fatalf("second build: %v", err)
	}

	// git, logged: each command's subcommand, a line each.
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	bin, log := t.TempDir(), filepath.Join(t.TempDir(), "git.log")
	write(t, bin, "git", fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\nexec %q \"$@\"\n", log, real))
	if err := os.Chmod(filepath.Join(bin, "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	ran := func() []string {
		t.Helper()
		b, _ := os.ReadFile(log)
		os.Remove(log)
		var subs []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			for _, f := range strings.Fields(line) {
				// The first word after git's -C DIR and -c KEY=VALUE.
				if f == "diff" || f == "cat-file" || f == "rev-parse" {
					subs = append(subs, f)
					break
				}
			}
		}
		return subs
	}

	again, err := push(ctx, dir, repo, append(buildOpts(t, rt), build.WithBuildkitHost(noBuildkit))...)
	if err != nil {
		t.Fatalf("the same commit again: %v", err)
	}
	subs := ran()
	if !again.Existing || again.Digest != built.Digest || slices.Contains(subs, "diff") || slices.Contains(subs, "cat-file") || !slices.Contains(subs, "rev-parse") {
		t.Errorf("the same commit again: existing %v, digest %s (want %s), git ran %v: want rev-parse and no diff or cat-file", again.Existing, again.Digest, built.Digest, subs)
	}

	appendLine(t, dir, "src/Page.php", "// another code change")
	commit(t, dir, "code again", "2026-01-04T00:00:00Z")
	next, err := push(ctx, dir, repo, append(buildOpts(t, rt), build.WithBuildkitHost(noBuildkit))...)
	if err != nil {
		t.Fatalf("a code change after it (fast path, no buildkitd): %v", err)
	}
	if subs := ran(); next.Existing || !slices.Contains(subs, "diff") {
		t.Errorf("a code change: existing %v, git ran %v; want a build that read the diff", next.Existing, subs)
	}
}
