package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

// logsFake is the fake daemon with each container's (or task's) own
// output, and services for a swarm environment.
type logsFake struct {
	*fakeDocker
	// out is each container's or task's output: frames, or a func
	// writing them.
	out      map[string]func(w io.Writer)
	services []swarm.Service
	tasks    []swarm.Task

	mu   sync.Mutex
	opts []container.LogsOptions
}

func (f *logsFake) ContainerLogs(_ context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	f.opts = append(f.opts, o)
	f.mu.Unlock()
	write, ok := f.out[id]
	if !ok {
		return nil, fmt.Errorf("no such container: %s", id)
	}
	pr, pw := io.Pipe()
	go func() {
		write(pw)
		pw.Close()
	}()
	return pr, nil
}

func (f *logsFake) TaskLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	return f.ContainerLogs(ctx, id, o)
}

func (f *logsFake) ServiceList(context.Context, swarm.ServiceListOptions) ([]swarm.Service, error) {
	return f.services, nil
}

func (f *logsFake) TaskList(_ context.Context, o swarm.TaskListOptions) ([]swarm.Task, error) {
	var out []swarm.Task
	for _, t := range f.tasks {
		if t.ServiceID == o.Filters.Get("service")[0] {
			out = append(out, t)
		}
	}
	return out, nil
}

// says is a container's output: lines on stdout and one on stderr.
func says(stdout, stderr string) func(io.Writer) {
	return func(w io.Writer) {
		stdcopy.NewStdWriter(w, stdcopy.Stdout).Write([]byte(stdout))
		stdcopy.NewStdWriter(w, stdcopy.Stderr).Write([]byte(stderr))
	}
}

func labeled(role, process, release string) map[string]string {
	l := map[string]string{labelApp: "shop", labelEnv: "prod", labelRole: role, labelRelease: release}
	if process != "" {
		l[labelProcess] = process
	}
	return l
}

// dockerLogsHost has the current release R's web, two workers and the
// scheduler, and an old worker of release OLD.
func dockerLogsHost(t *testing.T) (*host, *logsFake) {
	h, f, st := fakeHost(t, testEnv("docker"))
	withCurrent(st, "R")
	f.containers = []container.Summary{
		{ID: "sched", Names: []string{"/shop-prod-schedule-R"}, Labels: labeled(roleScheduler, schedulerName, "R"), Image: "img@sha256:1", State: "running"},
		{ID: "w2", Names: []string{"/shop-prod-worker-R-2"}, Labels: labeled(roleProcess, "worker", "R"), Image: "img@sha256:1", State: "running"},
		{ID: "w1", Names: []string{"/shop-prod-worker-R-1"}, Labels: labeled(roleProcess, "worker", "R"), Image: "img@sha256:1", State: "restarting"},
		{ID: "old", Names: []string{"/shop-prod-worker-OLD-1"}, Labels: labeled(roleProcess, "worker", "OLD"), Image: "img@sha256:0", State: "running"},
		{ID: "web", Names: []string{"/shop-prod-R"}, Labels: labeled("app", "", "R"), Image: "img@sha256:1", State: "running"},
	}
	lf := &logsFake{fakeDocker: f, out: map[string]func(io.Writer){
		"web":   says("GET /\n", "NOTICE: fpm is running\n"),
		"w1":    says("job 1 done\n", ""),
		"w2":    says("job 2 done\nno newline at the end", ""),
		"sched": says("", "schedule.report: exit 0 in 1s\n"),
		"old":   says("an old worker\n", ""),
	}}
	h.cli = lf
	return h, lf
}

// TestLogs: the current release's containers one after the other, each
// line after a short name when there are several, stdout and stderr
// demultiplexed; a process type alone has no prefix.
func TestLogs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		process string
		want    string
	}{
		{name: "all", want: `web      | GET /
web      | NOTICE: fpm is running
worker.1 | job 1 done
worker.2 | job 2 done
worker.2 | no newline at the end
schedule | schedule.report: exit 0 in 1s
`},
		{name: "one process type", process: "worker", want: `worker.1 | job 1 done
worker.2 | job 2 done
worker.2 | no newline at the end
`},
		{name: "the scheduler", process: "schedule", want: "schedule.report: exit 0 in 1s\n"},
		{name: "web", process: "web", want: "GET /\nNOTICE: fpm is running\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := dockerLogsHost(t)
			var out bytes.Buffer
			if err := h.showLogs(context.Background(), LogOptions{Process: tc.process, Tail: -1}, &out); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, out.String()); d != "" {
				t.Errorf("output (-want +got):\n%s", d)
			}
		})
	}
}

