package release_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

const secret = "phpbuild-release-secret-93be1d"

// fixture is the plain app with two built images, v1 and v2, and an
// environment "test" on the test bed's dockerd.
type fixture struct {
	dir, app string
	port     int
	v1, v2   string // image SHA tags
	getenv   func(string) (string, bool)
	base     string
	repo     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, func(page string) string { return strings.Replace(page, "'<h1>'", "'<h1>v2 '", 1) })
}

// newFixtureWith is newFixture with v2's src/Page.php made by v2page.
func newFixtureWith(t *testing.T, v2page func(string) string) *fixture {
	t.Helper()
	rt := buildtest.Runtimes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := &fixture{dir: buildtest.GitApp(t, "plain"), port: testbed.FreePort(t)}
	f.app = fmt.Sprintf("t%d", time.Now().UnixNano()%1e9)
	repo := buildtest.Repo(t, "release")
	opts := []build.Option{build.WithRuntimeRepo(rt), build.WithBuildkitHost(testbed.BuildkitHost(t)), build.WithTarget(repo), build.WithSkipExisting()}
	r1, err := build.Publish(ctx, f.dir, build.NewRegistry(repo, nil), opts...)
	if err != nil {
		t.Fatalf("building v1: %v", err)
	}
	page := filepath.Join(f.dir, "src", "Page.php")
	b, _ := os.ReadFile(page)
	buildtest.Write(t, f.dir, "src/Page.php", v2page(string(b)))
	buildtest.Commit(t, f.dir, "v2", "2026-01-03T00:00:00Z")
	r2, err := build.Publish(ctx, f.dir, build.NewRegistry(repo, nil), opts...)
	if err != nil {
		t.Fatalf("building v2: %v", err)
	}
	f.v1, f.v2, f.repo = r1.SHA, r2.SHA, repo.String()
	f.writeProject(t, "")
	buildtest.Write(t, f.dir, "deploy/test.env", "# test environment\nGREETING_NAME=one\nexport APP_ENV=test\n")
	f.getenv = func(k string) (string, bool) {
		if k == "TEST_DB_PASSWORD" {
			return secret, true
		}
		return "", false
	}
	f.base = fmt.Sprintf("http://127.0.0.1:%d", f.port)
	t.Cleanup(func() { f.cleanup(t) })
	return f
}

// writeProject writes project.toml's environment, with extra lines in its
// table.
func (f *fixture) writeProject(t *testing.T, extra string) {
	t.Helper()
	old, _ := os.ReadFile(filepath.Join(f.dir, "project.toml"))
	base, _, _ := strings.Cut(string(old), "\n[environments.test]")
	buildtest.Write(t, f.dir, "project.toml", base+fmt.Sprintf(`
[environments.test]
app = %q
port = %d
image = %q
env_files = ["deploy/test.env"]
secrets = ["TEST_DB_PASSWORD"]
drain_timeout = "5s"
keep = 3
%s
[environments.test.health]
interval = "200ms"
deadline = "20s"
`, f.app, f.port, f.repo, extra))
}

