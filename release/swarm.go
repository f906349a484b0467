package release

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
)

// The swarm target runs the app as the service APP-ENV, replaced by
// Swarm's own rolling update (start-first, failure action rollback) and
// gated by the same `launcher health` check.
//
// How traffic reaches it: the service publishes nothing. The docker
// target's front proxy (a plain container running nginx, which owns the
// published port, the state dir and the lock) is attached to the
// environment's attachable overlay network and sends every request to
// tasks.APP-ENV, the service being in dnsrr endpoint mode. The service
// cannot publish the port itself: the routing mesh needs IPVS, which some
// kernels lack (this test bed's does), and with host-mode publishing on
// one node a start-first update cannot start the new task while the old
// one holds the port. Zero downtime holds because Swarm adds a task to
// tasks.APP-ENV only once its health check passes, and removes it two
// seconds (Swarm's gossip delay) before stopping it, while the proxy's
// nginx re-resolves the name every second: no proxy reload per release.

// labelSnapshot is the env digest a secret holds, to check that a secret
// found by name is the snapshot wanted.
const labelSnapshot = "dev.phpbuild.snapshot"

const (
	swarmReplicas = 1
	healthRetries = 3
	// convergeMargin is what an update may take besides the health
	// deadline: scheduling, creating the task, the monitor period.
	convergeMargin = 30 * time.Second
	// gossipDelay is how long Swarm keeps a task out of DNS before it
	// stops it.
	gossipDelay = 2 * time.Second
	envTarget   = "/app/.env"
)

// ErrNotSwarmManager is a docker host that cannot take a service: not in
// a swarm, or only a worker. phpbuild never creates a swarm itself.
var ErrNotSwarmManager = errors.New("the docker host is not a manager of an active swarm")

// Swarm's naming rules (swarmkit's controlapi): services are DNS labels,
// secrets a little looser; both at most 63 or 64 characters.
var (
	serviceName = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)
	secretName  = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)
)

func (h *host) service() string { return h.prefix() }

// secret names the Swarm secret holding the snapshot envDigest. Secrets
// cannot change, so each snapshot has its own.
func (h *host) secret(envDigest string) string {
	hex := strings.TrimPrefix(envDigest, "sha256:")
	return h.prefix() + "-env-" + hex[:min(12, len(hex))]
}

func checkSwarmNames(env *Environment) error {
	svc := env.App + "-" + env.Name
	if len(svc) > 63 || !serviceName.MatchString(svc) {
		return env.desc.FieldError("environments."+env.Name+".app", "%q (with the environment: service %q) cannot name a swarm service: letters, digits, '-' and '_', at most 63 characters", env.App, svc)
	}
	if sec := svc + "-env-0123456789ab"; len(sec) > 64 || !secretName.MatchString(sec) {
		return env.desc.FieldError("environments."+env.Name+".app", "%q is too long for the names of swarm secrets (%s): at most 47 characters with the environment's name", env.App, sec)
	}
	return nil
}

// swarmTarget runs each release as an update of the service APP-ENV.
type swarmTarget struct{ h *host }

// check refuses names Swarm would refuse, before touching the host, and a
// daemon that is not a manager.
func (t *swarmTarget) check(ctx context.Context) error {
	if err := checkSwarmNames(t.h.env); err != nil {
		return err
	}
	return t.h.checkManager(ctx)
}

func (t *swarmTarget) ensureNetwork(ctx context.Context) error { return t.h.ensureOverlay(ctx) }

// recover has nothing to do: Swarm replaces the tasks of an update that
// stopped halfway, and a smoke canary left behind goes with the next.
func (t *swarmTarget) recover(context.Context) {}

// needsSnapshot is false: a rollback whose state dir copy is gone can
// still use the snapshot's secret.
func (t *swarmTarget) needsSnapshot() bool { return false }

