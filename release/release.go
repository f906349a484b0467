package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"

	"github.com/phpbuild/phpbuild/badinput"
)

// Record is one line of an environment's release log.
type Record struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"` // "release" or "rollback"
	Image    string `json:"image"`
	Digest   string `json:"digest"` // repo@sha256:…, what ran
	Version  string `json:"version,omitempty"`
	SHA      string `json:"sha,omitempty"`
	Env      string `json:"env"` // the snapshot's digest
	User     string `json:"user"`
	Started  string `json:"started"`
	Duration string `json:"duration"`
	Result   string `json:"result"` // "ok", "health-failed", "hook-failed", "failed"
	Error    string `json:"error,omitempty"`
	// Steps times each phase: pull, start, health, switch, drain, hooks.
	Steps   map[string]string `json:"steps,omitempty"`
	Message string            `json:"message,omitempty"`
}

// Options of a release or rollback.
type Options struct {
	// Image is a tag or digest in the environment's repo, or a full ref.
	Image    string
	Message  string
	LockWait time.Duration
	// Getenv reads secrets; os.LookupEnv by default.
	Getenv func(string) (string, bool)
	// Progress receives one line per step; nil is silent.
	Progress func(format string, args ...any)
	// Version and SHA describe the image, for the log.
	Version, SHA string
}

func (o *Options) logf(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(format, args...)
	}
}

// HealthError is a new container that never passed its health check; the
// old one kept serving.
type HealthError struct {
	Container string
	Checks    []string // the last health responses
	Logs      string   // the container's last output
}

func (e *HealthError) Error() string {
	return fmt.Sprintf("the new container never passed its health check; the previous release keeps serving\nlast health checks:\n  %s\nlast output of %s:\n  %s",
		strings.Join(e.Checks, "\n  "), e.Container, strings.ReplaceAll(e.Logs, "\n", "\n  "))
}

// Release puts image (with env's env snapshot) into env: pull, hooks,
// start on the private network, health-gated switch of the front proxy,
// drain and stop of the old container. Nothing is switched unless the new
// container is healthy.
func Release(ctx context.Context, env *Environment, o Options) (*Record, error) {
	if env.Target != "docker" && env.Target != "swarm" {
		return nil, env.desc.FieldError("environments."+env.Name+".target", "%q is not supported: use \"docker\" or \"swarm\"", env.Target)
	}
	snap, ref, err := releaseInputs(env, o)
	if err != nil {
		return nil, err
	}
	if env.Target == "swarm" {
		return runSwarm(ctx, env, o, "release", ref, snap.Data, snap.Digest)
	}
	return run(ctx, env, o, "release", ref, snap.Data, snap.Digest)
}

// Rollback puts the release with id (the one before the current when id is
// "") back: its image and its env snapshot, both still on the host.
func Rollback(ctx context.Context, env *Environment, id string, o Options) (*Record, error) {
	h, err := connect(env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	hist, err := h.history(ctx)
	if err != nil {
		return nil, err
	}
	target, err := pickRollback(hist, id)
	if err != nil {
		return nil, err
	}
	o.Version, o.SHA = target.Version, target.SHA
	if env.Target == "swarm" {
		return runSwarm(ctx, env, o, "rollback", target.Digest, nil, target.Env)
	}
	return run(ctx, env, o, "rollback", target.Digest, nil, target.Env)
}

// releaseInputs reads what a release is made of, before anything on the
// host is touched: the env snapshot (env files and secrets) and the image.
func releaseInputs(env *Environment, o Options) (*Snapshot, string, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = lookupEnv
	}
	snap, err := ReadSnapshot(env, getenv)
	if err != nil {
		return nil, "", err
	}
	ref, err := imageRef(env, o.Image)
	if err != nil {
		return nil, "", err
	}
	return snap, ref, nil
}

func pickRollback(hist []Record, id string) (*Record, error) {
	ok := okReleases(hist)
	if len(ok) == 0 {
		return nil, errors.New("nothing to roll back to: the environment has no release")
	}
	if id == "" {
		if len(ok) < 2 {
			return nil, errors.New("nothing to roll back to: the environment has only one release")
		}
		cur := ok[len(ok)-1]
		// The newest release that is not what runs now.
		for i := len(ok) - 2; i >= 0; i-- {
			if ok[i].Digest != cur.Digest || ok[i].Env != cur.Env {
				return &ok[i], nil
			}
		}
		return nil, errors.New("nothing to roll back to: every kept release is the current one")
	}
	for i := range ok {
		if ok[i].ID == id {
			return &ok[i], nil
		}
	}
	return nil, &badinput.Error{Field: "--to", Err: fmt.Errorf("no successful release %q in this environment (see `phpbuild releases`)", id)}
}

