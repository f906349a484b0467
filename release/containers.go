package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"

	"github.com/phpbuild/phpbuild/processes"
)

// dockerTarget runs each release as one container on the environment's
// private bridge network; the front proxy is rewritten to name the new
// container and reloaded gracefully once it is healthy, then the old one
// drains.
type dockerTarget struct{ h *host }

func (t *dockerTarget) check(context.Context) error { return nil }

func (t *dockerTarget) ensureNetwork(ctx context.Context) error { return t.h.ensureNetwork(ctx) }

// recover removes the containers a killed release started, which nothing
// serves from.
func (t *dockerTarget) recover(ctx context.Context) {
	t.h.removeStale(ctx, t.h.upstream(ctx))
	t.h.removeStaleProcesses(ctx)
}

func (t *dockerTarget) startProcesses(ctx context.Context, a *attempt, _ []byte, snapPath string) error {
	return t.h.startProcesses(ctx, a, snapPath)
}

func (t *dockerTarget) abandon(ctx context.Context, a *attempt) {
	t.h.removeRelease(ctx, a.rec.ID, roleProcess)
}

func (t *dockerTarget) replaceProcesses(ctx context.Context, a *attempt, _ []byte, snapPath string) error {
	return t.h.replaceProcesses(ctx, a, snapPath)
}

func (t *dockerTarget) needsSnapshot() bool { return true }

func (t *dockerTarget) start(ctx context.Context, a *attempt, _ []byte, snapPath string) (*started, error) {
	h, rec := t.h, a.rec
	t0 := time.Now()
	name := h.appName(rec.ID)
	if err := h.startApp(ctx, rec, name, snapPath, "app"); err != nil {
		return nil, err
	}
	a.step("start", t0)
	a.o.logf("started %s", name)
	t0 = time.Now()
	if err := h.waitHealthy(ctx, name); err != nil {
		h.removeContainer(ctx, name)
		return nil, err
	}
	a.step("health", t0)
	a.o.logf("healthy after %s", rec.Steps["health"])
	if len(h.env.Health.Smoke) > 0 {
		t0 = time.Now()
		if err := h.smokeChecks(ctx, name, &a.o); err != nil {
			h.removeContainer(ctx, name)
			return nil, err
		}
		a.step("smoke", t0)
	}
	return &started{id: name, ready: time.Now()}, nil
}

// route points the proxy at the container and reloads nginx gracefully:
// new requests go to it, requests in flight finish where they are.
func (t *dockerTarget) route(ctx context.Context, a *attempt, s *started) error {
	// A daemon that restarted since the release began restarted the old
	// container and the new one: what was checked may not be what runs.
	if why := a.daemonTrouble(ctx); why != "" {
		t.h.removeContainer(ctx, s.id)
		return transient(fmt.Errorf("%s; nothing was switched", why))
	}
	if err := t.h.routeProxy(ctx, s.id); err != nil {
		t.h.removeContainer(ctx, s.id)
		return err
	}
	a.o.logf("switched the proxy to %s", s.id)
	return nil
}

func (t *dockerTarget) drain(ctx context.Context, _ *attempt, s *started) { t.h.drain(ctx, s.id) }

func (t *dockerTarget) retain(context.Context) {}

func (t *dockerTarget) health(ctx context.Context, serving string) string {
	ins, err := t.h.cli.ContainerInspect(ctx, serving)
	if err != nil || ins.State == nil {
		return ""
	}
	if ins.State.Health != nil {
		return t.h.healthOf(ctx, ins)
	}
	return ins.State.Status
}

func (t *dockerTarget) planSteps(string) []string {
	env := t.h.env
	steps := []string{
		"start the image's process types (its " + processes.Label + " label), each replica APP-ENV-NAME-ID-N, and wait until each is ready; one that is not stops the release",
		"start the new container on the private network",
		fmt.Sprintf("wait for %s → %d (every %s, up to %s)", healthPath(env), env.Health.Status, env.Health.Interval, env.Health.Deadline),
	}
	for _, c := range env.Health.Smoke {
		steps = append(steps, c.describe()+"; a failure removes the new container")
	}
	steps = append(steps,
		fmt.Sprintf("switch the proxy on port %d (nginx graceful reload)", env.Port),
		fmt.Sprintf("drain and stop the old container (SIGQUIT, up to %s)", env.Drain.Round(time.Second)),
		"stop the earlier release's process containers (their stop_signal, up to their stop_timeout)",
		"move the scheduler: stop the old one, letting its running jobs finish, then start the new one")
	// Only this target's plan lists post_release, as before targets had an
	// interface; a swarm release runs it too.
	if env.Hooks.PostRelease != "" {
		steps = append(steps, "hook post_release: "+env.Hooks.PostRelease)
	}
	return steps
}

