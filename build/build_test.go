package build_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
)

type recorder struct {
	mu     sync.Mutex
	events []build.LayerEvent
}

func (r *recorder) add(e build.LayerEvent) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// built lists the layers that were built, not reused, in image order.
func (r *recorder) built() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if !e.Reused {
			out = append(out, e.Name)
		}
	}
	return out
}

func TestBuildPlainApp(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	repo := testRepo(t, "plain")
	sha := git(t, dir, "rev-parse", "HEAD")

	var rec recorder
	res, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	wantRefs := []string{repo.Tag("1.0.0").String() + "@" + res.Digest, repo.Tag(sha).String() + "@" + res.Digest}
	if !slices.Equal(res.Refs, wantRefs) {
		t.Errorf("refs = %q, want %q (semver first, SHA last)", res.Refs, wantRefs)
	}
	if got, want := rec.built(), []string{"vendor", "autoload", "config", "app"}; !slices.Equal(got, want) {
		t.Errorf("first build built %q, want %q", got, want)
	}

	ctr, base := runImage(t, repo.Tag(sha).String(), "var/cache")
	t.Run("pages", func(t *testing.T) {
		p := get(t, base+"/hello")
		if p.status != 200 || !strings.Contains(p.body, "Hello, tester!") || !strings.Contains(p.body, "path: /hello") {
			t.Errorf("GET /hello = %d %q; want the page, greeting from the container env", p.status, p.body)
		}
		if v := p.header.Get("X-Powered-By"); v != "" {
			t.Errorf("X-Powered-By = %q; expose_php should be off", v)
		}
		if v := p.header.Get("Server"); strings.ContainsAny(v, "0123456789") {
			t.Errorf("Server = %q; nginx should not show its version", v)
		}
		h := get(t, base+"/health")
		if h.status != 200 || !strings.Contains(h.body, `"status":"ok"`) {
			t.Errorf("GET /health = %d %q", h.status, h.body)
		}
		w := get(t, base+"/write")
		if strings.TrimSpace(w.body) != "cache writable, code read-only" {
			t.Errorf("GET /write = %q; the writable dir must be writable and the code not", w.body)
		}
	})
	t.Run("never served", func(t *testing.T) {
		for _, p := range []string{"/.env", "/composer.json", "/composer.lock", "/vendor/autoload.php", "/.git/config", "/../composer.json", "/.htaccess", "/index.php/../../composer.json"} {
			if got := get(t, base+p); got.status != 404 && got.status != 403 && got.status != 400 {
				t.Errorf("GET %s = %d %q, want 404, 403 or 400", p, got.status, got.body)
			}
		}
	})
	t.Run("inside", func(t *testing.T) {
		out, code := ctr.Exec(t, "sh", "-c", `id -u; for f in /app/.env /app/.git /app/.gitignore; do test -e $f && echo "present $f"; done; grep Uid /proc/1/status; test -w /app/src/Page.php && echo code-writable; true`)
		if code != 0 {
			t.Fatalf("exec: %d\n%s", code, out)
		}
		lines := strings.Split(out, "\n")
		if lines[0] != "1000" {
			t.Errorf("exec runs as uid %q, want 1000", lines[0])
		}
		if strings.Contains(out, "present /app/.env") || strings.Contains(out, "present /app/.git\n") || strings.Contains(out, "code-writable") {
			t.Errorf("inside the container:\n%s", out)
		}
		if !strings.Contains(out, "Uid:\t1000") {
			t.Errorf("PID 1 is not the app user:\n%s", out)
		}
		if out, code := ctr.Exec(t, "/usr/local/bin/launcher", "health"); code != 0 || !strings.Contains(out, "GET /health → 200") {
			t.Errorf("launcher health (the image's HEALTHCHECK) = %d %q", code, out)
		}
	})
	t.Run("stop finishes in-flight requests", func(t *testing.T) {
		done := make(chan page, 1)
		go func() { done <- get(t, base+"/slow?ms=2500") }()
		time.Sleep(700 * time.Millisecond)
		start := time.Now()
		ctr.Stop(t, 10*time.Second)
		p := <-done
		if p.status != 200 || strings.TrimSpace(p.body) != "slow done" {
			t.Errorf("in-flight request = %d %q, want it finished", p.status, p.body)
		}
		if took := time.Since(start); took > 9*time.Second {
			t.Errorf("docker stop took %s; the launcher should stop within its 8 s budget", took)
		}
		if code := ctr.ExitCode(t); code != 0 {
			t.Errorf("exit code after a graceful stop = %d, want 0\n%s", code, ctr.Logs(t))
		}
		// Once nginx has finished the request, php-fpm's status page
		// shows it idle: no graceful worker shutdown to wait for.
		if logs := ctr.Logs(t); !strings.Contains(logs, "php-fpm has no request in flight, stopping it at once") {
			t.Errorf("php-fpm was not found idle after nginx stopped:\n%s", logs)
		}
	})

	t.Run("same commit again is not rebuilt", func(t *testing.T) {
		again, err := push(ctx, dir, repo, buildOpts(t, rt)...)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Existing || again.Digest != res.Digest {
			t.Errorf("second build: existing=%v digest=%s, want the first one's %s", again.Existing, again.Digest, res.Digest)
		}
	})

	t.Run("another clone, no cache, same digest", func(t *testing.T) {
		clone := filepath.Join(t.TempDir(), "elsewhere", "clone")
		if out, err := exec.Command("git", "clone", "-q", dir, clone).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		oci := filepath.Join(t.TempDir(), "oci")
		other, err := build.Publish(ctx, clone, output(t, "oci:"+oci), buildOpts(t, rt, build.WithoutCache())...)
		if err != nil {
			t.Fatal(err)
		}
		if other.Digest != res.Digest {
			t.Errorf("clone built %s, first build %s: not reproducible\nfirst: %+v\nclone: %+v", other.Digest, res.Digest, res.Layers, other.Layers)
		}
	})

	t.Run("code-only change rebuilds only the app layer", func(t *testing.T) {
		write(t, dir, "src/Page.php", strings.Replace(readFile(t, filepath.Join(dir, "src/Page.php")), "<h1>", "<h1 class=\"v2\">", 1))
		commit(t, dir, "change", "2026-01-03T00:00:00Z")
		var rec recorder
		v2, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.built(); !slices.Equal(got, []string{"app"}) {
			t.Errorf("built %q, want only the app layer", got)
		}
		if !strings.HasPrefix(v2.Version, "1.0.1-dev.1.g") {
			t.Errorf("version after one commit past v1.0.0 = %q", v2.Version)
		}
		_, base := runImage(t, repo.Tag(git(t, dir, "rev-parse", "HEAD")).String(), "var/cache")
		if p := get(t, base+"/"); !strings.Contains(p.body, `<h1 class="v2">Hello, tester!</h1>`) {
			t.Errorf("v2 page = %q", p.body)
		}
	})

	t.Run("git states: a detached HEAD builds as is, a shallow clone warns", func(t *testing.T) {
		detached := filepath.Join(t.TempDir(), "detached")
		if out, err := exec.Command("git", "clone", "-q", dir, detached).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		git(t, detached, "checkout", "-q", "--detach", "v1.0.0")
		res, err := build.Publish(ctx, detached, output(t, "oci:"+filepath.Join(t.TempDir(), "oci")), buildOpts(t, rt)...)
		if err != nil {
			t.Fatalf("detached HEAD: %v", err)
		}
		if res.Version != "1.0.0" || len(res.Warnings) != 0 {
			t.Errorf("detached HEAD at v1.0.0: version %q, warnings %q; want 1.0.0 and none", res.Version, res.Warnings)
		}

		shallow := filepath.Join(t.TempDir(), "shallow")
		if out, err := exec.Command("git", "clone", "-q", "--depth", "1", "file://"+dir, shallow).CombinedOutput(); err != nil {
			t.Fatalf("git clone --depth 1: %v\n%s", err, out)
		}
		res, err = build.Publish(ctx, shallow, output(t, "oci:"+filepath.Join(t.TempDir(), "oci")), buildOpts(t, rt)...)
		if err != nil {
			t.Fatalf("shallow clone: %v", err)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "shallow clone") || !strings.Contains(res.Warnings[0], "fetch-depth: 0") {
			t.Errorf("shallow clone warnings %q, want one naming the shallow clone and the fix", res.Warnings)
		}
		if !strings.HasPrefix(res.Version, "0.0.0-dev.1.g") {
			t.Errorf("shallow clone without its tag: version %q, want 0.0.0-dev.1.g…", res.Version)
		}
	})

	t.Run("a dependency's code change rebuilds vendor with the new code", func(t *testing.T) {
		// Same file list, new content: what buildkitd once served stale.
		greeter := filepath.Join(dir, "packages/greeter/src/Greeter.php")
		write(t, dir, "packages/greeter/src/Greeter.php", strings.Replace(readFile(t, greeter), "Hello, %s!", "Howdy, %s!", 1))
		commit(t, dir, "greeter says howdy", "2026-01-04T00:00:00Z")
		var rec recorder
		if _, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...); err != nil {
			t.Fatal(err)
		}
		if got := rec.built(); !slices.Equal(got, []string{"vendor", "autoload"}) {
			t.Errorf("built %q, want vendor and autoload", got)
		}
		_, base := runImage(t, repo.Tag(git(t, dir, "rev-parse", "HEAD")).String(), "var/cache")
		if p := get(t, base+"/"); !strings.Contains(p.body, "Howdy, tester!") {
			t.Errorf("page after the dependency change = %q", p.body)
		}
	})
}

// TestBuildFailurePushesNothing: composer cannot install the lock, the
// build fails naming composer.lock, and the repo gets no tag.
func TestBuildFailurePushesNothing(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	lock := readFile(t, filepath.Join(dir, "composer.lock"))
	write(t, dir, "composer.lock", strings.Replace(lock, `"name": "phpbuild-testdata/greeter"`, `"name": "phpbuild-testdata/nonesuch"`, 1))
	commit(t, dir, "a lock composer cannot install", "2026-01-06T00:00:00Z")
	repo := testRepo(t, "failed")
	_, err := push(ctx, dir, repo, buildOpts(t, rt)...)
	var bad *badinput.Error
	if !errors.As(err, &bad) || !strings.HasSuffix(bad.File, "composer.lock") {
		t.Fatalf("err = %v, want a bad-input error naming composer.lock", err)
	}
	if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
		t.Errorf("a failed build left tags %q", tags)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