// okReleases are the successful releases and rollbacks, oldest first.
func okReleases(hist []Record) []Record {
	var out []Record
	for _, r := range hist {
		if r.Result == "ok" {
			out = append(out, r)
		}
	}
	return out
}

func imageRef(env *Environment, img string) (string, error) {
	switch {
	case img == "":
		return "", &badinput.Error{Field: "--image", Err: errors.New("no image: pass --image TAG|DIGEST, or release from the app's git checkout (its SHA tag)")}
	case strings.Contains(img, "/"):
		return img, nil
	case strings.HasPrefix(img, "sha256:"):
		return env.Image.String() + "@" + img, nil
	}
	return env.Image.String() + ":" + img, nil
}

// run is a release or rollback: snap is nil for a rollback, whose snapshot
// is on the host already.
func run(ctx context.Context, env *Environment, o Options, kind, ref string, snap []byte, envDigest string) (*Record, error) {
	start := time.Now()
	h, err := connect(env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	a, err := h.begin(ctx, o, kind, ref, envDigest, start, h.ensureNetwork)
	if err != nil {
		return nil, err
	}
	defer a.unlock()
	rec, step, finish := a.rec, a.step, func(result string, cause error) (*Record, error) { return a.finish(ctx, result, cause) }

	// A release killed midway leaves a container nothing serves from.
	serving := h.upstream(ctx)
	h.removeStale(ctx, serving)

	snapRel := "snapshots/" + strings.TrimPrefix(envDigest, "sha256:") + ".env"
	if snap != nil {
		if err := h.writeState(ctx, snapRel, snap, 0o600, 1000); err != nil {
			return nil, err
		}
	} else if _, err := h.readState(ctx, snapRel); err != nil {
		return finish("failed", fmt.Errorf("the env snapshot %s of that release is gone from the host: %w", envDigest, err))
	}
	snapPath := h.stateDir() + "/" + snapRel

	if err := a.runHooks(ctx, o, hooksBefore(env, kind), snapPath, true); err != nil {
		return finish("hook-failed", err)
	}

	t0 := time.Now()
	name := h.appName(rec.ID)
	if err := h.startApp(ctx, rec, name, snapPath, "app"); err != nil {
		return finish("failed", err)
	}
	step("start", t0)
	o.logf("started %s", name)
	t0 = time.Now()
	if err := h.waitHealthy(ctx, name); err != nil {
		h.cli.ContainerRemove(context.WithoutCancel(ctx), name, container.RemoveOptions{Force: true})
		return finish("health-failed", err)
	}
	step("health", t0)
	o.logf("healthy after %s", rec.Steps["health"])
	if len(env.Health.Smoke) > 0 {
		t0 = time.Now()
		if err := h.smokeChecks(ctx, name, &o); err != nil {
			h.cli.ContainerRemove(context.WithoutCancel(ctx), name, container.RemoveOptions{Force: true})
			return finish(failedCheck(err), err)
		}
		step("smoke", t0)
	}

	t0 = time.Now()
	if err := h.switchTo(ctx, name); err != nil {
		h.cli.ContainerRemove(context.WithoutCancel(ctx), name, container.RemoveOptions{Force: true})
		return finish("failed", err)
	}
	step("switch", t0)
	o.logf("switched the proxy to %s", name)
	if err := h.writeState(ctx, "current", []byte(rec.ID+"\n"), 0o644, 0); err != nil {
		return finish("failed", err)
	}

	t0 = time.Now()
	h.drain(ctx, name)
	step("drain", t0)
	if err := a.runHooks(ctx, o, []hookCmd{{"post_release", env.Hooks.PostRelease}}, snapPath, true); err != nil {
		return finish("ok", fmt.Errorf("released, but the post_release hook failed: %w", err))
	}
	res, err := finish("ok", nil)
	if err == nil {
		h.retain(ctx)
	}
	return res, err
}

// failedCheck is the release log's result for an error of a health or
// smoke check: "health-failed", else "failed" (docker trouble).
func failedCheck(err error) string {
	var he *HealthError
	var se *SmokeError
	if errors.As(err, &he) || errors.As(err, &se) {
		return "health-failed"
	}
	return "failed"
}

// hookCmd is one of project.toml's hooks.
type hookCmd struct{ name, cmd string }

// hooksBefore are the hooks run before the new container starts. A
// rollback takes a backup but runs no pre_release: the older image's
// migrations would not undo the newer ones.
func hooksBefore(env *Environment, kind string) []hookCmd {
	hooks := []hookCmd{{"backup", env.Hooks.Backup}}
	if kind != "rollback" {
		hooks = append(hooks, hookCmd{"pre_release", env.Hooks.PreRelease})
	}
	return hooks
}

// runHooks runs, in one-off containers, each hook that has a command,
// timing each as a step. haveSnap false means the env snapshot the hooks
// would run with is gone from the host.
func (a *attempt) runHooks(ctx context.Context, o Options, hooks []hookCmd, snapPath string, haveSnap bool) error {
	for _, hk := range hooks {
		if hk.cmd == "" {
			continue
		}
		if !haveSnap {
			return fmt.Errorf("the env snapshot %s of that release is gone from the host's state dir, and hook %s needs it", a.rec.Env, hk.name)
		}
		t0 := time.Now()
		o.logf("hook %s: %s", hk.name, hk.cmd)
		if err := a.h.hook(ctx, a.rec, hk.name, hk.cmd, snapPath); err != nil {
			return err
		}
		a.step(hk.name, t0)
	}
	return nil
}

// attempt is one release or rollback under way: its record, and the lock
// it holds.
type attempt struct {
	h      *host
	rec    *Record
	start  time.Time
	unlock func()
}

// begin pulls ref, makes sure the environment's network (ensureNet) and
// front proxy exist, and takes the lock. Errors before the lock are not
// logged: nothing has happened yet.
func (h *host) begin(ctx context.Context, o Options, kind, ref, envDigest string, start time.Time, ensureNet func(context.Context) error) (*attempt, error) {
	a := &attempt{h: h, start: start, rec: &Record{ID: newID(start), Kind: kind, Image: ref, Env: envDigest, User: currentUser(),
		Started: start.UTC().Format(time.RFC3339), Message: o.Message, Version: o.Version, SHA: o.SHA, Steps: map[string]string{}}}
	t0 := time.Now()
	pulled, err := h.ensureImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	if pulled > 0 {
		o.logf("pulled %s in %s", ref, pulled.Round(time.Millisecond))
	}
	a.step("pull", t0)
	ins, err := h.cli.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	// By digest, so that neither a moved tag nor a registry changes what
	// runs or what a rollback restores.
	a.rec.Digest = repoDigest(ref, ins.RepoDigests)
	if err := ensureNet(ctx); err != nil {
		return nil, err
	}
	if err := h.ensureProxy(ctx, a.rec.Digest); err != nil {
		return nil, err
	}
	if a.unlock, err = h.lock(ctx, o); err != nil {
		return nil, err
	}
	return a, nil
}

// step records how long the step that began at t0 took.
func (a *attempt) step(name string, t0 time.Time) {
	a.rec.Steps[name] = time.Since(t0).Round(time.Millisecond).String()
}

// finish records the result in the release log and returns it with cause.
func (a *attempt) finish(ctx context.Context, result string, cause error) (*Record, error) {
	a.rec.Result = result
	a.rec.Duration = time.Since(a.start).Round(time.Millisecond).String()
	if cause != nil {
		a.rec.Error = firstLine(cause.Error())
	}
	if err := a.h.appendLog(ctx, a.rec); err != nil && cause == nil {
		cause = err
	}
	return a.rec, cause
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func newID(t time.Time) string {
	b := make([]byte, 2)
	rand.Read(b)
	return t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func currentUser() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

// repoDigest is ref's repo with the digest the host has for it, the
// exact image to roll back to.
func repoDigest(ref string, digests []string) string {
	repo := ref
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	for _, d := range digests {
		if strings.HasPrefix(d, repo+"@") {
			return d
		}
	}
	if len(digests) > 0 {
		return digests[0]
	}
	return ref
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
			Interval: h.env.Health.Interval, Timeout: h.env.Health.Timeout, StartPeriod: h.env.Health.StartPeriod, Retries: 3,
		}}
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: snapPath, Target: "/app/.env", ReadOnly: true}}
	for vol, target := range h.env.Volumes {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: target})
	}
	hc := &container.HostConfig{Mounts: mounts}
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
	deadline := time.Now().Add(hc.Deadline)
	var checks []string
	if hc.StartPeriod > 0 {
		time.Sleep(hc.StartPeriod)
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, hc.Timeout+5*time.Second)
		out, code, err := h.execAs(cctx, name, "", []string{fmt.Sprintf("PHPBUILD_HEALTH_TIMEOUT=%s", hc.Timeout)}, "/usr/local/bin/launcher", "health")
		cancel()
		if err == nil && code == 0 {
			return nil
		}
		line := strings.TrimSpace(out)
		if err != nil {
			line = err.Error()
		}
		checks = append(checks, time.Now().UTC().Format("15:04:05")+" "+strings.ReplaceAll(line, "\n", " | "))
		if len(checks) > 5 {
			checks = checks[len(checks)-5:]
		}
		if ins, err := h.cli.ContainerInspect(ctx, name); err == nil && ins.State != nil && !ins.State.Running {
			checks = append(checks, fmt.Sprintf("the container exited with code %d", ins.State.ExitCode))
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return &HealthError{Container: name, Checks: checks, Logs: h.logs(ctx, name, 30)}
		}
		time.Sleep(hc.Interval)
	}
}

