package release_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

// TestDockerRestartMidRelease restarts the docker daemon (one of the
// test's own) while a release waits for its new container: the release
// (the CLI) fails as transient, exit 75, saying why, the old version comes back
// serving by its restart policy, and the next release succeeds, leaving
// one app container and a release log that ends with it.
func TestDockerRestartMidRelease(t *testing.T) {
	d := testbed.StartDockerd(t)
	cli := d.Client(t)
	f := newFixture(t)
	f.writeProject(t, fmt.Sprintf("host = %q\n", d.Host))
	// The health check waits 4 s after the start: the daemon restarts
	// then, with the new container started and nothing switched.
	p := filepath.Join(f.dir, "project.toml")
	buildtest.Write(t, f.dir, "project.toml", strings.Replace(readFile(t, p), `deadline = "20s"`, "deadline = \"20s\"\nstart_period = \"4s\"", 1))

	if _, err := f.release(t, f.v1); err != nil {
		t.Fatalf("releasing v1: %v", err)
	}
	if code, body, err := get(f.base + "/"); version(body) != "v1" {
		t.Fatalf("after the first release the proxy answers %d %q %v", code, body, err)
	}
	l := loadgen.Start(f.base+"/", 50, version)
	// The CLI, as a deploy runs it: its exit code, and its lock left
	// behind when the daemon is gone, held by a process that is gone.
	cmd := exec.Command(phpbuildBinary(t), "release", f.dir, "--env", "test", "--image", f.v2)
	cmd.Env = append(os.Environ(), "TEST_DB_PASSWORD="+secret)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	apps := filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+f.app), filters.Arg("label", "dev.phpbuild.role=app"))
	waitFor(t, 2*time.Minute, "the new container to start", func() bool {
		cs, err := cli.ContainerList(context.Background(), container.ListOptions{Filters: apps})
		return err == nil && len(cs) == 2
	})
	restarted := time.Now()
	d.Restart(t)
	t.Logf("dockerd restarted in %s", time.Since(restarted).Round(time.Millisecond))
	var err error
	select {
	case err = <-errc:
	case <-time.After(3 * time.Minute):
		t.Fatal("the release did not end within 3 minutes of the daemon's restart")
	}
	if code := cmd.ProcessState.ExitCode(); code != 75 || !strings.Contains(out.String(), "docker daemon") {
		t.Errorf("the release across a daemon restart: %v, exit %d; want exit 75 (transient) saying why:\n%s", err, code, out.String())
	} else {
		t.Logf("the release failed as it should:\n%s", out.String())
	}
	waitFor(t, 2*time.Minute, "v1 to serve again", func() bool {
		_, body, err := get(f.base + "/")
		return err == nil && version(body) == "v1"
	})
	l.Finish()
	// The proxy itself restarts with the daemon: requests fail meanwhile.
	t.Logf("load across the restart: %d ok, %d failed, %d connection errors", l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load())

	rec, err := f.release(t, f.v2)
	if err != nil {
		t.Fatalf("the next release: %v", err)
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v2" {
		t.Errorf("after the next release the proxy answers %q", body)
	}
	cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: apps})
	if err != nil || len(cs) != 1 || cs[0].Names[0] != "/"+f.app+"-test-"+rec.ID {
		var names []string
		for _, c := range cs {
			names = append(names, c.Names[0]+" "+c.State)
		}
		t.Errorf("app containers after the next release: %v %v; want only %s's", names, err, rec.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := release.GetStatus(ctx, f.env(t))
	if err != nil || st.Current == nil || st.Current.ID != rec.ID || st.Health != "healthy" {
		t.Errorf("status after the next release: %+v %v", st, err)
	}
	hist, err := release.History(ctx, f.env(t))
	if err != nil || len(hist) == 0 || hist[len(hist)-1].ID != rec.ID || hist[len(hist)-1].Result != "ok" {
		t.Errorf("the release log ends with %+v (%v), want %s ok", hist[len(hist)-1:], err, rec.ID)
	}
}
