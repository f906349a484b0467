package release

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/processes"
	tr "github.com/phpbuild/phpbuild/transient"
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
	Result   string `json:"result"` // "ok", "health-failed", "hook-failed", "failed", "rolled-back"
	Error    string `json:"error,omitempty"`
	// Steps times each phase: pull, start, health, switch, drain, hooks.
	Steps   map[string]string `json:"steps,omitempty"`
	Message string            `json:"message,omitempty"`
	// Processes is what the release did with each process type and the
	// scheduler.
	Processes []ProcessRecord `json:"processes,omitempty"`
	// Watch is what the watch saw after the switch, when the environment
	// has one.
	Watch *WatchResult `json:"watch,omitempty"`
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
	// User is who acts, for the log and the lock: the deploy page's user;
	// this process's user@host when empty.
	User string
}

func (o *Options) user() string {
	if o.User != "" {
		return o.User
	}
	return currentUser()
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
	snap, ref, err := releaseInputs(env, o)
	if err != nil {
		return nil, err
	}
	h, err := connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	rec, err := run(ctx, h, o, "release", ref, snap.Data, snap.Digest)
	var we *WatchError
	if errors.As(err, &we) && we.Previous != "" {
		o.logf("%s; rolling back to %s", we.Result, we.Previous)
		o.Message = "automatic rollback of " + rec.ID + ": " + we.Result.String()
		back, berr := h.rollback(ctx, we.Previous, o)
		if berr != nil {
			return rec, fmt.Errorf("%w; the automatic rollback failed: %v", err, berr)
		}
		we.RolledBack = back.ID
	}
	return rec, err
}

// Rollback puts the release with id (the one before the current when id is
// "") back: its image and its env snapshot, both still on the host.
func Rollback(ctx context.Context, env *Environment, id string, o Options) (*Record, error) {
	h, err := connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.rollback(ctx, id, o)
}

func (h *host) rollback(ctx context.Context, id string, o Options) (*Record, error) {
	hist, err := h.history(ctx)
	if err != nil {
		return nil, err
	}
	to, err := pickRollback(hist, id)
	if err != nil {
		return nil, err
	}
	o.Version, o.SHA = to.Version, to.SHA
	return run(ctx, h, o, "rollback", to.Digest, nil, to.Env)
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
	ref, err := env.ImageRef(o.Image)
	if err != nil {
		return nil, "", err
	}
	return snap, ref, nil
}