// start smoke-checks a canary of the release, then creates or updates the
// service and waits until Swarm has converged on it.
func (t *swarmTarget) start(ctx context.Context, a *attempt, snap []byte, snapPath string) (*started, error) {
	h, rec := t.h, a.rec
	if len(h.env.Health.Smoke) > 0 {
		if snap == nil {
			return nil, fmt.Errorf("the env snapshot %s of that release is gone from the host's state dir, and the smoke checks need it", rec.Env)
		}
		t0 := time.Now()
		if err := h.smokeCanary(ctx, rec, snapPath, &a.o); err != nil {
			return nil, err
		}
		a.step("smoke", t0)
	}
	secret, err := h.ensureSecret(ctx, rec.Env, snap)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	d, err := h.deploy(ctx, rec, secret)
	if err != nil {
		return nil, err
	}
	if d.created {
		a.o.logf("created service %s with %s", h.service(), rec.Digest)
	} else {
		a.o.logf("updating service %s to %s (start-first)", h.service(), rec.Digest)
	}
	healthyAt, err := h.converge(ctx, d, rec, t0, &a.o)
	if err != nil {
		if d.created {
			// Nothing served before: do not leave a failing service
			// restarting.
			h.cli.ServiceRemove(context.WithoutCancel(ctx), d.id)
		}
		return nil, err
	}
	return &started{id: d.id, ready: healthyAt}, nil
}

// route points the front proxy at tasks.SERVICE, once: the config then
// stays the same from release to release, Swarm's DNS doing the switch.
func (t *swarmTarget) route(ctx context.Context, a *attempt, _ *started) error {
	h := t.h
	if h.upstream(ctx) != h.service() {
		if err := h.reloadProxy(ctx, swarmProxyConf(h.service())); err != nil {
			return err
		}
	}
	a.o.logf("tasks.%s serves %s", h.service(), a.rec.ID)
	return nil
}

func (t *swarmTarget) drain(ctx context.Context, a *attempt, s *started) {
	t.h.waitDrained(ctx, s.id, a.rec.ID)
}

func (t *swarmTarget) retain(ctx context.Context) { t.h.retainSecrets(ctx) }

func (t *swarmTarget) health(ctx context.Context, _ string) string { return t.h.serviceHealth(ctx) }

// checkManager refuses a daemon that is not a swarm manager; phpbuild
// never runs `docker swarm init` for you.
func (h *host) checkManager(ctx context.Context) error {
	info, err := h.cli.Info(ctx)
	if err != nil {
		return transient(fmt.Errorf("asking docker for its swarm state: %w", err))
	}
	sw := info.Swarm
	if sw.LocalNodeState == swarm.LocalNodeStateActive && sw.ControlAvailable {
		return nil
	}
	state := "swarm: " + string(sw.LocalNodeState)
	if sw.LocalNodeState == swarm.LocalNodeStateActive {
		state = "a worker node"
	}
	return fmt.Errorf("%w (%s): run `docker swarm init` on it, point environments.%s.host at a manager, or use target = \"docker\"", ErrNotSwarmManager, state, h.env.Name)
}

// ensureOverlay creates the environment's network as an attachable
// overlay: the service's tasks and the proxy container meet on it.
func (h *host) ensureOverlay(ctx context.Context) error {
	n, err := h.cli.NetworkInspect(ctx, h.network(), network.InspectOptions{})
	if err == nil {
		if n.Driver != "overlay" || !n.Attachable {
			return fmt.Errorf("network %s is a %s network, not an attachable overlay: the environment ran with target = \"docker\"; remove its containers and that network first", h.network(), n.Driver)
		}
		return nil
	}
	_, err = h.cli.NetworkCreate(ctx, h.network(), network.CreateOptions{Driver: "overlay", Attachable: true, Labels: h.labels("network", "")})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("creating network %s: %w", h.network(), err)
	}
	return nil
}

