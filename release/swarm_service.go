package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
)

// The service of a swarm release: its spec, the update Swarm rolls out and
// how phpbuild follows it to the end (converged, failed, rolled back).

// serviceSpec is the service running rec: its image by digest, its
// snapshot as a secret at /app/.env, and a rolling update that starts the
// new task first and rolls back when it fails its health check.
func (h *host) serviceSpec(rec *Record, secret *swarm.SecretReference, replicas uint64) swarm.ServiceSpec {
	hc := h.env.Health
	env := []string{"PHPBUILD_ENV_FILE=" + envTarget, fmt.Sprintf("PHPBUILD_HEALTH_STATUS=%d", hc.Status), "PHPBUILD_HEALTH_TIMEOUT=" + hc.Timeout.String()}
	if hc.Path != "" {
		env = append(env, "PHPBUILD_HEALTH_PATH="+hc.Path)
	}
	mounts := h.serviceMounts(rec.ID)
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
				ReadOnly:        h.fs.readOnly,
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
	return h.deployService(ctx, h.service(), func(s *swarm.Service) swarm.ServiceSpec {
		// Keep a scale set by hand (docker service scale).
		replicas := uint64(swarmReplicas)
		if s != nil {
			if r := s.Spec.Mode.Replicated; r != nil && r.Replicas != nil && *r.Replicas > 0 {
				replicas = *r.Replicas
			}
		}
		return h.serviceSpec(rec, secret, replicas)
	})
}

// deployService creates the service name with spec(nil), or updates it to
// spec(itself) when it exists and is this environment's.
func (h *host) deployService(ctx context.Context, name string, spec func(*swarm.Service) swarm.ServiceSpec) (deployment, error) {
	for attempt := 0; ; attempt++ {
		s, _, err := h.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			resp, err := h.cli.ServiceCreate(ctx, spec(nil), swarm.ServiceCreateOptions{})
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
		_, err = h.cli.ServiceUpdate(ctx, s.ID, s.Version, spec(&s), swarm.ServiceUpdateOptions{})
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