// ImageRef is img (a tag or digest in env's repo, or a full reference) as
// the full reference a release pulls.
func (env *Environment) ImageRef(img string) (string, error) {
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

// run is a release or rollback through env's target: snap is nil for a
// rollback, whose snapshot is on the host already.
func run(ctx context.Context, h *host, o Options, kind, ref string, snap []byte, envDigest string) (*Record, error) {
	start := time.Now()
	tg := newTarget(h)
	if err := tg.check(ctx); err != nil {
		return nil, err
	}
	a, err := h.begin(ctx, o, kind, ref, envDigest, start, tg.ensureNetwork)
	if err != nil {
		return nil, err
	}
	defer a.unlock()
	finish := func(result string, cause error) (*Record, error) { return a.finish(ctx, result, cause) }
	tg.recover(ctx)
	// What a release the watch finds failing goes back to.
	var prev *Record
	watching := kind == "release" && h.env.Watch != nil
	if watching {
		if prev, err = h.current(ctx); err != nil {
			return finish("failed", err)
		}
	}

	// The state dir keeps every snapshot: hooks mount it, `release --plan`
	// diffs against it, a rollback restores it.
	snapRel := snapshotFile(envDigest)
	if snap != nil {
		if err := h.state.write(ctx, snapRel, snap, 0o600, 1000); err != nil {
			return nil, err
		}
	} else if b, err := h.state.read(ctx, snapRel); err == nil {
		snap = b
	} else if tg.needsSnapshot() {
		return finish("failed", fmt.Errorf("the env snapshot %s of that release is gone from the host: %w", envDigest, err))
	} else if !errors.Is(err, errNoState) {
		return finish("failed", err)
	}
	snapPath := h.state.hostPath(snapRel)

	if err := a.runHooks(ctx, hooksBefore(h.env, kind, a.procs), snapPath, snap != nil); err != nil {
		return finish("hook-failed", err)
	}
	if err := tg.startProcesses(ctx, a, snap, snapPath); err != nil {
		return finish(failedCheck(err), err)
	}
	s, err := tg.start(ctx, a, snap, snapPath)
	if err != nil {
		tg.abandon(ctx, a)
		return finish(failedCheck(err), err)
	}
	if err := tg.route(ctx, a, s); err != nil {
		tg.abandon(ctx, a)
		return finish("failed", err)
	}
	a.step("switch", s.ready)
	// From the start of the command to the moment every new request goes
	// to the new release: what a user waits for, the drain aside.
	a.step("serving", a.start)
	a.o.logf("new version serving after %s", a.rec.Steps["serving"])
	switched := time.Now()
	if watching {
		if err := h.startWatch(ctx); err != nil {
			return finish("ok", fmt.Errorf("released, but %w", err))
		}
	}
	if err := h.state.write(ctx, "current", []byte(a.rec.ID+"\n"), 0o644, 0); err != nil {
		return finish("failed", err)
	}

	t0 := time.Now()
	tg.drain(ctx, a, s)
	a.step("drain", t0)
	if err := tg.replaceProcesses(ctx, a, snap, snapPath); err != nil {
		return finish("ok", fmt.Errorf("released, but %w", err))
	}
	if err := a.runHooks(ctx, []hookCmd{{"post_release", h.env.Hooks.PostRelease}}, snapPath, snap != nil); err != nil {
		return finish("ok", fmt.Errorf("released, but the post_release hook failed: %w", err))
	}
	if watching {
		a.o.logf("watching the error rate for %s (at most %.1f%% over %d requests)", h.env.Watch.Duration, 100*h.env.Watch.MaxErrorRate, h.env.Watch.MinRequests)
		res, err := h.watch(ctx, h.env.Watch, switched)
		if err != nil {
			return finish("ok", fmt.Errorf("released, but %w", err))
		}
		a.rec.Watch = &res
		a.o.logf("watch: %s", res)
		if res.Exceeded {
			we := &WatchError{Result: res, Limit: h.env.Watch.MaxErrorRate}
			if prev == nil {
				return finish("ok", we)
			}
			we.Previous = prev.ID
			return finish("rolled-back", we)
		}
	}
	res, err := finish("ok", nil)
	if err == nil {
		h.retain(ctx)
		tg.retain(ctx)
		h.removeKept(ctx, a.rec.ID)
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

// attempt is one release or rollback under way: its record, and the lock
// it holds.
type attempt struct {
	h      *host
	o      Options
	rec    *Record
	start  time.Time
	unlock func()
	// procs is the image's process table: what runs besides web.
	procs *processes.Table
	// undo puts back what the release changed before a later step failed
	// (a swarm's process services).
	undo []func(context.Context)
	// proxyStarted is when the front proxy container last started, as
	// the release began: a later start means the daemon restarted.
	proxyStarted string
}

// begin pulls ref, makes sure the environment's network (ensureNetwork) and
// front proxy exist, and takes the lock. Errors before the lock are not
// logged: nothing has happened yet.
func (h *host) begin(ctx context.Context, o Options, kind, ref, envDigest string, start time.Time, ensureNetwork func(context.Context) error) (*attempt, error) {
	a := &attempt{h: h, o: o, start: start, rec: &Record{ID: newID(start), Kind: kind, Image: ref, Env: envDigest, User: o.user(),
		Started: start.UTC().Format(time.RFC3339), Message: o.Message, Version: o.Version, SHA: o.SHA, Steps: map[string]string{}}}
	t0 := time.Now()
	ins, pulled, err := h.ensureImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	if pulled > 0 {
		o.logf("pulled %s in %s", ref, pulled.Round(time.Millisecond))
	}
	a.step("pull", t0)
	// By digest, so that neither a moved tag nor a registry changes what
	// runs or what a rollback restores.
	a.rec.Digest = repoDigest(ref, ins.RepoDigests)
	labels := imageLabels(ins)
	if a.procs, err = processTable(labels, ref); err != nil {
		return nil, err
	}
	if h.fs, err = layoutOf(h.env, labels, ref, a.rec.ID); err != nil {
		return nil, err
	}
	if h.fs.note != "" {
		o.logf("%s", h.fs.note)
	}
	if err := ensureNetwork(ctx); err != nil {
		return nil, err
	}
	if err := h.ensureProxy(ctx, a.rec.Digest); err != nil {
		return nil, err
	}
	if a.unlock, err = h.lock(ctx, o); err != nil {
		return nil, err
	}
	a.proxyStarted = h.proxyStartedAt(ctx)
	return a, nil
}

// proxyStartedAt is when the front proxy container last started; "" when
// the daemon cannot say.
func (h *host) proxyStartedAt(ctx context.Context) string {
	c, err := h.cli.ContainerInspect(ctx, h.proxyName())
	if err != nil || c.State == nil {
		return ""
	}
	return c.State.StartedAt
}

// daemonTrouble says why a step failed when the docker daemon stopped
// answering or restarted (its restart restarts the proxy) during the
// release, "" when neither: a release that failed so may pass when tried
// again, and what served before serves again once the daemon is back
// (restart policies).
func (a *attempt) daemonTrouble(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if a.proxyStarted == "" {
		if _, err := a.h.cli.Ping(ctx); err != nil {
			return "the docker daemon stopped answering during the release: " + firstLine(err.Error())
		}
		return ""
	}
	// One call on the switch's path: a daemon that answers it is up.
	c, err := a.h.cli.ContainerInspect(ctx, a.h.proxyName())
	switch {
	case err != nil && !cerrdefs.IsNotFound(err):
		return "the docker daemon stopped answering during the release: " + firstLine(err.Error())
	case err != nil || c.State == nil || !c.State.Running:
		return "the front proxy stopped during the release: is the docker daemon restarting?"
	case c.State.StartedAt != a.proxyStarted:
		return "the docker daemon restarted during the release"
	}
	return ""
}

// step records how long the step that began at t0 took.
func (a *attempt) step(name string, t0 time.Time) {
	a.rec.Steps[name] = time.Since(t0).Round(time.Millisecond).String()
}

// finish records the result in the release log and returns it with cause.
func (a *attempt) finish(ctx context.Context, result string, cause error) (*Record, error) {
	a.rec.Result = result
	a.rec.Duration = time.Since(a.start).Round(time.Millisecond).String()
	if cause != nil && result != "ok" && !tr.Is(cause) {
		if why := a.daemonTrouble(ctx); why != "" {
			cause = tr.Mark(fmt.Errorf("%w (%s)", cause, why))
		}
	}
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
	return t.UTC().Format("20060102-150405") + "-" + randomHex(2)
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

// imageLabels are the labels of an inspected image.
func imageLabels(ins image.InspectResponse) map[string]string {
	if ins.Config == nil {
		return nil
	}
	return ins.Config.Labels
}