func (f *fixture) env(t *testing.T) *release.Environment {
	t.Helper()
	env, err := release.LoadEnvironment(f.dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func (f *fixture) release(t *testing.T, image string) (*release.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return release.Release(ctx, f.env(t), release.Options{Image: image, Getenv: f.getenv})
}

func (f *fixture) cleanup(t *testing.T) {
	testbed.RemoveLabeled(t, "dev.phpbuild.app="+f.app)
	testbed.Docker(t).NetworkRemove(context.Background(), "phpbuild-"+f.app+"-test")
	os.RemoveAll(filepath.Join(release.StateRoot, f.app))
}

func get(url string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func version(body string) string {
	switch {
	case strings.Contains(body, "<h1>v2 Hello, one!"):
		return "v2"
	case strings.Contains(body, "<h1>Hello, one!"):
		return "v1"
	}
	return "other: " + body
}

func TestReleaseAndRollbackUnderLoad(t *testing.T) {
	f := newFixture(t)
	rec, err := f.release(t, f.v1)
	if err != nil {
		t.Fatalf("first release: %v", err)
	}
	if code, body, err := get(f.base + "/"); err != nil || code != 200 || version(body) != "v1" {
		t.Fatalf("after releasing v1: %d %q %v", code, body, err)
	}
	t.Logf("first release %s: %s %v", rec.ID, rec.Duration, rec.Steps)

	cycles := 2
	if testing.Short() {
		cycles = 1
	}
	if n := os.Getenv("PHPBUILD_RELEASE_CYCLES"); n != "" {
		fmt.Sscan(n, &cycles)
	}
	l := loadgen.Start(f.base+"/", 120, version)
	var serving, whole, backs []time.Duration
	for i := 0; i < cycles; i++ {
		r2, err := f.release(t, f.v2)
		if err != nil {
			l.Finish()
			t.Fatalf("cycle %d: release v2: %v", i, err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v2" {
			t.Errorf("cycle %d: after the release, the proxy answers %q", i, body)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		back, err := release.Rollback(ctx, f.env(t), "", release.Options{Getenv: f.getenv})
		cancel()
		if err != nil {
			l.Finish()
			t.Fatalf("cycle %d: rollback: %v", i, err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("cycle %d: after the rollback, the proxy answers %q", i, body)
		}
		t.Logf("cycle %d: release %s %v; rollback %s %v", i, r2.Duration, r2.Steps, back.Duration, back.Steps)
		serving = append(serving, parseDuration(t, r2.Steps["serving"]), parseDuration(t, back.Steps["serving"]))
		whole = append(whole, parseDuration(t, r2.Duration))
		backs = append(backs, parseDuration(t, back.Duration))
	}
	t.Logf("%d cycles at 120 requests/s: new version serving %s, release %s, rollback %s (min / median / max)",
		cycles, spread(serving), spread(whole), spread(backs))
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	t.Logf("load: %d ok, %d failed, %d connection errors; versions %v", l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
	if l.Failed.Load() != 0 || l.ConnErrs.Load() != 0 {
		t.Errorf("%d failed requests and %d connection errors during releases and rollbacks: %q", l.Failed.Load(), l.ConnErrs.Load(), l.Errors())
	}
	for v := range l.Seen() {
		if v != "v1" && v != "v2" {
			t.Errorf("an unexpected response: %s", v)
		}
	}

	t.Run("the env snapshot is 0600 and no secret leaks", func(t *testing.T) {
		cli := testbed.Docker(t)
		entries, err := os.ReadDir(filepath.Join(release.StateRoot, f.app, "test", "snapshots"))
		if err != nil || len(entries) == 0 {
			t.Fatalf("snapshots: %v %v", entries, err)
		}
		for _, e := range entries {
			fi, _ := e.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
			}
		}
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil || st.Current == nil {
			t.Fatalf("status: %+v %v", st, err)
		}
		for _, ref := range []string{st.Current.Digest} {
			ins, err := cli.ImageInspect(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ins)
			if strings.Contains(string(b), secret) {
				t.Errorf("the image config of %s holds the secret", ref)
			}
		}
		ins, err := cli.ContainerInspect(context.Background(), st.Serving)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(ins)
		if strings.Contains(string(b), secret) {
			t.Errorf("docker inspect of %s shows the secret", st.Serving)
		}
	})

	t.Run("a failing health check keeps the old release serving", func(t *testing.T) {
		p := filepath.Join(f.dir, "project.toml")
		buildtest.Write(t, f.dir, "project.toml", strings.Replace(readFile(t, p), `deadline = "20s"`, "deadline = \"6s\"\nstatus = 418", 1))
		defer f.writeProject(t, "")
		_, err := f.release(t, f.v2)
		var he *release.HealthError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "want status 418") {
			t.Fatalf("err = %v, want a health error showing the failing responses", err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("after a failed release the proxy answers %q, want v1", body)
		}
		hist, _ := release.History(context.Background(), f.env(t))
		if last := hist[len(hist)-1]; last.Result != "health-failed" {
			t.Errorf("the log's last record is %+v", last)
		}
	})

	t.Run("bad env input is refused before anything changes", func(t *testing.T) {
		before := containers(t, f.app)
		buildtest.Write(t, f.dir, "deploy/test.env", "GREETING_NAME=one\nBROKEN=\"no end\n")
		_, err := f.release(t, f.v2)
		var bad *badinput.Error
		if !errors.As(err, &bad) || !strings.HasSuffix(bad.File, "test.env") || bad.Line != 2 {
			t.Errorf("syntax error: %v, want test.env:2", err)
		}
		buildtest.Write(t, f.dir, "deploy/test.env", "GREETING_NAME=one\n")
		env := f.env(t)
		_, err = release.Release(context.Background(), env, release.Options{Image: f.v2, Getenv: func(string) (string, bool) { return "", false }})
		if !errors.Is(err, release.ErrMissingSecret) || !strings.Contains(err.Error(), "TEST_DB_PASSWORD") {
			t.Errorf("missing secret: %v", err)
		}
		if after := containers(t, f.app); after != before {
			t.Errorf("containers changed: %s → %s", before, after)
		}
	})

	t.Run("hooks: a failing pre_release aborts with nothing switched; backups are kept", func(t *testing.T) {
		f.writeProject(t, "[environments.test.hooks]\nbackup = \"echo \\\"dump of $GREETING_NAME\\\" > /backup/dump.sql\"\npre_release = \"echo migrating; exit 3\"\n")
		defer f.writeProject(t, "")
		_, err := f.release(t, f.v2)
		if err == nil || !strings.Contains(err.Error(), "hook pre_release exited with code 3") || !strings.Contains(err.Error(), "migrating") {
			t.Fatalf("err = %v, want the failed hook and its output", err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("after a failed hook the proxy answers %q, want v1", body)
		}
		hist, _ := release.History(context.Background(), f.env(t))
		last := hist[len(hist)-1]
		dump, err := os.ReadFile(filepath.Join(release.StateRoot, f.app, "test", "backups", last.ID, "dump.sql"))
		if err != nil || strings.TrimSpace(string(dump)) != "dump of one" {
			t.Errorf("backup of %s: %q %v; want the hook's output, made with the release's env", last.ID, dump, err)
		}
		if last.Result != "hook-failed" {
			t.Errorf("last record %+v", last)
		}
	})

	t.Run("kill -9 mid-release, then the next release succeeds", func(t *testing.T) {
		bin := phpbuildBinary(t)
		cmd := exec.Command(bin, "release", f.dir, "--env", "test", "--image", f.v2)
		cmd.Env = append(os.Environ(), "TEST_DB_PASSWORD="+secret)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			seen = append(seen, sc.Text())
			if strings.HasPrefix(sc.Text(), "started ") {
				break // the new container runs, the lock is held, nothing switched
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if len(seen) == 0 || !strings.HasPrefix(seen[len(seen)-1], "started ") {
			t.Fatalf("the release never started a container: %q", seen)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("after the kill the proxy answers %q, want v1 still", body)
		}
		rec, err := f.release(t, f.v2)
		if err != nil {
			t.Fatalf("the release after a killed one: %v", err)
		}
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.Current == nil || st.Current.ID != rec.ID || st.Lock != nil || !strings.HasSuffix(st.Serving, rec.ID) {
			t.Errorf("state after recovery: %+v", st)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v2" {
			t.Errorf("the proxy answers %q, want v2", body)
		}
		if got := containers(t, f.app); strings.Count(got, ",") != 1 {
			t.Errorf("containers left: %s; want the proxy and the current app container", got)
		}
	})

	t.Run("a second release at once waits or fails on the lock", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.release(t, f.v2)
			}()
			time.Sleep(100 * time.Millisecond)
		}
		wg.Wait()
		var locked *release.LockedError
		n := 0
		for _, err := range errs {
			if errors.As(err, &locked) {
				n++
			} else if err != nil {
				t.Errorf("release: %v", err)
			}
		}
		if n != 1 {
			t.Errorf("%d of 2 concurrent releases hit the lock (errors %v), want 1", n, errs)
		}
	})
	t.Run("an environment without env files or secrets releases", func(t *testing.T) {
		p := filepath.Join(f.dir, "project.toml")
		body := strings.Replace(readFile(t, p), "env_files = [\"deploy/test.env\"]\n", "", 1)
		buildtest.Write(t, f.dir, "project.toml", strings.Replace(body, "secrets = [\"TEST_DB_PASSWORD\"]\n", "", 1))
		defer f.writeProject(t, "")
		if _, err := f.release(t, f.v1); err != nil {
			t.Fatalf("release with an empty env snapshot: %v", err)
		}
		if code, body, err := get(f.base + "/"); err != nil || code != 200 || !strings.Contains(body, "<h1>Hello") {
			t.Errorf("after the release: %d %q %v", code, body, err)
		}
	})
}

// phpbuildBinary builds the CLI, to kill it for real.
func phpbuildBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "phpbuild")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/phpbuild")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building phpbuild: %v\n%s", err, b)
	}
	return out
}

func containers(t *testing.T, app string) string {
	cli := testbed.Docker(t)
	cs, _ := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+app))})
	var names []string
	for _, c := range cs {
		names = append(names, c.Names...)
	}
	return strings.Join(names, ",")
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("a duration in the release log: %q: %v", s, err)
	}
	return d
}

// spread is "min / median / max" of ds.
func spread(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "-"
	}
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	return r(s[0]) + " / " + r(s[len(s)/2]) + " / " + r(s[len(s)-1])
}