// ensureSecret makes the secret holding the snapshot envDigest; data is
// nil when only an existing secret will do (a rollback whose state dir
// copy is gone).
func (h *host) ensureSecret(ctx context.Context, envDigest string, data []byte) (*swarm.SecretReference, error) {
	name := h.secret(envDigest)
	ref := func(id string) *swarm.SecretReference {
		return &swarm.SecretReference{SecretID: id, SecretName: name,
			File: &swarm.SecretReferenceFileTarget{Name: envTarget, UID: "1000", GID: "1000", Mode: 0o400}}
	}
	find := func() (*swarm.Secret, error) {
		list, err := h.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
		if err != nil {
			return nil, fmt.Errorf("listing secrets: %w", err)
		}
		for i := range list {
			if list[i].Spec.Name == name {
				return &list[i], nil
			}
		}
		return nil, nil
	}
	s, err := find()
	if err != nil {
		return nil, err
	}
	if s == nil && data != nil {
		labels := h.labels("env", "")
		labels[labelSnapshot] = envDigest
		resp, err := h.cli.SecretCreate(ctx, swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}, Data: data})
		if err == nil {
			return ref(resp.ID), nil
		}
		if s, _ = find(); s == nil { // not made meanwhile by another release
			return nil, fmt.Errorf("creating secret %s: %w", name, err)
		}
	}
	if s == nil {
		return nil, fmt.Errorf("the env snapshot %s of that release is gone from the host (no secret %s, no copy in the state dir)", envDigest, name)
	}
	if d := s.Spec.Labels[labelSnapshot]; d != envDigest {
		return nil, fmt.Errorf("secret %s holds env snapshot %q, not %s; remove it (`docker secret rm %s`) and release again", name, d, envDigest, name)
	}
	return ref(s.ID), nil
}

// serviceSpec is the service running rec: its image by digest, its
// snapshot as a secret at /app/.env, and a rolling update that starts the
// new task first and rolls back when it fails its health check.
func (h *host) serviceSpec(rec *Record, secret *swarm.SecretReference, replicas uint64) swarm.ServiceSpec {
	hc := h.env.Health
	env := []string{"PHPBUILD_ENV_FILE=" + envTarget, fmt.Sprintf("PHPBUILD_HEALTH_STATUS=%d", hc.Status), "PHPBUILD_HEALTH_TIMEOUT=" + hc.Timeout.String()}
	if hc.Path != "" {
		env = append(env, "PHPBUILD_HEALTH_PATH="+hc.Path)
	}
	var mounts []mount.Mount
	for vol, target := range h.env.Volumes {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: target})
	}
	slices.SortFunc(mounts, func(a, b mount.Mount) int { return strings.Compare(a.Target, b.Target) })
	grace := h.env.Drain
	// Failures during the start period do not count and the first pass
	// ends it: the task has the deadline to become healthy, as a docker
	// target's container has.
	start := max(hc.StartPeriod, hc.Deadline)
	// Watch a new task for a few health intervals before the update counts
	// as done: long enough for Retries failed checks.
	monitor := healthRetries * hc.Interval
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: h.service(), Labels: h.labels("service", rec.ID)},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           rec.Digest,
				Labels:          h.labels("app", rec.ID), // a new release is always new tasks
				Env:             env,
				Mounts:          mounts,
				StopSignal:      "SIGQUIT",
				StopGracePeriod: &grace,
				Healthcheck: &container.HealthConfig{
					Test:     []string{"CMD", "/usr/local/bin/launcher", "health"},
					Interval: hc.Interval, Timeout: hc.Timeout, StartPeriod: start, Retries: healthRetries,
				},
				Secrets: []*swarm.SecretReference{secret},
			},
			Networks: []swarm.NetworkAttachmentConfig{{Target: h.network()}},
		},
		Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst,
			FailureAction: swarm.UpdateFailureActionRollback, Monitor: monitor},
		RollbackConfig: &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst,
			FailureAction: swarm.UpdateFailureActionPause, Monitor: monitor},
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
}

// deployment is a service create or update that Swarm carries out.
type deployment struct {
	id      string
	created bool
	// stale is the update status before this update: until Swarm replaces
	// it, it tells nothing about this one.
	stale *swarm.UpdateStatus
}

