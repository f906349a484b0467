package build_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/testbed"
)

// secretValue is in every test app's .env; it must never reach an image.
const secretValue = "phpbuild-test-secret-6f1c2a"

var (
	runtimeOnce sync.Once
	runtimeRepo name.Repository
	runtimeErr  error
)

// testRuntimes builds, once per test binary, the PHP 8.4 runtime the
// testdata apps resolve to, into a fixed repo: after the first run it is
// found by key in a fraction of a second.
func testRuntimes(t *testing.T) name.Repository {
	t.Helper()
	reg := testbed.Registry(t)
	host := testbed.BuildkitHost(t)
	launcher := launcherBinary(t)
	runtimeOnce.Do(func() {
		runtimeRepo, runtimeErr = name.NewRepository(reg + "/phpbuild-test/build-runtimes")
		if runtimeErr != nil {
			return
		}
		b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(host), runtimes.WithLauncher(launcher))
		if err != nil {
			runtimeErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		_, runtimeErr = b.Build(ctx, runtimeRepo, runtimes.BuildSpec{PHPMinor: "8.4"})
	})
	if runtimeErr != nil {
		t.Fatalf("building the test runtime: %v", runtimeErr)
	}
	return runtimeRepo
}

// launcherBinary builds cmd/launcher statically, as `make build` does.
func launcherBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "launcher")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "../cmd/launcher")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the launcher: %v\n%s", err, b)
	}
	return out
}

// gitApp copies testdata/apps/NAME into a new git repo with one commit at a
// fixed time, tagged v1.0.0, plus an ignored .env holding secretValue.
func gitApp(t *testing.T, app string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), app)
	if out, err := exec.Command("cp", "-a", filepath.Join("..", "testdata", "apps", app), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", app, err, out)
	}
	write(t, dir, ".gitignore", ".env\n")
	write(t, dir, ".env", "DB_PASSWORD="+secretValue+"\n")
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", "-A")
	commit(t, dir, "first", "2026-01-02T03:04:05Z")
	git(t, dir, "tag", "v1.0.0")
	return dir
}

func write(t *testing.T, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func commit(t *testing.T, dir, msg, when string) {
	t.Helper()
	cmd := exec.Command("git", "-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-a", "-m", msg)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+when, "GIT_COMMITTER_DATE="+when)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git commit: %v\n%s", err, out)
	}
}

func testRepo(t *testing.T, purpose string) name.Repository {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	repo, err := name.NewRepository(testbed.Registry(t) + "/phpbuild-test/" + purpose + "-" + hex.EncodeToString(b))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func buildOpts(t *testing.T, rt name.Repository, extra ...build.Option) []build.Option {
	return append([]build.Option{build.WithRuntimeRepo(rt), build.WithBuildkitHost(testbed.BuildkitHost(t))}, extra...)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// runImage starts ref read-only, with tmpfs only at the app's writable
// dirs, and waits until /health answers 200.
func runImage(t *testing.T, ref string, writable ...string) (*testbed.Container, string) {
	t.Helper()
	return runSpec(t, testbed.ContainerSpec{Image: ref}, writable...)
}

func runSpec(t *testing.T, spec testbed.ContainerSpec, writable ...string) (*testbed.Container, string) {
	t.Helper()
	ref := spec.Image
	port := freePort(t)
	spec = testbed.ContainerSpec{Image: ref, Local: spec.Local, ReadOnly: true, Env: []string{"GREETING_NAME=tester"}, HostPort: port, ContainerPort: 8080, Tmpfs: map[string]string{}}
	for _, w := range writable {
		spec.Tmpfs["/app/"+w] = "uid=1000,gid=1000,mode=0755"
	}
	c := testbed.StartContainer(t, spec)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c, base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became healthy (last: %v)\n%s", ref, err, c.Logs(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePort is a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type page struct {
	status int
	body   string
	header http.Header
}

func get(t *testing.T, url string) page {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 15 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(b), resp.Header}
}
