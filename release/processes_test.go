package release_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

// workerFixture is testdata/apps/worker, built at two commits, with an
// environment "test" whose data dir is a named volume shared by web, the
// worker and the scheduled job.
type workerFixture struct {
	dir, app, base string
	v1, v2         string
	port           int
}

func newWorkerFixture(t *testing.T, target string) *workerFixture {
	t.Helper()
	cli := testbed.Docker(t)
	if target == "swarm" {
		ensureSwarm(t, cli)
	}
	rt := buildtest.Runtimes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	f := &workerFixture{dir: buildtest.GitApp(t, "worker"), port: testbed.FreePort(t)}
	f.app = fmt.Sprintf("w%d", time.Now().UnixNano()%1e9)
	f.base = fmt.Sprintf("http://127.0.0.1:%d", f.port)
	repo := buildtest.Repo(t, "release-worker")
	opts := []build.Option{build.WithRuntimeRepo(rt), build.WithBuildkitHost(testbed.BuildkitHost(t)), build.WithTarget(repo), build.WithSkipExisting()}
	r1, err := build.Publish(ctx, f.dir, build.NewRegistry(repo, nil), opts...)
	if err != nil {
		t.Fatalf("building v1: %v", err)
	}
	kernel := readFile(t, f.dir+"/src/Http/Kernel.php")
	buildtest.Write(t, f.dir, "src/Http/Kernel.php", strings.Replace(kernel, `"worker app, release`, `"worker app v2, release`, 1))
	buildtest.Commit(t, f.dir, "v2", "2026-01-03T00:00:00Z")
	r2, err := build.Publish(ctx, f.dir, build.NewRegistry(repo, nil), opts...)
	if err != nil {
		t.Fatalf("building v2: %v", err)
	}
	f.v1, f.v2 = r1.SHA, r2.SHA
	project := readFile(t, f.dir+"/project.toml")
	buildtest.Write(t, f.dir, "project.toml", project+fmt.Sprintf(`
[environments.test]
target = %q
app = %q
port = %d
image = %q
env_files = ["deploy/test.env"]
drain_timeout = "5s"
keep = 5
volumes = { %q = "/app/storage" }

[environments.test.health]
interval = "200ms"
deadline = "30s"
`, target, f.app, f.port, repo.String(), f.app+"-data"))
	t.Cleanup(func() {
		ctx := context.Background()
		if svcs, err := cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", "dev.phpbuild.app="+f.app))}); err == nil {
			for _, s := range svcs {
				cli.ServiceRemove(ctx, s.ID)
			}
			waitGone(t, cli, "dev.phpbuild.app="+f.app)
		}
		testbed.RemoveLabeled(t, "dev.phpbuild.app="+f.app)
		cli.NetworkRemove(context.Background(), "phpbuild-"+f.app+"-test")
		cli.VolumeRemove(context.Background(), f.app+"-data", true)
		os.RemoveAll(release.StateRoot + "/" + f.app)
	})
	return f
}

// setEnv writes the environment's env file: the release name the app
// reports, and extra lines.
func (f *workerFixture) setEnv(t *testing.T, rel string, extra ...string) {
	t.Helper()
	buildtest.Write(t, f.dir, "deploy/test.env", strings.Join(append([]string{"APP_RELEASE=" + rel, "DATA_DIR=/app/storage", "TICK_MS=800"}, extra...), "\n")+"\n")
}