// deploy creates the service or updates it to rec.
func (h *host) deploy(ctx context.Context, rec *Record, secret *swarm.SecretReference) (deployment, error) {
	name := h.service()
	for attempt := 0; ; attempt++ {
		s, _, err := h.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			resp, err := h.cli.ServiceCreate(ctx, h.serviceSpec(rec, secret, swarmReplicas), swarm.ServiceCreateOptions{})
			if err != nil {
				return deployment{}, fmt.Errorf("creating service %s: %w", name, err)
			}
			return deployment{id: resp.ID, created: true}, nil
		}
		if err != nil {
			return deployment{}, transient(fmt.Errorf("inspecting service %s: %w", name, err))
		}
		if s.Spec.Labels[labelApp] != h.env.App || s.Spec.Labels[labelEnv] != h.env.Name {
			return deployment{}, fmt.Errorf("service %s exists but is not this environment's (labels %s=%q, %s=%q)", name, labelApp, s.Spec.Labels[labelApp], labelEnv, s.Spec.Labels[labelEnv])
		}
		// Keep a scale set by hand (docker service scale).
		replicas := uint64(swarmReplicas)
		if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas > 0 {
			replicas = *r.Replicas
		}
		_, err = h.cli.ServiceUpdate(ctx, s.ID, s.Version, h.serviceSpec(rec, secret, replicas), swarm.ServiceUpdateOptions{})
		if err == nil {
			return deployment{id: s.ID, stale: s.UpdateStatus}, nil
		}
		// Swarm bumps the version as the previous update progresses.
		if attempt < 5 && strings.Contains(err.Error(), "out of sequence") {
			continue
		}
		return deployment{}, fmt.Errorf("updating service %s: %w", name, err)
	}
}

// converge waits until rec's tasks run (healthy: Swarm reports a task
// running only once its health check passed) and the update is
// complete. A failed update is a *HealthError once Swarm has rolled the
// service back. It returns when the first new task became healthy and
// times the start and health steps.
func (h *host) converge(ctx context.Context, d deployment, rec *Record, t0 time.Time, o *Options) (time.Time, error) {
	svcID, created := d.id, d.created
	hc := h.env.Health
	deadline := t0.Add(max(hc.Deadline, hc.StartPeriod) + 2*healthRetries*hc.Interval + convergeMargin)
	var startedAt, healthyAt, rollbackAt time.Time
	for {
		s, _, err := h.cli.ServiceInspectWithRaw(ctx, svcID, swarm.ServiceInspectOptions{})
		if err != nil {
			return healthyAt, transient(fmt.Errorf("inspecting service %s: %w", h.service(), err))
		}
		tasks, err := h.tasks(ctx, svcID)
		if err != nil {
			return healthyAt, err
		}
		running := 0
		var failed, last *swarm.Task
		for i := range tasks {
			t := &tasks[i]
			if taskRelease(t) != rec.ID {
				continue
			}
			if last == nil || t.CreatedAt.After(last.CreatedAt) {
				last = t
			}
			switch {
			case t.Status.State == swarm.TaskStateStarting || t.Status.State == swarm.TaskStateRunning:
				if startedAt.IsZero() {
					startedAt = time.Now()
					rec.Steps["start"] = startedAt.Sub(t0).Round(time.Millisecond).String()
					o.logf("started %s", taskName(s.Spec.Name, t))
				}
				if t.Status.State == swarm.TaskStateRunning && t.DesiredState == swarm.TaskStateRunning {
					running++
				}
			case terminal(t.Status.State):
				if failed == nil || t.UpdatedAt.After(failed.UpdatedAt) {
					failed = t
				}
			}
		}
		if running > 0 && healthyAt.IsZero() {
			healthyAt = time.Now()
			from := startedAt
			if from.IsZero() {
				from = t0
			}
			rec.Steps["health"] = healthyAt.Sub(from).Round(time.Millisecond).String()
			o.logf("healthy after %s", rec.Steps["health"])
		}
		var state swarm.UpdateState
		var msg string
		if us := s.UpdateStatus; us != nil && !sameUpdate(us, d.stale) {
			state, msg = us.State, us.Message
		}
		if failed == nil {
			failed = last
		}
		switch {
		case running >= int(replicas(s)) && (created || state == swarm.UpdateStateCompleted):
			return healthyAt, nil
		case created && failed != nil && terminal(failed.Status.State):
			return healthyAt, h.taskHealthError(ctx, s.Spec.Name, failed, "")
		case state == swarm.UpdateStateRollbackStarted:
			// Swarm puts the previous spec back; hold the lock until it
			// is done, or a little longer than its drain.
			if rollbackAt.IsZero() {
				rollbackAt = time.Now()
				o.logf("the update failed (%s); Swarm rolls the service back", msg)
			}
			if time.Since(rollbackAt) > h.env.Drain+gossipDelay+convergeMargin {
				return healthyAt, h.taskHealthError(ctx, s.Spec.Name, failed, "update: "+msg+" (the rollback is still running)")
			}
		case state == swarm.UpdateStateRollbackCompleted || state == swarm.UpdateStateRollbackPaused:
			return healthyAt, h.taskHealthError(ctx, s.Spec.Name, failed, "update: "+msg)
		case state == swarm.UpdateStatePaused:
			h.rollbackService(ctx, svcID)
			return healthyAt, h.taskHealthError(ctx, s.Spec.Name, failed, "update paused: "+msg+"; asked Swarm to roll back")
		}
		if time.Now().After(deadline) {
			note := fmt.Sprintf("the service did not converge within %s", time.Since(t0).Round(time.Second))
			if !created && !strings.HasPrefix(string(state), "rollback_") {
				h.rollbackService(ctx, svcID)
				note += "; asked Swarm to roll back"
			}
			return healthyAt, h.taskHealthError(ctx, s.Spec.Name, failed, note)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return healthyAt, err
		}
	}
}

