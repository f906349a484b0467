package build_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/testbed"
	"github.com/phpbuild/phpbuild/transient"
)

// TestBuildkitdKilledMidBuild: buildkitd dies while the asset build runs →
// a clear, transient error and nothing pushed; once it is back, the same
// build succeeds. A private buildkitd, so no other test loses its own.
func TestBuildkitdKilledMidBuild(t *testing.T) {
	rt := testRuntimes(t)
	bk := testbed.StartBuildkitd(t, "")
	dir := gitApp(t, "assets")
	// A build slow enough to be caught running.
	pkg := readFile(t, dir+"/package.json")
	write(t, dir, "package.json", strings.Replace(pkg, `"build": "node tools/build.mjs"`, `"build": "sleep 6 && node tools/build.mjs"`, 1))
	commit(t, dir, "slow build", "2026-01-07T00:00:00Z")
	repo := testRepo(t, "bkkill")

	status := make(chan *client.SolveStatus, 64)
	killed := make(chan struct{})
	go func() {
		for s := range status {
			for _, v := range s.Vertexes {
				if strings.HasPrefix(v.Name, "assets:") && v.Started != nil && v.Completed == nil {
					select {
					case <-killed:
					default:
						time.Sleep(time.Second) // well inside the step
						bk.Kill()
						close(killed)
					}
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	opts := []build.Option{build.WithRuntimeRepo(rt), build.WithBuildkitHost(bk.Host), build.WithProgress(status)}
	_, err := push(ctx, dir, repo, opts...)
	close(status)
	select {
	case <-killed:
	default:
		t.Fatalf("the asset step was never seen running; err = %v", err)
	}
	if err == nil || !transient.Is(err) || !strings.Contains(err.Error(), "went away during the build") {
		t.Fatalf("err = %v, want a transient error saying buildkitd went away", err)
	}
	if tags, err := remote.List(repo); err == nil && len(tags) > 0 {
		t.Errorf("the killed build left tags %q", tags)
	}

	bk.Start(t)
	res, err := push(ctx, dir, repo, build.WithRuntimeRepo(rt), build.WithBuildkitHost(bk.Host))
	if err != nil {
		t.Fatalf("the build after buildkitd came back: %v", err)
	}
	if len(res.Refs) != 2 {
		t.Errorf("refs = %q", res.Refs)
	}
}