// removeContainer removes a container that failed, even when ctx is done.
func (h *host) removeContainer(ctx context.Context, name string) {
	h.cli.ContainerRemove(context.WithoutCancel(ctx), name, container.RemoveOptions{Force: true, RemoveVolumes: true})
}

// startApp creates and starts a container of the release on the private
// network, the env snapshot mounted read-only where dotenv apps look and
// where the launcher loads it. role is "app" for the one that will serve,
// "smoke" for a swarm release's smoke-check canary, which never restarts.
func (h *host) startApp(ctx context.Context, rec *Record, name, snapPath, role string) error {
	env := []string{"PHPBUILD_ENV_FILE=/app/.env", fmt.Sprintf("PHPBUILD_HEALTH_STATUS=%d", h.env.Health.Status)}
	if h.env.Health.Path != "" {
		env = append(env, "PHPBUILD_HEALTH_PATH="+h.env.Health.Path)
	}
	cfg := &container.Config{Image: rec.Digest, Env: env, Labels: h.labels(role, rec.ID),
		Healthcheck: &container.HealthConfig{
			Test:     []string{"CMD", "/usr/local/bin/launcher", "health"},
			Interval: h.env.Health.DockerInterval, Timeout: h.env.Health.Timeout, StartPeriod: h.env.Health.StartPeriod, Retries: 3,
		}}
	hc := h.hostConfig(snapPath, rec.ID)
	if role == "app" {
		hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {Aliases: []string{name}}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, name)
	if err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		h.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
		return fmt.Errorf("starting %s: %w", name, err)
	}
	return nil
}

// waitHealthy runs the health check (`launcher health`: nginx, php-fpm and
// the app's route) until it passes or the deadline.
func (h *host) waitHealthy(ctx context.Context, name string) error {
	hc := h.env.Health
	began := time.Now()
	deadline := began.Add(hc.Deadline)
	var checks []string
	if hc.StartPeriod > 0 {
		sleep(ctx, hc.StartPeriod)
		began = time.Now()
	}
	quickEnd := began.Add(fastPollFor)
	if deadline.Before(quickEnd) {
		quickEnd = deadline
	}
	if h.probe(ctx, name, quickEnd) {
		return nil
	}
	for {
		env := []string{fmt.Sprintf("PHPBUILD_HEALTH_TIMEOUT=%s", hc.Timeout)}
		quick := max(fastPollFor-time.Since(began), 0).Round(time.Millisecond)
		if quick > 0 {
			// The launcher tries every 50 ms within one exec; one that
			// ignores this tries once, and this loop polls.
			env = append(env, "PHPBUILD_HEALTH_WAIT="+quick.String())
		}
		line, ok := h.check(ctx, name, env, quick, "/usr/local/bin/launcher", "health")
		if ok {
			return nil
		}
		checks = append(checks, time.Now().UTC().Format("15:04:05")+" "+line)
		if len(checks) > 5 {
			checks = checks[len(checks)-5:]
		}
		ins, err := h.cli.ContainerInspect(ctx, name)
		if client.IsErrConnectionFailed(err) {
			return transient(fmt.Errorf("waiting for %s to be healthy, the docker daemon stopped answering: %w", name, err))
		}
		if err == nil && ins.State != nil && !ins.State.Running {
			checks = append(checks, fmt.Sprintf("the container exited with code %d", ins.State.ExitCode))
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		// A container is usually healthy within a second or two of its
		// start: poll quickly then, so the switch is not a whole interval
		// late, and every interval after.
		next := hc.Interval
		if time.Since(began) < fastPollFor {
			next = min(next, fastPoll)
		}
		sleep(ctx, next) // a canceled ctx ends the loop above
	}
}

// probe makes the request `launcher health` makes (the health route
// through the container's nginx and php-fpm, the expected status, no
// redirect followed) from this process, every probePoll until until, on
// a daemon whose containers this process can reach: without the cost of
// an exec per try, a quarter of a second on a busy host. It reports a
// pass; on anything else (a remote daemon, an address that does not
// answer, a container that exited, no pass in time) the exec'ed check
// decides, and says why.
func (h *host) probe(ctx context.Context, name string, until time.Time) bool {
	if !h.direct {
		return false
	}
	ins, err := h.cli.ContainerInspect(ctx, name)
	if err != nil || ins.NetworkSettings == nil || ins.Config == nil {
		return false
	}
	ep := ins.NetworkSettings.Networks[h.network()]
	if ep == nil || ep.IPAddress == "" {
		return false
	}
	path, port := h.env.Health.Path, "8080"
	for _, kv := range ins.Config.Env {
		if v, ok := strings.CutPrefix(kv, "PHPBUILD_HEALTH_PATH="); ok && path == "" {
			path = v
		}
		if v, ok := strings.CutPrefix(kv, "PORT="); ok {
			port = v
		}
	}
	if path == "" {
		path = "/health"
	}
	url := "http://" + net.JoinHostPort(ep.IPAddress, port) + path
	dialer := &net.Dialer{Timeout: 300 * time.Millisecond}
	c := &http.Client{
		Transport:     &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       h.env.Health.Timeout,
	}
	for try := 1; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false
		}
		req.Header.Set("User-Agent", "phpbuild-health")
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == h.env.Health.Status {
				return true
			}
		} else if unreachable(err) {
			return false
		}
		if time.Now().Add(probePoll).After(until) || ctx.Err() != nil {
			return false
		}
		if try%10 == 0 {
			// A container that exited answers nothing: the check says so.
			if ins, err := h.cli.ContainerInspect(ctx, name); err != nil || ins.State == nil || !ins.State.Running {
				return false
			}
		}
		sleep(ctx, probePoll)
	}
}