func TestLogsOptions(t *testing.T) {
	h, f := dockerLogsHost(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := h.showLogs(context.Background(), LogOptions{Process: "web", Tail: 5, Since: since, Follow: true}, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := []container.LogsOptions{{ShowStdout: true, ShowStderr: true, Follow: true, Tail: "5", Since: "2026-01-02T03:04:05Z"}}
	if d := cmp.Diff(want, f.opts); d != "" {
		t.Errorf("logs options (-want +got):\n%s", d)
	}
	f.opts = nil
	h.showLogs(context.Background(), LogOptions{Process: "web", Tail: -1}, io.Discard)
	if f.opts[0].Tail != "all" {
		t.Errorf("tail %q, want all", f.opts[0].Tail)
	}
}

func TestLogsUnknownProcess(t *testing.T) {
	h, _ := dockerLogsHost(t)
	err := h.showLogs(context.Background(), LogOptions{Process: "mailer"}, io.Discard)
	if !badinput.Is(err) || !strings.Contains(err.Error(), `release R runs no "mailer"; it runs web, worker, schedule`) {
		t.Errorf("err = %v", err)
	}
}

// TestLogsFollow: lines of containers that write at once never mix
// within a line, however their frames are cut.
func TestLogsFollow(t *testing.T) {
	h, f := dockerLogsHost(t)
	chatty := func(who string) func(io.Writer) {
		return func(w io.Writer) {
			out := stdcopy.NewStdWriter(w, stdcopy.Stdout)
			for i := range 200 {
				out.Write([]byte(fmt.Sprintf("%s line ", who)))
				out.Write([]byte(fmt.Sprintf("%d\n", i)))
			}
		}
	}
	f.out["w1"], f.out["w2"] = chatty("one"), chatty("two")
	var out bytes.Buffer
	if err := h.showLogs(context.Background(), LogOptions{Process: "worker", Follow: true, Tail: -1}, &out); err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(worker\.1 \| one|worker\.2 \| two) line \d+$`)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Errorf("mixed line %q", l)
		}
	}
	if len(lines) != 400 {
		t.Errorf("%d lines, want 400", len(lines))
	}
}

// TestLogsFollowCanceled: following ends with ctx.
func TestLogsFollowCanceled(t *testing.T) {
	h, f := dockerLogsHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The real client's stream ends with its request's ctx; this fake's
	// pipe does not, so close it the same way.
	f.out["web"] = func(w io.Writer) { <-ctx.Done(); w.(*io.PipeWriter).CloseWithError(ctx.Err()) }
	time.AfterFunc(20*time.Millisecond, cancel)
	err := h.showLogs(ctx, LogOptions{Process: "web", Follow: true, Tail: -1}, io.Discard)
	if err != context.Canceled {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// swarmLogsHost has web's service with two tasks of release R and one
// shut down, and a worker's service with one.
func swarmLogsHost(t *testing.T) (*host, *logsFake) {
	h, f, st := fakeHost(t, testEnv("swarm"))
	withCurrent(st, "R")
	task := func(id, svc string, slot int, desired swarm.TaskState, release string) swarm.Task {
		return swarm.Task{ID: id, ServiceID: svc, Slot: slot, DesiredState: desired,
			Spec:   swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "img@sha256:1", Labels: map[string]string{labelRelease: release}}},
			Status: swarm.TaskStatus{State: swarm.TaskStateRunning, ContainerStatus: &swarm.ContainerStatus{ContainerID: "c-" + id}}}
	}
	svc := func(id, name string, labels map[string]string) swarm.Service {
		return swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
	}
	lf := &logsFake{fakeDocker: f,
		services: []swarm.Service{
			svc("s-worker", "shop-prod-worker", labeled(roleProcess, "worker", "R")),
			svc("s-web", "shop-prod", labeled("service", "", "R")),
		},
		tasks: []swarm.Task{
			task("t2", "s-web", 2, swarm.TaskStateRunning, "R"),
			task("t1", "s-web", 1, swarm.TaskStateRunning, "R"),
			task("t0", "s-web", 1, swarm.TaskStateShutdown, "OLD"),
			task("tw", "s-worker", 1, swarm.TaskStateRunning, "R"),
		},
		out: map[string]func(io.Writer){
			"t1": says("one\n", ""), "t2": says("two\n", ""), "t0": says("old\n", ""), "tw": says("working\n", ""),
		}}
	h.cli = lf
	return h, lf
}

func TestLogsSwarm(t *testing.T) {
	h, _ := swarmLogsHost(t)
	var out bytes.Buffer
	if err := h.showLogs(context.Background(), LogOptions{Tail: -1}, &out); err != nil {
		t.Fatal(err)
	}
	want := "web.1  | one\nweb.2  | two\nworker | working\n"
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
}

// TestProcessStatus: status lists each process type's and the
// scheduler's containers, of every release, with docker's health.
func TestProcessStatus(t *testing.T) {
	h, f := dockerLogsHost(t)
	f.inspect = func(id string) (container.InspectResponse, error) {
		st := &container.State{Running: true}
		if id == "w2" {
			st.Health = &container.Health{Status: "healthy"}
		}
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: st}}, nil
	}
	st, err := h.status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ProcessStatus{
		{Name: "worker", Containers: []ContainerStatus{
			{Name: "shop-prod-worker-OLD-1", Release: "OLD", Image: "img@sha256:0", State: "running"},
			{Name: "shop-prod-worker-R-1", Release: "R", Image: "img@sha256:1", State: "restarting"},
			{Name: "shop-prod-worker-R-2", Release: "R", Image: "img@sha256:1", State: "running", Health: "healthy"},
		}},
		{Name: "schedule", Containers: []ContainerStatus{{Name: "shop-prod-schedule-R", Release: "R", Image: "img@sha256:1", State: "running"}}},
	}
	if d := cmp.Diff(want, st.Processes); d != "" {
		t.Errorf("processes (-want +got):\n%s", d)
	}
	if st.Current == nil || st.Current.ID != "R" {
		t.Errorf("current %+v, want R", st.Current)
	}
}

func TestProcessStatusSwarm(t *testing.T) {
	h, f := swarmLogsHost(t)
	f.inspect = func(id string) (container.InspectResponse, error) {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: &container.State{Health: &container.Health{Status: "healthy"}}}}, nil
	}
	ps, err := h.processStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []ProcessStatus{{Name: "worker", Containers: []ContainerStatus{{Name: "shop-prod-worker.1.tw", Release: "R", Image: "img@sha256:1", State: "running", Health: "healthy"}}}}
	if d := cmp.Diff(want, ps); d != "" {
		t.Errorf("processes (-want +got):\n%s", d)
	}
}

// TestHealthBeforeDockersFirstCheck: where docker has not checked a
// container yet (starting, no log), status runs the container's check
// once: healthy when it passes, unhealthy when not; docker's own verdict
// otherwise, and no exec.
func TestHealthBeforeDockersFirstCheck(t *testing.T) {
	h, f := dockerLogsHost(t)
	check := []string{"CMD", "/usr/local/bin/launcher", "exec", "php", "bin/ready.php"}
	health := map[string]*container.Health{"w2": {Status: container.Starting}}
	f.inspect = func(id string) (container.InspectResponse, error) {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: &container.State{Running: true, Health: health[id]}},
			Config: &container.Config{Healthcheck: &container.HealthConfig{Test: check}}}, nil
	}
	code := 0
	f.exec = func(ctr string, cmd []string) (string, int) {
		if ctr != "w2" || strings.Join(cmd, " ") != strings.Join(check[1:], " ") {
			t.Errorf("exec in %s of %q, want w2's check %q", ctr, cmd, check[1:])
		}
		return "not ready\n", code
	}
	worker := func() string {
		t.Helper()
		ps, err := h.processStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range ps[0].Containers {
			if c.Name == "shop-prod-worker-R-2" {
				return c.Health
			}
		}
		t.Fatalf("no shop-prod-worker-R-2 in %+v", ps)
		return ""
	}
	execs := func() int {
		n := 0
		for _, c := range f.calls {
			if strings.HasPrefix(c, "exec ") {
				n++
			}
		}
		return n
	}
	if got := worker(); got != container.Healthy || execs() != 1 {
		t.Errorf("a passing check before docker's first: %q after %d execs, want healthy after 1", got, execs())
	}
	code = 1
	if got := worker(); got != container.Unhealthy || execs() != 2 {
		t.Errorf("a failing check before docker's first: %q after %d execs, want unhealthy after 2", got, execs())
	}
	health["w2"] = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{{ExitCode: 1}}}
	if got := worker(); got != container.Starting || execs() != 2 {
		t.Errorf("docker has checked: %q after %d execs, want docker's starting and no exec", got, execs())
	}
}