// rollbackService asks Swarm to put the previous spec back (as
// `docker service rollback`).
func (h *host) rollbackService(ctx context.Context, svcID string) {
	ctx = context.WithoutCancel(ctx)
	s, _, err := h.cli.ServiceInspectWithRaw(ctx, svcID, swarm.ServiceInspectOptions{})
	if err != nil || s.PreviousSpec == nil {
		return
	}
	h.cli.ServiceUpdate(ctx, s.ID, s.Version, s.Spec, swarm.ServiceUpdateOptions{Rollback: "previous"})
}

// taskHealthError describes a task that never became healthy: its last
// health checks, its state, and its last output.
func (h *host) taskHealthError(ctx context.Context, svc string, t *swarm.Task, note string) *HealthError {
	ctx = context.WithoutCancel(ctx)
	he := &HealthError{Container: svc}
	if t != nil {
		he.Container = taskName(svc, t)
		if cs := t.Status.ContainerStatus; cs != nil && cs.ContainerID != "" {
			if ins, err := h.cli.ContainerInspect(ctx, cs.ContainerID); err == nil && ins.State != nil && ins.State.Health != nil {
				for _, l := range ins.State.Health.Log {
					out := strings.ReplaceAll(strings.TrimSpace(l.Output), "\n", " | ")
					if out == "" {
						out = fmt.Sprintf("(exit %d)", l.ExitCode)
					}
					he.Checks = append(he.Checks, l.Start.UTC().Format("15:04:05")+" "+out)
				}
			}
		}
		line := fmt.Sprintf("task %s: %s", t.ID, t.Status.State)
		if t.Status.Err != "" {
			line += ": " + t.Status.Err
		} else if t.Status.Message != "" {
			line += ": " + t.Status.Message
		}
		he.Checks = append(he.Checks, line)
		he.Logs = h.taskLogs(ctx, t.ID, 30)
	}
	if note != "" {
		he.Checks = append(he.Checks, note)
	}
	return he
}

func (h *host) taskLogs(ctx context.Context, taskID string, n int) string {
	return readLogs(h.cli.TaskLogs(ctx, taskID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)}))
}

// waitDrained waits until the service's other tasks have stopped: Swarm
// takes them out of DNS, waits its gossip delay, then stops them with
// SIGQUIT within the drain timeout.
func (h *host) waitDrained(ctx context.Context, svcID, keep string) {
	deadline := time.Now().Add(h.env.Drain + gossipDelay + 10*time.Second)
	for time.Now().Before(deadline) {
		tasks, err := h.tasks(ctx, svcID)
		if err != nil {
			return
		}
		if !slices.ContainsFunc(tasks, func(t swarm.Task) bool { return taskRelease(&t) != keep && !terminal(t.Status.State) }) {
			return
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return
		}
	}
}