// unreachable is a dial that found no route to the address, or none in
// time: a daemon in a VM (Docker Desktop), whose containers' addresses
// are not this host's to reach. A refused connection is a container not
// listening yet.
func unreachable(err error) bool {
	var ne net.Error
	var op *net.OpError
	return errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.As(err, &op) && op.Op == "dial" && errors.As(err, &ne) && ne.Timeout()
}

// probePoll is how often probe tries.
const probePoll = 50 * time.Millisecond

// The health check's quick polling at a container's start.
const (
	fastPoll    = 100 * time.Millisecond
	fastPollFor = 5 * time.Second
)

// check runs a health command in a container, within the health timeout
// and the wait it is given; ok is its success, line its output (or why it
// could not run) on one line.
func (h *host) check(ctx context.Context, name string, env []string, wait time.Duration, cmd ...string) (line string, ok bool) {
	cctx, cancel := context.WithTimeout(ctx, wait+h.env.Health.Timeout+5*time.Second)
	defer cancel()
	out, code, err := h.execAs(cctx, name, "", env, cmd...)
	if err == nil && code == 0 {
		return "", true
	}
	line = strings.TrimSpace(out)
	if err != nil {
		line = err.Error()
	} else if line == "" {
		line = fmt.Sprintf("(exit %d)", code)
	}
	return strings.ReplaceAll(line, "\n", " | "), false
}

// drain stops every other app container of the environment gracefully:
// SIGQUIT, so nginx and php-fpm finish what is in flight, within the drain
// timeout; the proxy has already stopped sending them requests.
func (h *host) drain(ctx context.Context, keep string) {
	// nginx's old workers finish their requests after a reload: the old
	// container listens until they have.
	h.waitOldWorkers(ctx, 500*time.Millisecond)
	if ctx.Err() != nil {
		return
	}
	cs, err := h.roleContainers(ctx, "app")
	if err != nil {
		return
	}
	secs := int(h.env.Drain.Seconds())
	for _, c := range cs {
		if slices.Contains(c.Names, "/"+keep) {
			continue
		}
		h.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs})
		// With the image's anonymous volume (the run dir, when the
		// container ran writable).
		h.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{RemoveVolumes: true})
	}
}

// removeStale removes app containers that nothing serves from: left by a
// release that was killed or failed.
func (h *host) removeStale(ctx context.Context, serving string) {
	cs, err := h.roleContainers(ctx, "app")
	if err != nil {
		return
	}
	for _, c := range cs {
		if serving != "" && slices.Contains(c.Names, "/"+serving) {
			continue
		}
		if c.State == "running" && serving == "" {
			continue // no proxy config yet: do not guess
		}
		h.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}

// snapshotMount puts the env snapshot, read-only, where dotenv apps look
// and where the launcher loads it.
func snapshotMount(snapPath string) mount.Mount {
	return mount.Mount{Type: mount.TypeBind, Source: snapPath, Target: "/app/.env", ReadOnly: true}
}

// volumes are the environment's named volumes, by target: the dirs that
// keep their data across releases and rollbacks.
func (h *host) volumes() []mount.Mount { return volumeMounts(h.env) }

func volumeMounts(env *Environment) []mount.Mount {
	var mounts []mount.Mount
	for vol, target := range env.Volumes {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: target})
	}
	slices.SortFunc(mounts, func(a, b mount.Mount) int { return strings.Compare(a.Target, b.Target) })
	return mounts
}
