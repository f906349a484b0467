package build_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/testbed"
)

func testRuntimes(t *testing.T) name.Repository { t.Helper(); return buildtest.Runtimes(t) }
func gitApp(t *testing.T, app string) string    { t.Helper(); return buildtest.GitApp(t, app) }
func write(t *testing.T, dir, rel, body string) { t.Helper(); gittest.Write(t, dir, rel, body) }
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}
func commit(t *testing.T, dir, msg, when string) { t.Helper(); gittest.CommitAll(t, dir, msg, when) }

func testRepo(t *testing.T, purpose string) name.Repository {
	t.Helper()
	return buildtest.Repo(t, purpose)
}

func buildOpts(t *testing.T, rt name.Repository, extra ...build.Option) []build.Option {
	t.Helper()
	return append([]build.Option{build.WithRuntimeRepo(rt), build.WithBuildkitHost(testbed.BuildkitHost(t))}, extra...)
}

// push is build.Publish as `phpbuild build --image REPO` calls it.
func push(ctx context.Context, dir string, repo name.Repository, opts ...build.Option) (*build.Result, error) {
	return build.Publish(ctx, dir, build.NewRegistry(repo, nil), append(opts, build.WithTarget(repo), build.WithSkipExisting())...)
}

// output is the publisher of `phpbuild build --output SPEC` without --image.
func output(t *testing.T, spec string) build.Publisher {
	t.Helper()
	p, err := build.ParseOutput(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
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
	port := testbed.FreePort(t)
	// A memory limit as in production: the launcher sizes php-fpm's pool
	// from it (a handful of workers, not the 64 the test machine's memory
	// allows, whose start and stop crowd a loaded CI machine).
	spec = testbed.ContainerSpec{Image: ref, Local: spec.Local, ReadOnly: true, Env: []string{"GREETING_NAME=tester"}, HostPort: port, ContainerPort: 8080, Tmpfs: map[string]string{}, Memory: 1 << 30}
	for _, w := range writable {
		spec.Tmpfs["/app/"+w] = "uid=1000,gid=1000,mode=0755"
	}
	c := testbed.StartContainer(t, spec)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c.WaitHealthy(t, base, 30*time.Second)
	return c, base
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
