// Package buildtest makes what integration tests of build and release
// need: a built test runtime and testdata apps as git repositories.
package buildtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/testbed"
)

// SecretValue is in every test app's .env; it must never reach an image.
const SecretValue = "phpbuild-test-secret-6f1c2a"

// repoRoot is the module root, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// LauncherBinary builds cmd/launcher statically, as `make build` does.
func LauncherBinary(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "launcher")
	buildLauncher(t, out)
	return out
}

// LauncherBinaries builds the launcher for this machine and, next to it
// as `make build` names it (launcher-linux-arm64), for linux/arm64.
func LauncherBinaries(t testing.TB) string {
	t.Helper()
	out := LauncherBinary(t)
	buildLauncher(t, out+"-linux-arm64", "GOOS=linux", "GOARCH=arm64")
	return out
}

func buildLauncher(t testing.TB, out string, env ...string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/launcher")
	cmd.Dir = repoRoot()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the launcher %s: %v\n%s", out, err, b)
	}
}

var (
	runtimeOnce sync.Once
	runtimeRepo name.Repository
	runtimeErr  error
)

// Runtimes builds, once per test binary, the PHP 8.4 runtime the testdata
// apps resolve to, into a fixed repo: after the first run it is found by
// key in a fraction of a second.
func Runtimes(t testing.TB) name.Repository {
	t.Helper()
	reg := testbed.Registry(t)
	host := testbed.BuildkitHost(t)
	launcher := LauncherBinary(t)
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

var (
	phalconOnce    sync.Once
	phalconRepo    name.Repository
	phalconVersion string
	phalconErr     error
)

// PhalconRuntimes builds, once per test binary, a PHP 8.2 runtime with real
// Phalcon compiled from the source tarball PHPBUILD_PHALCON_SOURCE names
// (`make test` sets it to ../shared/phalcon/phalcon-*.tgz when the checkout
// sits beside one), into a fixed repo, so that BuildKit's cache and the
// registry keep it across runs. Without the variable the test skips, saying
// so. It returns the repo and the Phalcon version the tarball reports.
func PhalconRuntimes(t testing.TB) (name.Repository, string) {
	t.Helper()
	src := os.Getenv("PHPBUILD_PHALCON_SOURCE")
	if src == "" {
		t.Skip("SKIPPED, NOT PASSED: set PHPBUILD_PHALCON_SOURCE to a PECL-style Phalcon source tarball (make test finds ../shared/phalcon/phalcon-*.tgz) to build and run the Phalcon apps")
	}
	reg := testbed.Registry(t)
	host := testbed.BuildkitHost(t)
	launcher := LauncherBinary(t)
	phalconOnce.Do(func() {
		if phalconVersion, phalconErr = runtimes.PhalconVersionIn(src); phalconErr != nil {
			return
		}
		if phalconRepo, phalconErr = name.NewRepository(reg + "/phpbuild-test/phalcon-runtimes"); phalconErr != nil {
			return
		}
		b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(host), runtimes.WithLauncher(launcher))
		if err != nil {
			phalconErr = err
			return
		}
		// Compiling Phalcon takes 15 to 30 minutes on 2 cores, once.
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
		defer cancel()
		_, phalconErr = b.Build(ctx, phalconRepo, runtimes.BuildSpec{PHPMinor: "8.2", Phalcon: phalconVersion,
			PhalconSource: runtimes.ExtensionSource{Location: src}})
	})
	if phalconErr != nil {
		t.Fatalf("building the Phalcon test runtime from %s: %v", src, phalconErr)
	}
	return phalconRepo, phalconVersion
}

// GitApp copies testdata/apps/NAME into a new git repo with one commit at
// a fixed time, tagged v1.0.0, plus an ignored .env holding SecretValue.
func GitApp(t testing.TB, app string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), app)
	if out, err := exec.Command("cp", "-a", filepath.Join(repoRoot(), "testdata", "apps", app), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", app, err, out)
	}
	Write(t, dir, ".gitignore", ".env\n")
	Write(t, dir, ".env", "DB_PASSWORD="+SecretValue+"\n")
	gittest.Init(t, dir)
	gittest.CommitAll(t, dir, "first", "2026-01-02T03:04:05Z")
	Git(t, dir, "tag", "v1.0.0")
	return dir
}

