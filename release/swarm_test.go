package release_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

const swarmTarget = "target = \"swarm\"\n"

// newSwarmFixture is the release fixture with target = "swarm", on the
// test bed's dockerd made a single-node swarm when it is not one (and left
// so).
func newSwarmFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	cli := testbed.Docker(t)
	ensureSwarm(t, cli)
	f.writeProject(t, swarmTarget)
	// Runs before the fixture's own cleanup: the service goes first, so
	// the network is free to go.
	t.Cleanup(func() { f.cleanupSwarm(t) })
	return f
}

func ensureSwarm(t *testing.T, cli *dockerclient.Client) {
	t.Helper()
	ctx := context.Background()
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch info.Swarm.LocalNodeState {
	case swarm.LocalNodeStateActive:
		if !info.Swarm.ControlAvailable {
			t.Fatal("the test bed's dockerd is a swarm worker; the swarm tests need a manager")
		}
		return
	case swarm.LocalNodeStateInactive:
	default:
		t.Fatalf("the test bed's dockerd is in swarm state %q", info.Swarm.LocalNodeState)
	}
	if _, err := cli.SwarmInit(ctx, swarm.InitRequest{ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1"}); err != nil {
		t.Fatalf("docker swarm init: %v", err)
	}
}

func (f *fixture) service() string { return f.app + "-test" }

func (f *fixture) cleanupSwarm(t *testing.T) {
	cli := testbed.Docker(t)
	ctx := context.Background()
	cli.ServiceRemove(ctx, f.service())
	byService := container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "com.docker.swarm.service.name="+f.service()))}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if cs, err := cli.ContainerList(ctx, byService); err == nil && len(cs) == 0 {
			break
		}
	}
	secrets, _ := cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+f.app))})
	for _, s := range secrets {
		if err := cli.SecretRemove(ctx, s.ID); err != nil {
			t.Errorf("removing secret %s: %v", s.Spec.Name, err)
		}
	}
	cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+f.app))})
	for _, c := range cs {
		cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		err := cli.NetworkRemove(ctx, "phpbuild-"+f.service())
		if err == nil || cerrdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("removing the network: %v", err)
			break
		}
	}
	os.RemoveAll(filepath.Join(release.StateRoot, f.app))
}

func (f *fixture) rollback(t *testing.T) (*release.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return release.Rollback(ctx, f.env(t), "", release.Options{Getenv: f.getenv})
}