// drain stops every other app container of the environment gracefully:
// SIGQUIT, so nginx and php-fpm finish what is in flight, within the drain
// timeout; the proxy has already stopped sending them requests.
func (h *host) drain(ctx context.Context, keep string) {
	// nginx's old workers finish their requests after a reload; give the
	// proxy a moment before the old container stops listening.
	time.Sleep(500 * time.Millisecond)
	cs, err := h.appContainers(ctx)
	if err != nil {
		return
	}
	secs := int(h.env.Drain.Seconds())
	for _, c := range cs {
		if slices.Contains(c.Names, "/"+keep) {
			continue
		}
		h.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs})
		h.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{})
	}
}

// removeStale removes app containers that nothing serves from: left by a
// release that was killed or failed.
func (h *host) removeStale(ctx context.Context, serving string) {
	cs, err := h.appContainers(ctx)
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

// hook runs cmd in a one-off container of the release's image with its
// env snapshot (the launcher loads it), as the app user; backups go to
// /backup, kept in the state dir with the release.
func (h *host) hook(ctx context.Context, rec *Record, name, cmd, snapPath string) error {
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: snapPath, Target: "/app/.env", ReadOnly: true}}
	if name == "backup" {
		dir := "backups/" + rec.ID
		if _, code, err := h.exec(ctx, h.proxyName(), nil, "sh", "-c", "mkdir -p /state/"+dir+" && chown 1000:1000 /state/"+dir); err != nil || code != 0 {
			return fmt.Errorf("making the backup dir: %v", err)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: h.stateDir() + "/" + dir, Target: "/backup"})
	}
	for vol, target := range h.env.Volumes {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: target})
	}
	cfg := &container.Config{Image: rec.Digest, Labels: h.labels("hook", rec.ID), Env: []string{"PHPBUILD_ENV_FILE=/app/.env"},
		Entrypoint: []string{"/usr/local/bin/launcher", "exec", "/bin/sh", "-c", cmd}}
	hc := &container.HostConfig{Mounts: mounts}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, h.prefix()+"-"+rec.ID+"-"+strings.ReplaceAll(name, "_", "-"))
	if err != nil {
		return fmt.Errorf("hook %s: %w", name, err)
	}
	defer h.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	wait, werr := h.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("hook %s: %w", name, err)
	}
	select {
	case err := <-werr:
		return fmt.Errorf("hook %s: %w", name, err)
	case res := <-wait:
		if res.StatusCode != 0 {
			return fmt.Errorf("hook %s exited with code %d; nothing was switched:\n  %s", name, res.StatusCode, strings.ReplaceAll(h.logs(ctx, created.ID, 20), "\n", "\n  "))
		}
	}
	return nil
}