// The git helpers, for the tests that already read buildtest.
var (
	Write  = gittest.Write
	Git    = gittest.Git
	Commit = gittest.CommitAll
)

// Repo is a new repo in the test bed's registry, unique to the test.
func Repo(t testing.TB, purpose string) name.Repository {
	t.Helper()
	repo, err := name.NewRepository(fmt.Sprintf("%s/phpbuild-test/%s-%d", testbed.Registry(t), purpose, time.Now().UnixNano()))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

var (
	refreshedMu    sync.Mutex
	refreshedRepos = map[string]name.Repository{}
)

// RefreshedRuntimes builds, once per test binary and token, the PHP 8.4
// runtime of Runtimes again with `runtime build --refresh`'s token, into a
// repo of its own: the same PHP minor, Phalcon and extensions, another
// run image. A fixed token is found by key in later runs.
func RefreshedRuntimes(t testing.TB, token string) name.Repository {
	t.Helper()
	reg := testbed.Registry(t)
	host := testbed.BuildkitHost(t)
	launcher := LauncherBinary(t)
	refreshedMu.Lock()
	defer refreshedMu.Unlock()
	if repo, ok := refreshedRepos[token]; ok {
		return repo
	}
	repo, err := name.NewRepository(reg + "/phpbuild-test/refreshed-runtimes-" + token)
	if err != nil {
		t.Fatal(err)
	}
	b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(host), runtimes.WithLauncher(launcher))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := b.Build(ctx, repo, runtimes.BuildSpec{PHPMinor: "8.4", Refresh: token}); err != nil {
		t.Fatalf("building the runtime refreshed with %q: %v", token, err)
	}
	refreshedRepos[token] = repo
	return repo
}

var (
	multiOnce sync.Once
	multiRepo name.Repository
	multiErr  error
)

// MultiPlatformRuntimes builds, once per test binary, the PHP 8.4 runtime
// with the testdata extension hello compiled in, for linux/amd64 and,
// under QEMU, linux/arm64, on the test bed's
// two-platform Debian index (testbed.MultiPlatformBase) named in a copy of
// the catalog, into a repo of its own. After the first run it is found by
// key.
func MultiPlatformRuntimes(t testing.TB) name.Repository {
	t.Helper()
	reg := testbed.Registry(t)
	host := testbed.BuildkitHost(t)
	launcher := LauncherBinaries(t)
	base := testbed.MultiPlatformBase(t, "trixie")
	multiOnce.Do(func() {
		var cat *runtimes.Catalog
		if cat, multiErr = MultiPlatformCatalog(base); multiErr != nil {
			return
		}
		if multiRepo, multiErr = name.NewRepository(reg + "/phpbuild-test/multi-runtimes"); multiErr != nil {
			return
		}
		b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(host), runtimes.WithLauncher(launcher), runtimes.WithBuildCatalog(cat))
		if err != nil {
			multiErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
		defer cancel()
		// The testdata extension proves the compile path on each platform
		// (Phalcon's compile under emulation takes hours).
		hello := runtimes.ExtensionSource{Location: filepath.Join(repoRoot(), "testdata", "ext", "hello")}
		_, multiErr = b.Build(ctx, multiRepo, runtimes.BuildSpec{PHPMinor: "8.4", Platforms: []string{"linux/amd64", "linux/arm64"},
			Extensions: []runtimes.ExtensionRequest{{Name: "hello", Source: hello}}})
	})
	if multiErr != nil {
		t.Fatalf("building the two-platform test runtime: %v", multiErr)
	}
	return multiRepo
}

// MultiPlatformCatalog is the default catalog with PHP 8.4's base
// replaced by base.
func MultiPlatformCatalog(base string) (*runtimes.Catalog, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "runtimes", "catalog.toml"))
	if err != nil {
		return nil, err
	}
	const trixie = `base = "docker.io/library/debian:trixie-slim"`
	if !strings.Contains(string(b), trixie) {
		return nil, fmt.Errorf("runtimes/catalog.toml no longer has %s", trixie)
	}
	return runtimes.ParseCatalog([]byte(strings.Replace(string(b), trixie, fmt.Sprintf("base = %q", base), 1)))
}