func (f *workerFixture) release(t *testing.T, image string) (*release.Record, error) {
	t.Helper()
	env, err := release.LoadEnvironment(f.dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return release.Release(ctx, env, release.Options{Image: image, Getenv: func(string) (string, bool) { return "", false }})
}

func (f *workerFixture) rollback(t *testing.T) (*release.Record, error) {
	t.Helper()
	env, err := release.LoadEnvironment(f.dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return release.Rollback(ctx, env, "", release.Options{})
}

// page GETs a path of the app through the front proxy.
func (f *workerFixture) page(t *testing.T, path string) string {
	t.Helper()
	code, body, err := get(f.base + path)
	if err != nil || code != 200 {
		t.Fatalf("GET %s: %d %v %s", path, code, err, body)
	}
	return body
}

// containers lists the environment's running containers of role.
func (f *workerFixture) containers(t *testing.T, role string) []container.Summary {
	t.Helper()
	cs, err := testbed.Docker(t).ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", "dev.phpbuild.app="+f.app), filters.Arg("label", "dev.phpbuild.role="+role))})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// tickRun is one run of the scheduled job, from schedule.log.
type tickRun struct {
	release    string
	start, end float64
}

// ticks reads the scheduled job's runs; a run that found another one
// running is an error.
func (f *workerFixture) ticks(t *testing.T) []tickRun {
	t.Helper()
	var runs []tickRun
	open := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(f.page(t, "/schedule")), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			continue
		}
		at, _ := strconv.ParseFloat(fields[2], 64)
		switch fields[0] {
		case "overlap":
			t.Errorf("the scheduled job ran twice at once (%s)", line)
		case "start":
			open[fields[1]] = len(runs)
			runs = append(runs, tickRun{release: fields[1], start: at})
		case "end":
			if i, ok := open[fields[1]]; ok {
				runs[i].end = at
				delete(open, fields[1])
			}
		}
	}
	return runs
}

// waitFor polls cond every 200ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// feeder queues a job through the web app every interval until stopped.
type feeder struct {
	f      *workerFixture
	n      atomic.Int64
	errs   atomic.Int64
	stop   chan struct{}
	done   sync.WaitGroup
	prefix string
}

func startFeeder(f *workerFixture, prefix string, every time.Duration) *feeder {
	fd := &feeder{f: f, stop: make(chan struct{}), prefix: prefix}
	fd.done.Add(1)
	go func() {
		defer fd.done.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-fd.stop:
				return
			case <-tick.C:
				id := fmt.Sprintf("%s%04d", fd.prefix, fd.n.Load())
				resp, err := http.Post(f.base+"/jobs?millis=150&id="+id, "text/plain", nil)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					fd.errs.Add(1)
				} else {
					fd.n.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}
	}()
	return fd
}

func (fd *feeder) finish() { close(fd.stop); fd.done.Wait() }

type jobResult struct {
	ID       string  `json:"id"`
	Worker   string  `json:"worker"`
	Release  string  `json:"release"`
	Started  float64 `json:"started"`
	Finished float64 `json:"finished"`
	Stopping bool    `json:"stopping"`
	Error    string  `json:"error"`
}

// results waits until the queue is empty and returns every done job.
func (f *workerFixture) results(t *testing.T) map[string]jobResult {
	t.Helper()
	waitFor(t, 60*time.Second, "the queue to drain", func() bool {
		var st struct{ Queued, Running []string }
		json.Unmarshal([]byte(f.page(t, "/jobs")), &st)
		return len(st.Queued) == 0 && len(st.Running) == 0
	})
	var list []jobResult
	body := f.page(t, "/jobs/results")
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("results: %v\n%s", err, body)
	}
	out := map[string]jobResult{}
	for _, r := range list {
		if r.Error != "" {
			t.Errorf("job %s: %s", r.ID, r.Error)
		}
		out[r.ID] = r
	}
	return out
}

// TestReleaseProcesses releases the worker app's web, worker and schedule
// together, under load and with jobs flowing, then rolls them back, then
// releases a worker that cannot start; on a docker host and on Swarm.
func TestReleaseProcesses(t *testing.T) {
	for _, target := range []string{"docker", "swarm"} {
		t.Run(target, func(t *testing.T) { testReleaseProcesses(t, target) })
	}
}