// Lock is who holds an environment.
type Lock struct {
	Holder  string `json:"holder"` // user@host
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Since   string `json:"since"`
	Message string `json:"message,omitempty"`
}

// LockedError is an environment another release holds.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	return fmt.Sprintf("the environment is locked by %s (pid %d on %s) since %s%s; wait with --lock-wait, or break a dead lock with `phpbuild unlock`",
		e.Lock.Holder, e.Lock.PID, e.Lock.Host, e.Lock.Since, msgSuffix(e.Lock.Message))
}

// Temporary makes a held lock transient (exit 75): the same release may
// go through once the holder is done.
func (e *LockedError) Temporary() bool { return true }

func msgSuffix(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}

// lock takes the environment's lock (created exclusively in the state
// dir). A lock whose holder ran on this machine and is gone is broken.
func (h *host) lock(ctx context.Context, o Options) (func(), error) {
	hostname, _ := os.Hostname()
	me := Lock{Holder: currentUser(), Host: hostname, PID: os.Getpid(), Since: time.Now().UTC().Format(time.RFC3339), Message: o.Message}
	b, _ := json.Marshal(me)
	deadline := time.Now().Add(o.LockWait)
	for {
		if err := h.writeState(ctx, "lock.new", b, 0o644, 0); err != nil {
			return nil, err
		}
		// ln without -f fails when lock exists: an atomic take.
		_, code, err := h.exec(ctx, h.proxyName(), nil, "sh", "-c", "ln /state/lock.new /state/lock && rm -f /state/lock.new")
		if err != nil {
			return nil, err
		}
		if code == 0 {
			return func() { h.exec(context.WithoutCancel(ctx), h.proxyName(), nil, "rm", "-f", "/state/lock") }, nil
		}
		held, err := h.readLock(ctx)
		if err != nil {
			continue // released meanwhile
		}
		if held.Host == hostname && held.PID > 0 && !alive(held.PID) {
			o.logf("breaking the lock of pid %d (%s), which is no longer running", held.PID, held.Holder)
			h.exec(ctx, h.proxyName(), nil, "rm", "-f", "/state/lock")
			continue
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Lock: *held}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (h *host) readLock(ctx context.Context) (*Lock, error) {
	b, err := h.readState(ctx, "lock")
	if err != nil {
		return nil, err
	}
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("reading the lock: %w", err)
	}
	return &l, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// appendLog adds rec to the release log, one JSON object per line.
func (h *host) appendLog(ctx context.Context, rec *Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := "log-" + rec.ID + ".jsonl"
	if err := h.writeState(ctx, tmp, append(b, '\n'), 0o600, 0); err != nil {
		return err
	}
	out, code, err := h.exec(ctx, h.proxyName(), nil, "sh", "-c", "cat /state/"+tmp+" >> /state/releases.jsonl && rm -f /state/"+tmp)
	if err == nil && code != 0 {
		err = fmt.Errorf("appending to the release log: %s", out)
	}
	return err
}

// history is the release log, oldest first.
func (h *host) history(ctx context.Context) ([]Record, error) {
	b, err := h.readState(ctx, "releases.jsonl")
	if errors.Is(err, errNoState) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Record
		if l != "" && json.Unmarshal([]byte(l), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// retain removes the images and snapshots of releases older than the
// last keep successful ones; those stay so a rollback needs no registry.
func (h *host) retain(ctx context.Context) {
	hist, err := h.history(ctx)
	if err != nil {
		return
	}
	ok := okReleases(hist)
	if len(ok) <= h.env.Keep {
		return
	}
	keepImg, keepEnv := map[string]bool{}, map[string]bool{}
	for _, r := range ok[len(ok)-h.env.Keep:] {
		keepImg[r.Digest], keepEnv[r.Env] = true, true
	}
	for _, r := range ok[:len(ok)-h.env.Keep] {
		if !keepImg[r.Digest] {
			h.cli.ImageRemove(ctx, r.Digest, image.RemoveOptions{})
		}
		if !keepEnv[r.Env] {
			h.exec(ctx, h.proxyName(), nil, "rm", "-f", "/state/snapshots/"+strings.TrimPrefix(r.Env, "sha256:")+".env")
		}
	}
}
