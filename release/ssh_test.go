package release_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
	"github.com/phpbuild/phpbuild/transient"
)

// TestReleaseOverSSH: an environment whose host is ssh://root@127.0.0.1:PORT
// (a real sshd, key auth only) releases, rolls back, shows its status and
// refuses a release that fails its health check, under load, with no
// request lost, as on the local socket; a host that cannot be used says
// why in one line, with the exit code that fits.
func TestReleaseOverSSH(t *testing.T) {
	sshd := testbed.StartSSHD(t, testbed.SSHDOptions{})
	f := newFixture(t)
	host := fmt.Sprintf("host = %q\n", sshd.Host)
	f.writeProject(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	first, err := f.release(t, f.v1)
	if err != nil {
		t.Fatalf("releasing v1 over ssh: %v", err)
	}
	t.Logf("first release over ssh: %s %v", first.Duration, first.Steps)
	l := loadgen.Start(f.base+"/", 100, version)
	rel, err := f.release(t, f.v2)
	if err != nil {
		l.Finish()
		t.Fatalf("releasing v2 over ssh: %v", err)
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v2" {
		t.Errorf("after the release the proxy answers %q", body)
	}
	back, err := release.Rollback(ctx, f.env(t), "", release.Options{Getenv: f.getenv})
	if err != nil {
		l.Finish()
		t.Fatalf("rollback over ssh: %v", err)
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v1" {
		t.Errorf("after the rollback the proxy answers %q", body)
	}
	st, err := release.GetStatus(ctx, f.env(t))
	if err != nil || st.Current == nil || st.Current.ID != back.ID || st.Health != "healthy" {
		t.Errorf("status over ssh: %+v %v; want the rollback, healthy", st, err)
	}

	p := filepath.Join(f.dir, "project.toml")
	buildtest.Write(t, f.dir, "project.toml", strings.Replace(readFile(t, p), `deadline = "20s"`, "deadline = \"6s\"\nstatus = 418", 1))
	_, err = f.release(t, f.v2)
	var he *release.HealthError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "want status 418") {
		t.Errorf("a release failing its health check over ssh: %v, want a health error", err)
	}
	time.Sleep(500 * time.Millisecond)
	l.Finish()
	t.Logf("over ssh: release %s %v, rollback %s %v; load: %d ok, %d failed, %d connection errors; versions %v",
		rel.Duration, rel.Steps, back.Duration, back.Steps, l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
	if l.Failed.Load() != 0 || l.ConnErrs.Load() != 0 {
		t.Errorf("%d failed requests and %d connection errors over ssh: %q", l.Failed.Load(), l.ConnErrs.Load(), l.Errors())
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v1" {
		t.Errorf("after the failed release the proxy answers %q, want v1", body)
	}

	// statusOf is GetStatus of the environment with host as its host.
	statusOf := func(t *testing.T, host string) error {
		t.Helper()
		f.writeProject(t, fmt.Sprintf("host = %q\n", host))
		_, err := release.GetStatus(ctx, f.env(t))
		if err == nil {
			t.Fatalf("status through %s: no error", host)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("the error is more than one line: %q", err)
		}
		return err
	}
	t.Run("a refused connection is transient", func(t *testing.T) {
		err := statusOf(t, fmt.Sprintf("ssh://root@127.0.0.1:%d", testbed.FreePort(t)))
		if !transient.Is(err) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("err = %v, want a transient error saying the connection was refused", err)
		}
	})
	t.Run("an unknown host key is bad input", func(t *testing.T) {
		stranger := testbed.StartSSHD(t, testbed.SSHDOptions{UnknownHostKey: true})
		err := statusOf(t, stranger.Host)
		if !badinput.Is(err) || !strings.Contains(err.Error(), "host key") || !strings.Contains(err.Error(), "environments.test.host") {
			t.Errorf("err = %v, want bad input naming the host field and the host key", err)
		}
	})
	t.Run("a host without docker is bad input", func(t *testing.T) {
		bare := testbed.StartSSHD(t, testbed.SSHDOptions{NoDocker: true})
		err := statusOf(t, bare.Host)
		if !badinput.Is(err) || !strings.Contains(err.Error(), "no docker command") {
			t.Errorf("err = %v, want bad input saying the host has no docker", err)
		}
	})
}
