package release

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"golang.org/x/sync/errgroup"

	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/runtimes"
)

// A release moves every process type of the app with web: the image's
// process table (its dev.phpbuild.processes label) says what runs, the
// release's env snapshot what they are told. Workers start and become
// ready before web switches, so a worker that cannot start stops the
// release with everything old still running; the old ones stop gracefully
// once web has switched. The scheduler is a singleton: the old one stops
// before the new one starts, so a job never runs twice at once.

const (
	// labelProcess names a container's process type; the scheduler's is
	// schedulerName.
	labelProcess  = "dev.phpbuild.process"
	roleProcess   = "process"
	roleScheduler = "scheduler"
	schedulerName = "schedule"
	// stopMargin is what docker waits beyond a process's stop timeout
	// before it kills the container: the launcher applies the timeout
	// itself and reports what it did.
	stopMargin = 5 * time.Second
	// readyPoll is how often a process's health command is run while a
	// release waits for it.
	readyPoll = 500 * time.Millisecond
)

// ProcessRecord is what a release did with one process type, or with the
// scheduler (Name "schedule").
type ProcessRecord struct {
	Name       string   `json:"name"`
	Containers []string `json:"containers,omitempty"`
	// Result is "ok", "not-ready" or "failed"; "stopped" for a process
	// type the release removed.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// processTable reads the process table an image carries.
func processTable(labels map[string]string, ref string) (*processes.Table, error) {
	return processes.Parse("the "+processes.Label+" label of "+ref, []byte(labels[processes.Label]))
}

// processContainer names replica n of process p of release id:
// APP-ENV-NAME-ID-N.
func (h *host) processContainer(p, id string, n int) string {
	return fmt.Sprintf("%s-%s-%s-%d", h.prefix(), p, id, n)
}

func (h *host) schedulerContainer(id string) string {
	return h.prefix() + "-" + schedulerName + "-" + id
}

// procSpec is one container of a process type or the scheduler.
type procSpec struct {
	name, role, process string
	cmd                 []string // after the image's entrypoint, the launcher
	stopSignal          string
	stopTimeout         time.Duration
	health              []string
}

// startProc creates and starts a process container of rec with the env
// snapshot and the environment's volumes, on its network. Docker restarts
// it when it dies, as it does web.
func (h *host) startProc(ctx context.Context, rec *Record, s procSpec, snapPath string) error {
	id, err := h.createProc(ctx, rec, s, snapPath)
	if err != nil {
		return err
	}
	return h.startCreated(ctx, id, s.name)
}

// startCreated starts a container createProc made, removing it when it
// cannot start.
func (h *host) startCreated(ctx context.Context, id, name string) error {
	if err := h.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		h.removeContainer(ctx, id)
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

// createProc creates, without starting it, the container startProc
// starts, and returns its ID.
func (h *host) createProc(ctx context.Context, rec *Record, s procSpec, snapPath string) (string, error) {
	labels := h.labels(s.role, rec.ID)
	labels[labelProcess] = s.process
	stop := int((s.stopTimeout + stopMargin).Seconds())
	cfg := &container.Config{Image: rec.Digest, Cmd: s.cmd, Labels: labels, StopSignal: s.stopSignal, StopTimeout: &stop,
		Env: []string{"PHPBUILD_ENV_FILE=" + envTarget, "PHPBUILD_STOP_TIMEOUT=" + s.stopTimeout.String()},
		// The image's HEALTHCHECK asks the web route, which a worker
		// does not serve.
		Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}
	if s.health != nil {
		cfg.Healthcheck = &container.HealthConfig{Test: append([]string{"CMD", runtimes.LauncherPath, "exec"}, s.health...),
			Interval: h.env.Health.DockerInterval, Timeout: h.env.Health.Timeout, Retries: 3}
	}
	hc := h.hostConfig(snapPath, rec.ID)
	hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, s.name)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", s.name, err)
	}
	return created.ID, nil
}