func TestSwarmReleaseAndRollbackUnderLoad(t *testing.T) {
	f := newSwarmFixture(t)
	cli := testbed.Docker(t)
	t0 := time.Now()
	first, err := f.release(t, f.v1)
	if err != nil {
		t.Fatalf("first release: %v", err)
	}
	if code, body, err := get(f.base + "/"); err != nil || code != 200 || version(body) != "v1" {
		t.Fatalf("after releasing v1: %d %q %v", code, body, err)
	}
	t.Logf("first release %s in %s (measured %s): %v", first.ID, first.Duration, time.Since(t0).Round(time.Millisecond), first.Steps)

	cycles := 1
	if n := os.Getenv("PHPBUILD_RELEASE_CYCLES"); n != "" {
		if _, err := fmt.Sscan(n, &cycles); err != nil || cycles < 1 {
			t.Fatalf("PHPBUILD_RELEASE_CYCLES=%q: want a count of at least 1", n)
		}
	}
	l := loadgen.Start(f.base+"/", 120, version)
	var v2, back *release.Record
	for i := 0; i < cycles; i++ {
		// v2 comes with its own env snapshot, so the rollback must put the
		// image and the env back together.
		buildtest.Write(t, f.dir, "deploy/test.env", "# test environment\nGREETING_NAME=one\nexport APP_ENV=test\nRELEASE_NOTE=v2\n")
		v2, err = f.release(t, f.v2)
		buildtest.Write(t, f.dir, "deploy/test.env", "# test environment\nGREETING_NAME=one\nexport APP_ENV=test\n")
		if err != nil {
			l.Finish()
			t.Fatalf("cycle %d: release v2: %v", i, err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v2" {
			t.Errorf("cycle %d: after the release, the proxy answers %q", i, body)
		}
		back, err = f.rollback(t)
		if err != nil {
			l.Finish()
			t.Fatalf("cycle %d: rollback: %v", i, err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("cycle %d: after the rollback, the proxy answers %q", i, body)
		}
		if back.Digest != first.Digest || back.Env != first.Env {
			t.Errorf("cycle %d: the rollback ran %s with %s, want %s with %s", i, back.Digest, back.Env, first.Digest, first.Env)
		}
		t.Logf("cycle %d: release %s %v; rollback %s %v", i, v2.Duration, v2.Steps, back.Duration, back.Steps)
	}
	time.Sleep(300 * time.Millisecond)
	l.Finish()
	t.Logf("load: %d ok, %d failed, %d connection errors; versions %v", l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
	checkLoad(t, l)
	if l.Seen()["v1"] == 0 || l.Seen()["v2"] == 0 {
		t.Errorf("the load saw versions %v, want both", l.Seen())
	}

	t.Run("the env snapshot is a versioned secret at /app/.env, 0400 for the app user", func(t *testing.T) {
		ctx := context.Background()
		s, _, err := cli.ServiceInspectWithRaw(ctx, f.service(), swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cs := s.Spec.TaskTemplate.ContainerSpec
		want := f.service() + "-env-" + strings.TrimPrefix(first.Env, "sha256:")[:12]
		if len(cs.Secrets) != 1 || cs.Secrets[0].SecretName != want || cs.Secrets[0].File == nil ||
			cs.Secrets[0].File.Name != "/app/.env" || cs.Secrets[0].File.UID != "1000" || cs.Secrets[0].File.Mode != 0o400 {
			t.Errorf("the service's secrets: %s, want %s at /app/.env, uid 1000, 0400", jsonOf(cs.Secrets), want)
		}
		if u := s.Spec.UpdateConfig; u == nil || u.Order != swarm.UpdateOrderStartFirst || u.FailureAction != swarm.UpdateFailureActionRollback {
			t.Errorf("update config %s", jsonOf(u))
		}
		if e := s.Spec.EndpointSpec; e == nil || e.Mode != swarm.ResolutionModeDNSRR || len(e.Ports) != 0 {
			t.Errorf("endpoint %s, want dnsrr and no published port", jsonOf(e))
		}
		// Both snapshots stay for rollbacks: keep = 3.
		secrets, err := cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+f.app))})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range secrets {
			names = append(names, s.Spec.Name)
		}
		if want2 := f.service() + "-env-" + strings.TrimPrefix(v2.Env, "sha256:")[:12]; len(names) != 2 || !strings.Contains(strings.Join(names, ","), want2) || !strings.Contains(strings.Join(names, ","), want) {
			t.Errorf("secrets %v, want %s and %s", names, want, want2)
		}

		ctr := runningTask(t, cli, f.service())
		out := execIn(t, cli, ctr, "sh", "-c", "stat -c %u:%g:%a /app/.env && grep -c TEST_DB_PASSWORD= /app/.env")
		if out != "1000:1000:400\n1\n" {
			t.Errorf("/app/.env in the task: %q, want 1000:1000:400 and the secret's line", out)
		}
		ins, err := cli.ContainerInspect(ctx, ctr)
		if err != nil {
			t.Fatal(err)
		}
		for what, v := range map[string]any{"the service": s, "the task's container": ins} {
			if strings.Contains(jsonOf(v), secret) {
				t.Errorf("docker inspect of %s shows the secret", what)
			}
		}
	})

	t.Run("status", func(t *testing.T) {
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil {
			t.Fatal(err)
		}
		if st.Current == nil || st.Current.ID != back.ID || st.Serving != f.service() || st.Health != "healthy" || st.Lock != nil {
			t.Errorf("status %s; want the rollback %s, serving %s, healthy, no lock", jsonOf(st), back.ID, f.service())
		}
	})

	t.Run("a failing health check keeps the old release serving", func(t *testing.T) {
		p := filepath.Join(f.dir, "project.toml")
		buildtest.Write(t, f.dir, "project.toml", strings.Replace(readFile(t, p), `deadline = "20s"`, "deadline = \"6s\"\nstatus = 418", 1))
		defer f.writeProject(t, swarmTarget)
		l := loadgen.Start(f.base+"/", 120, version)
		t0 := time.Now()
		_, err := f.release(t, f.v2)
		took := time.Since(t0)
		time.Sleep(300 * time.Millisecond)
		l.Finish()
		t.Logf("failed release in %s; load: %d ok, %d failed, %d connection errors; versions %v", took.Round(time.Millisecond), l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
		var he *release.HealthError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "want status 418") {
			t.Fatalf("err = %v, want a health error showing the failing responses", err)
		}
		t.Logf("the error:\n%v", err)
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("after a failed release the proxy answers %q, want v1", body)
		}
		checkLoad(t, l)
		if len(l.Seen()) != 1 || l.Seen()["v1"] == 0 {
			t.Errorf("during the failed release the load saw %v, want v1 only", l.Seen())
		}
		hist, _ := release.History(context.Background(), f.env(t))
		if last := hist[len(hist)-1]; last.Result != "health-failed" {
			t.Errorf("the log's last record is %+v", last)
		}
		s, _, err := cli.ServiceInspectWithRaw(context.Background(), f.service(), swarm.ServiceInspectOptions{})
		if err != nil || s.UpdateStatus == nil || s.UpdateStatus.State != swarm.UpdateStateRollbackCompleted {
			t.Errorf("the service after a failed update: %s %v; want rollback_completed", jsonOf(s.UpdateStatus), err)
		}
	})

	t.Run("the release after a failed one succeeds", func(t *testing.T) {
		rec, err := f.release(t, f.v2)
		if err != nil {
			t.Fatal(err)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v2" {
			t.Errorf("the proxy answers %q, want v2", body)
		}
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil || st.Current == nil || st.Current.ID != rec.ID || st.Health != "healthy" {
			t.Errorf("status %s %v; want %s, healthy", jsonOf(st), err, rec.ID)
		}
	})
}