func testReleaseProcesses(t *testing.T, target string) {
	f := newWorkerFixture(t, target)
	f.setEnv(t, "r1")
	rec, err := f.release(t, f.v1)
	if err != nil {
		t.Fatalf("first release: %v", err)
	}
	t.Logf("first release: %s %v", rec.Duration, rec.Steps)
	if got := processResults(rec); got != "worker=ok schedule=ok" {
		t.Errorf("first release's processes: %s (%+v)", got, rec.Processes)
	}
	if m := f.page(t, "/migrations"); m != "migrated by r1\n" {
		t.Errorf("the Procfile's release command, as pre_release: migrations.log %q", m)
	}
	waitFor(t, 15*time.Second, "a scheduled run of r1", func() bool {
		runs := f.ticks(t)
		return len(runs) > 0 && runs[len(runs)-1].end > 0
	})

	t.Run("run, logs and status see the release's processes", func(t *testing.T) {
		env, err := release.LoadEnvironment(f.dir, "test")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, tc := range []struct {
			cmd   []string
			stdin string
			code  int
			out   string
		}{
			{cmd: []string{"php", "cli.php", "env", "APP_RELEASE"}, out: "APP_RELEASE=r1\n"},
			{cmd: []string{"php", "cli.php", "echo-stdin"}, stdin: "piped\nlines\n", out: "PIPED\nLINES\n"},
			{cmd: []string{"php", "cli.php", "fail", "3"}, code: 3},
		} {
			var out, errOut strings.Builder
			code, err := release.Run(ctx, env, release.RunOptions{Cmd: tc.cmd, Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errOut})
			if err != nil || code != tc.code || out.String() != tc.out {
				t.Errorf("run %v: code %d, err %v, stdout %q (stderr %q); want %d, %q", tc.cmd, code, err, out.String(), errOut.String(), tc.code, tc.out)
			}
		}
		var logs strings.Builder
		if err := release.Logs(ctx, env, release.LogOptions{Process: "schedule", Tail: -1}, &logs); err != nil || !strings.Contains(logs.String(), "[tick] tick by r1") {
			t.Errorf("logs of the scheduler: %v\n%s", err, logs.String())
		}
		st, err := release.GetStatus(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range st.Processes {
			for _, c := range p.Containers {
				got = append(got, p.Name+":"+c.State)
			}
		}
		if strings.Join(got, " ") != "worker:running schedule:running" {
			t.Errorf("status lists %v", got)
		}
	})

	versionOf := func(body string) string {
		_, v, _ := strings.Cut(strings.TrimSpace(body), "release ")
		if strings.Contains(body, "worker app v2") {
			return "v2/" + v
		}
		return "v1/" + v
	}
	// A long job in the old worker's hands when the release starts. It is
	// queued before the feeder starts: the queue is taken in name order, and
	// a busy machine's worker may never catch up with the feeder's a… jobs.
	if resp, err := http.Post(f.base+"/jobs?millis=-1&id=long", "text/plain", nil); err != nil || resp.StatusCode != 202 {
		t.Fatalf("queueing the long job: %v %v", resp, err)
	}
	waitFor(t, 20*time.Second, "the long job to start", func() bool { return strings.Contains(f.page(t, "/jobs"), `"long.`) })
	load := loadgen.Start(f.base+"/", 60, versionOf)
	jobs := startFeeder(f, "a", 150*time.Millisecond)

	f.setEnv(t, "r2")
	began := float64(time.Now().UnixNano()) / 1e9
	rec2, err := f.release(t, f.v2)
	if err != nil {
		jobs.finish()
		load.Finish()
		t.Fatalf("release v2: %v", err)
	}
	t.Logf("release v2 with a worker and a schedule: %s %v", rec2.Duration, rec2.Steps)
	if got := processResults(rec2); got != "worker=ok schedule=ok" {
		t.Errorf("release v2's processes: %s (%+v)", got, rec2.Processes)
	}
	if rec2.Steps["scheduler_gap"] == "" {
		t.Errorf("release v2 did not record the scheduler's gap: %v", rec2.Steps)
	}
	time.Sleep(2 * time.Second)
	jobs.finish()
	res := f.results(t)
	long, ok := res["long"]
	switch {
	case !ok:
		t.Errorf("the long job in progress at the release is lost")
	case long.Release != "r1" || !long.Stopping || long.Finished < began:
		t.Errorf("the long job: %+v; want it finished by the r1 worker, asked to stop, after the release began (%.3f)", long, began)
	}
	byRelease := map[string]int{}
	for i := int64(0); i < jobs.n.Load(); i++ {
		r, ok := res[fmt.Sprintf("a%04d", i)]
		if !ok {
			t.Errorf("job a%04d was queued and never done", i)
			continue
		}
		byRelease[r.Release]++
	}
	if byRelease["r2"] == 0 {
		t.Errorf("no job was done by the r2 worker: %v", byRelease)
	}
	t.Logf("jobs across the release: %d queued (%d queueing errors), done by release %v; the long job, in the old worker's hands until it was asked to stop, ran %.1fs and finished %.1fs after the release began",
		jobs.n.Load(), jobs.errs.Load(), byRelease, long.Finished-long.Started, long.Finished-began)
	if n := len(f.containers(t, "process")); n != 1 {
		t.Errorf("%d worker containers run after the release, want 1", n)
	}
	if cs := f.containers(t, "scheduler"); len(cs) != 1 || cs[0].Labels["dev.phpbuild.release"] != rec2.ID {
		t.Errorf("schedulers after the release: %v", cs)
	}
	waitFor(t, 15*time.Second, "a scheduled run of r2", func() bool {
		runs := f.ticks(t)
		return len(runs) > 0 && runs[len(runs)-1].release == "r2" && runs[len(runs)-1].end > 0
	})

	// Roll web, the worker and the scheduler back together.
	back, err := f.rollback(t)
	if err != nil {
		load.Finish()
		t.Fatalf("rollback: %v", err)
	}
	t.Logf("rollback: %s %v", back.Duration, back.Steps)
	jobs2 := startFeeder(f, "b", 100*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	jobs2.finish()
	for id, r := range f.results(t) {
		if strings.HasPrefix(id, "b") && r.Release != "r1" {
			t.Errorf("after the rollback, job %s was done by release %s", id, r.Release)
		}
	}
	waitFor(t, 15*time.Second, "a scheduled run of r1 after the rollback", func() bool {
		runs := f.ticks(t)
		return len(runs) > 0 && runs[len(runs)-1].release == "r1" && runs[len(runs)-1].end > 0
	})
	load.Finish()
	runs := f.ticks(t)
	checkNoOverlap(t, runs)
	t.Logf("load: %d ok, %d failed, %d connection errors; versions %v; %d scheduled runs, none at once",
		load.OK.Load(), load.Failed.Load(), load.ConnErrs.Load(), load.Seen(), len(runs))
	if load.Failed.Load() != 0 || load.ConnErrs.Load() != 0 {
		t.Errorf("%d failed requests and %d connection errors: %q", load.Failed.Load(), load.ConnErrs.Load(), load.Errors())
	}

	t.Run("a worker that cannot start stops the release; everything old keeps running", func(t *testing.T) {
		// What runs, by role and release; on a docker host, the very
		// containers.
		running := func() map[string]bool {
			out := map[string]bool{}
			for _, role := range []string{"app", "process", "scheduler"} {
				for _, c := range f.containers(t, role) {
					out[role+" of "+c.Labels["dev.phpbuild.release"]] = true
					if target == "docker" {
						out[c.ID] = true
					}
				}
			}
			return out
		}
		before := running()
		f.setEnv(t, "r3", "DATA_DIR=/nonexistent")
		rec3, err := f.release(t, f.v2)
		var he *release.HealthError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "not writable; check DATA_DIR") {
			t.Fatalf("release with a broken worker: %v; want the worker's own last words", err)
		}
		if rec3.Result != "health-failed" || processResults(rec3) != "worker=not-ready" {
			t.Errorf("record: %s %+v", rec3.Result, rec3.Processes)
		}
		after := running()
		if fmt.Sprint(sortedKeys(before)) != fmt.Sprint(sortedKeys(after)) {
			t.Errorf("running containers changed: before %v, after %v", sortedKeys(before), sortedKeys(after))
		}
		if v := versionOf(f.page(t, "/")); v != "v1/r1" {
			t.Errorf("serving %s after the failed release", v)
		}
	})
}

func processResults(rec *release.Record) string {
	var out []string
	for _, p := range rec.Processes {
		out = append(out, p.Name+"="+p.Result)
	}
	return strings.Join(out, " ")
}

// checkNoOverlap fails when two scheduled runs overlapped in time, across
// releases too.
func checkNoOverlap(t *testing.T, runs []tickRun) {
	t.Helper()
	sort.Slice(runs, func(i, j int) bool { return runs[i].start < runs[j].start })
	for i := 1; i < len(runs); i++ {
		if prev := runs[i-1]; prev.end == 0 || runs[i].start < prev.end {
			t.Errorf("run %d (%s, from %.3f) began before run %d (%s) ended (%.3f)", i, runs[i].release, runs[i].start, i-1, prev.release, prev.end)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitGone waits until no container has label: Swarm stops a removed
// service's tasks asynchronously.
func waitGone(t *testing.T, cli *dockerclient.Client, label string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		cs, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label), filters.Arg("label", "com.docker.swarm.service.name"))})
		if err != nil || len(cs) == 0 {
			return
		}
	}
}