// waitReady waits until a process container is ready: its health command
// exits 0, or, without one, it still runs after its start period. It
// fails at once when the container stops or restarts.
func (h *host) waitReady(ctx context.Context, name string, health []string, startPeriod time.Duration) error {
	deadline := time.Now().Add(max(h.env.Health.Deadline, startPeriod+time.Second))
	began := time.Now()
	var checks []string
	for {
		ins, err := h.cli.ContainerInspect(ctx, name)
		if err != nil {
			return transient(fmt.Errorf("inspecting %s: %w", name, err))
		}
		if st := ins.State; st == nil || !st.Running || st.Restarting || ins.RestartCount > 0 {
			code := 0
			if st != nil {
				code = st.ExitCode
			}
			checks = append(checks, fmt.Sprintf("the container stopped (exit code %d)", code))
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		switch {
		case health == nil && time.Since(began) >= startPeriod:
			return nil
		case health != nil && time.Since(began) >= min(startPeriod, time.Second):
			line, ok := h.check(ctx, name, nil, 0, append([]string{runtimes.LauncherPath, "exec"}, health...)...)
			if ok {
				return nil
			}
			checks = append(checks[max(0, len(checks)-4):], time.Now().UTC().Format("15:04:05")+" "+processes.Display(health)+": "+line)
		}
		if time.Now().After(deadline) {
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		if err := sleep(ctx, readyPoll); err != nil {
			return err
		}
	}
}

// startProcesses starts every replica of the release's process types and
// waits until each is ready. When one is not, it removes all it started
// and returns why; nothing of the running release was touched.
func (h *host) startProcesses(ctx context.Context, a *attempt, snapPath string) error {
	t := a.procs
	if len(t.Processes) == 0 {
		return nil
	}
	t0 := time.Now()
	var mu sync.Mutex
	recs := map[string]*ProcessRecord{}
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range t.Processes {
		r := &ProcessRecord{Name: p.Name, Result: "ok"}
		recs[p.Name] = r
		for n := 1; n <= p.Replicas; n++ {
			s := procSpec{name: h.processContainer(p.Name, a.rec.ID, n), role: roleProcess, process: p.Name,
				cmd: []string{"process", p.Name}, stopSignal: p.StopSignal, stopTimeout: p.StopTimeout.D(), health: p.Health}
			r.Containers = append(r.Containers, s.name)
			g.Go(func() error {
				err := h.startProc(gctx, a.rec, s, snapPath)
				if err == nil {
					err = h.waitReady(gctx, s.name, s.health, p.StartPeriod.D())
				}
				if err != nil && gctx.Err() == nil {
					mu.Lock()
					r.Result, r.Error = "not-ready", firstLine(err.Error())
					mu.Unlock()
					return fmt.Errorf("process %s (%s): %w", p.Name, s.name, err)
				}
				return err
			})
		}
	}
	err := g.Wait()
	for _, p := range t.Processes {
		a.rec.Processes = append(a.rec.Processes, *recs[p.Name])
	}
	if err != nil {
		h.removeRelease(ctx, a.rec.ID, roleProcess)
		return err
	}
	a.step("processes", t0)
	a.o.logf("started %s: ready after %s", strings.Join(t.Names(), ", "), a.rec.Steps["processes"])
	return nil
}

// removeRelease removes release id's containers of role, when a later
// step of that release failed.
func (h *host) removeRelease(ctx context.Context, id, role string) {
	cs, _ := h.roleContainers(context.WithoutCancel(ctx), role)
	for _, c := range cs {
		if c.Labels[labelRelease] == id {
			h.removeContainer(ctx, c.ID)
		}
	}
}

// replaceProcesses runs once the release serves: it stops every earlier
// release's process containers gracefully (their stop signal, then their
// stop timeout), and moves the scheduler, the old one stopped before the
// new one starts. It records the gap between the two.
func (h *host) replaceProcesses(ctx context.Context, a *attempt, snapPath string) error {
	t0 := time.Now()
	old, err := h.roleContainers(ctx, roleProcess)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, p := range a.procs.Processes {
		kept[p.Name] = true
	}
	removed := map[string]*ProcessRecord{}
	var wg sync.WaitGroup
	stopped := 0
	for _, c := range old {
		if c.Labels[labelRelease] == a.rec.ID {
			continue
		}
		stopped++
		if name := c.Labels[labelProcess]; !kept[name] && removed[name] == nil {
			removed[name] = &ProcessRecord{Name: name, Result: "stopped"}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.stopContainer(ctx, c.ID)
		}()
	}
	wg.Wait()
	for _, name := range slices.Sorted(maps.Keys(removed)) {
		a.rec.Processes = append(a.rec.Processes, *removed[name])
		a.o.logf("stopped process %s: the release has none", name)
	}
	if stopped > 0 {
		a.step("processes_stop", t0)
	}
	return h.moveScheduler(ctx, a, snapPath)
}

// stopContainer stops a container with its own stop signal and timeout,
// and removes it.
func (h *host) stopContainer(ctx context.Context, id string) {
	h.cli.ContainerStop(ctx, id, container.StopOptions{})
	h.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
}

// moveScheduler stops the earlier releases' schedulers, which let the jobs
// they run finish within their stop timeout, and only then starts the
// release's own, when it has schedules. The new container is created
// before the old one stops, so the gap is a stop and a start.
func (h *host) moveScheduler(ctx context.Context, a *attempt, snapPath string) error {
	old, err := h.roleContainers(ctx, roleScheduler)
	if err != nil {
		return err
	}
	var r ProcessRecord
	var created string
	if len(a.procs.Schedules) > 0 {
		name := h.schedulerContainer(a.rec.ID)
		r = ProcessRecord{Name: schedulerName, Containers: []string{name}, Result: "ok"}
		s := procSpec{name: name, role: roleScheduler, process: schedulerName, cmd: []string{schedulerName},
			stopSignal: "SIGTERM", stopTimeout: processes.DefaultStopTimeout}
		if created, err = h.createProc(ctx, a.rec, s, snapPath); err != nil {
			r.Result, r.Error = "failed", firstLine(err.Error())
			a.rec.Processes = append(a.rec.Processes, r)
			return fmt.Errorf("the scheduler of the new release could not be created (web and the workers were switched; the old scheduler still runs): %w", err)
		}
	}
	t0 := time.Now()
	stopped := false
	for _, c := range old {
		if c.Labels[labelRelease] != a.rec.ID {
			h.stopContainer(ctx, c.ID)
			stopped = true
		}
	}
	if created == "" {
		if stopped {
			a.rec.Processes = append(a.rec.Processes, ProcessRecord{Name: schedulerName, Result: "stopped"})
			a.o.logf("stopped the scheduler: the release has no schedule")
		}
		return nil
	}
	name := r.Containers[0]
	err = h.startCreated(ctx, created, name)
	if err == nil && stopped {
		a.step("scheduler_gap", t0)
	}
	if err == nil {
		// The scheduler reads its table at start: a second of running
		// shows it took it.
		err = h.waitReady(ctx, name, nil, time.Second)
	}
	if err != nil {
		r.Result, r.Error = "failed", firstLine(err.Error())
		a.rec.Processes = append(a.rec.Processes, r)
		return fmt.Errorf("the scheduler of the new release did not start (web and the workers were switched; no scheduler runs): %w", err)
	}
	a.rec.Processes = append(a.rec.Processes, r)
	if stopped {
		a.o.logf("moved the scheduler to %s; no scheduler ran for %s", name, a.rec.Steps["scheduler_gap"])
	} else {
		a.o.logf("started the scheduler %s", name)
	}
	return nil
}

// removeStaleProcesses removes process and scheduler containers of
// releases other than the current one: left by a release that was killed
// midway.
func (h *host) removeStaleProcesses(ctx context.Context) {
	cur, err := h.state.read(ctx, "current")
	if err != nil && !errors.Is(err, errNoState) {
		return
	}
	id := strings.TrimSpace(string(cur))
	for _, role := range []string{roleProcess, roleScheduler} {
		cs, err := h.roleContainers(ctx, role)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Labels[labelRelease] != id {
				h.removeContainer(ctx, c.ID)
			}
		}
	}
}