// TestSwarmNames refuses, before touching any host, an app whose name
// cannot name a swarm service.
func TestSwarmNames(t *testing.T) {
	dir := t.TempDir()
	buildtest.Write(t, dir, "project.toml", "[environments.prod]\ntarget = \"swarm\"\napp = \"shop.web\"\nimage = \"registry.example.com/shop\"\n")
	env, err := release.LoadEnvironment(dir, "prod")
	if err != nil {
		t.Fatal(err)
	}
	_, err = release.Release(context.Background(), env, release.Options{Image: "v1", Getenv: func(string) (string, bool) { return "", false }})
	var bad *badinput.Error
	if !errors.As(err, &bad) || bad.Field != "environments.prod.app" || !strings.Contains(err.Error(), "swarm service") {
		t.Errorf("err = %v, want a bad input naming environments.prod.app", err)
	}
}

func checkLoad(t *testing.T, l *loadgen.Load) {
	t.Helper()
	if l.Failed.Load() != 0 || l.ConnErrs.Load() != 0 {
		t.Errorf("%d failed requests and %d connection errors: %q", l.Failed.Load(), l.ConnErrs.Load(), l.Errors())
	}
	for v := range l.Seen() {
		if v != "v1" && v != "v2" {
			t.Errorf("an unexpected response: %s", v)
		}
	}
}

// runningTask is the container of the service's running task.
func runningTask(t *testing.T, cli *dockerclient.Client, svc string) string {
	t.Helper()
	tasks, err := cli.TaskList(context.Background(), swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svc), filters.Arg("desired-state", "running"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.Status.State == swarm.TaskStateRunning && task.Status.ContainerStatus != nil {
			return task.Status.ContainerStatus.ContainerID
		}
	}
	t.Fatalf("no running task of %s: %s", svc, jsonOf(tasks))
	return ""
}

// execIn runs cmd in a container as its user and returns its output.
func execIn(t *testing.T, cli *dockerclient.Client, ctr string, cmd ...string) string {
	t.Helper()
	ctx := context.Background()
	ex, err := cli.ContainerExecCreate(ctx, ctr, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, att.Reader)
	return out.String()
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSwarmNeedsAManager: phpbuild never runs `docker swarm init`; a
// daemon outside a swarm is refused with the command that would fix it.
func TestSwarmNeedsAManager(t *testing.T) {
	for _, tc := range []struct{ name, info, want string }{
		{"not in a swarm", `{"Swarm":{"LocalNodeState":"inactive"}}`, "swarm: inactive"},
		{"a worker", `{"Swarm":{"LocalNodeState":"active","ControlAvailable":false}}`, "a worker node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				changed []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					mu.Lock()
					changed = append(changed, r.Method+" "+r.URL.Path)
					mu.Unlock()
				}
				w.Header().Set("Api-Version", "1.41")
				if strings.HasSuffix(r.URL.Path, "/info") {
					io.WriteString(w, tc.info)
				}
			}))
			defer srv.Close()
			t.Setenv("DOCKER_HOST", "tcp://"+srv.Listener.Addr().String())
			dir := t.TempDir()
			buildtest.Write(t, dir, "project.toml", "[environments.prod]\ntarget = \"swarm\"\napp = \"shop\"\nimage = \"registry.example.com/shop\"\n")
			env, err := release.LoadEnvironment(dir, "prod")
			if err != nil {
				t.Fatal(err)
			}
			_, err = release.Release(context.Background(), env, release.Options{Image: "v1", Getenv: func(string) (string, bool) { return "", false }})
			if !errors.Is(err, release.ErrNotSwarmManager) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "docker swarm init") {
				t.Errorf("err = %v, want ErrNotSwarmManager (%s) with the docker swarm init hint", err, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(changed) > 0 {
				t.Errorf("the release changed something on the daemon: %q", changed)
			}
		})
	}
}
