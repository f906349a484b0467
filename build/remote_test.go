package build_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/testbed"
)

// TestSharedBuildkitdOverTLS: one buildkitd on loopback TCP with mutual
// TLS (BUILDKIT_TLS_DIR, as buildctl's --tlsdir) serves two builds at once,
// each running its BuildKit steps; a client without a certificate is
// turned away.
func TestSharedBuildkitdOverTLS(t *testing.T) {
	rt := testRuntimes(t)
	bk, tlsDir := testbed.StartBuildkitdTLS(t)
	t.Setenv("BUILDKIT_TLS_DIR", tlsDir)
	ctx := ctxT(t)
	apps := []string{"assets", "plain"}
	errs := make([]error, len(apps))
	results := make([]*build.Result, len(apps))
	var wg sync.WaitGroup
	for i, app := range apps {
		dir := gitApp(t, app)
		repo := testRepo(t, "shared-"+app)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = build.Publish(ctx, dir, build.NewRegistry(repo, nil), buildOpts(t, rt, build.WithBuildkitHost(bk.Host), build.WithoutCache(), build.WithTarget(repo))...)
		}()
	}
	wg.Wait()
	for i, app := range apps {
		if errs[i] != nil {
			t.Fatalf("%s on the shared buildkitd: %v", app, errs[i])
		}
		built := 0
		for _, l := range results[i].Layers {
			if !l.Reused {
				built++
			}
		}
		if built < 3 {
			t.Errorf("%s built %d layers, want every one (--no-cache)", app, built)
		}
	}

	// Without a client certificate: refused, naming the address.
	t.Setenv("BUILDKIT_TLS_DIR", "")
	t.Setenv("BUILDKIT_TLS_CA_CERT", filepath.Join(tlsDir, "ca.pem"))
	_, err := build.Publish(ctx, gitApp(t, "plain"), nil, buildOpts(t, rt, build.WithBuildkitHost(bk.Host), build.WithoutCache())...)
	t.Logf("without a client certificate: %v", err)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), bk.Host) || !strings.Contains(err.Error(), "TLS connection") {
		t.Errorf("a client without a certificate: %v; want bad input naming %s and the TLS refusal", err, bk.Host)
	}
}

// TestBuildkitdInContainer: BUILDKIT_HOST=docker-container://NAME builds
// through a buildkitd running in a docker container.
func TestBuildkitdInContainer(t *testing.T) {
	rt := testRuntimes(t)
	host := testbed.StartBuildkitdContainer(t)
	ctx := ctxT(t)
	dir := gitApp(t, "assets")
	repo := testRepo(t, "container-buildkitd")
	res, err := build.Publish(ctx, dir, build.NewRegistry(repo, nil), buildOpts(t, rt, build.WithBuildkitHost(host), build.WithoutCache(), build.WithTarget(repo))...)
	if err != nil {
		t.Fatalf("building on %s: %v", host, err)
	}
	_, base := runImage(t, repo.Digest(res.Digest).String())
	if p := get(t, base+"/"); p.status != 200 || !strings.Contains(p.body, "assets app") {
		t.Errorf("GET / = %d %q", p.status, p.body)
	}
	fmt.Fprintln(testWriter{t}, "built", res.Digest, "on", host)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