// tasks are the service's tasks, every state.
func (h *host) tasks(ctx context.Context, svcID string) ([]swarm.Task, error) {
	ts, err := h.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", svcID))})
	if err != nil {
		return nil, transient(fmt.Errorf("listing the tasks of %s: %w", h.service(), err))
	}
	return slices.DeleteFunc(ts, func(t swarm.Task) bool { return t.ServiceID != svcID }), nil
}

// serviceHealth is the health of the service's running tasks, as docker
// sees their containers: "healthy" when all are.
func (h *host) serviceHealth(ctx context.Context) string {
	s, _, err := h.cli.ServiceInspectWithRaw(ctx, h.service(), swarm.ServiceInspectOptions{})
	if err != nil {
		return "no service " + h.service()
	}
	tasks, err := h.tasks(ctx, s.ID)
	if err != nil {
		return "unknown"
	}
	var states []string
	for _, t := range tasks {
		if t.DesiredState != swarm.TaskStateRunning {
			continue
		}
		st := string(t.Status.State)
		if cs := t.Status.ContainerStatus; t.Status.State == swarm.TaskStateRunning && cs != nil && cs.ContainerID != "" {
			if ins, err := h.cli.ContainerInspect(ctx, cs.ContainerID); err == nil && ins.State != nil && ins.State.Health != nil {
				st = ins.State.Health.Status
			}
		}
		states = append(states, st)
	}
	if len(states) == 0 {
		return "no running task"
	}
	slices.Sort(states)
	return strings.Join(slices.Compact(states), ", ")
}

// retainSecrets removes the environment's snapshot secrets that none of
// the last keep successful releases uses; Swarm refuses to remove one a
// service still refers to (its spec or previous spec).
func (h *host) retainSecrets(ctx context.Context) {
	hist, err := h.history(ctx)
	if err != nil {
		return
	}
	ok := okReleases(hist)
	keep := map[string]bool{}
	for _, r := range ok[max(0, len(ok)-h.env.Keep):] {
		keep[h.secret(r.Env)] = true
	}
	list, err := h.cli.SecretList(ctx, swarm.SecretListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name))})
	if err != nil {
		return
	}
	for _, s := range list {
		if !keep[s.Spec.Name] {
			h.cli.SecretRemove(ctx, s.ID)
		}
	}
}

func (t *swarmTarget) planSteps(envDigest string) []string {
	env := t.h.env
	svc := env.App + "-" + env.Name
	hex := strings.TrimPrefix(envDigest, "sha256:")
	var steps []string
	if len(env.Health.Smoke) > 0 {
		steps = append(steps, "start a one-off container of the new image with the new env on the network; wait for its health check")
		for _, c := range env.Health.Smoke {
			steps = append(steps, c.describe()+" against it; a failure stops the release before the service changes")
		}
	}
	return append(steps,
		fmt.Sprintf("create the secret %s-env-%s (unless the swarm has it), mounted at %s", svc, hex[:min(12, len(hex))], envTarget),
		fmt.Sprintf("update the service %s: start the new task first, wait for %s → %d (every %s, up to %s); a failure rolls the service back",
			svc, healthPath(env), env.Health.Status, env.Health.Interval, env.Health.Deadline),
		fmt.Sprintf("the proxy on port %d sends to tasks.%s: the new task once healthy, the old one no more", env.Port, svc),
		fmt.Sprintf("Swarm drains and stops the old task (SIGQUIT, up to %s)", env.Drain.Round(time.Second)),
	)
}

func sameUpdate(a, b *swarm.UpdateStatus) bool {
	if b == nil {
		return false
	}
	return a.State == b.State && a.Message == b.Message && timeEqual(a.StartedAt, b.StartedAt) && timeEqual(a.CompletedAt, b.CompletedAt)
}

func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func replicas(s swarm.Service) uint64 {
	if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil {
		return *r.Replicas
	}
	return swarmReplicas
}

func taskRelease(t *swarm.Task) string {
	if t.Spec.ContainerSpec == nil {
		return ""
	}
	return t.Spec.ContainerSpec.Labels[labelRelease]
}

// taskName is what docker names the task's container.
func taskName(svc string, t *swarm.Task) string {
	return fmt.Sprintf("%s.%d.%s", svc, t.Slot, t.ID)
}

func terminal(s swarm.TaskState) bool {
	switch s {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected, swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}
