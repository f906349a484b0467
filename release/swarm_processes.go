package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"golang.org/x/sync/errgroup"

	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/runtimes"
)

// On Swarm each process type is the service APP-ENV-NAME and the
// scheduler the service APP-ENV-schedule, with web's image and snapshot
// secret. Workers update start-first before web switches, rolled back by
// Swarm when a new task fails and by phpbuild when a later step does; the
// scheduler, one replica, updates stop-first once web has switched, so
// Swarm stops the old task before it starts the new one.

// processService names the service of process type p.
func (h *host) processService(p string) string { return h.prefix() + "-" + p }

// procServiceSpec is the service running s for rec, with replicas tasks;
// order is Swarm's update order.
func (h *host) procServiceSpec(rec *Record, secret *swarm.SecretReference, s procSpec, replicas uint64, startPeriod time.Duration, order string) swarm.ServiceSpec {
	labels := h.labels(s.role, rec.ID)
	labels[labelProcess] = s.process
	grace := s.stopTimeout + stopMargin
	hc := &container.HealthConfig{Test: []string{"NONE"}}
	if s.health != nil {
		hc = &container.HealthConfig{Test: append([]string{"CMD", runtimes.LauncherPath, "exec"}, s.health...),
			Interval: h.env.Health.Interval, Timeout: h.env.Health.Timeout, StartPeriod: max(startPeriod, h.env.Health.Deadline), Retries: healthRetries}
	}
	// A task without a health check runs as soon as it starts: watch it
	// for its start period before the update counts as done.
	monitor := max(healthRetries*h.env.Health.Interval, startPeriod)
	update := &swarm.UpdateConfig{Parallelism: 1, Order: order, FailureAction: swarm.UpdateFailureActionRollback, Monitor: monitor}
	rollback := &swarm.UpdateConfig{Parallelism: 1, Order: order, FailureAction: swarm.UpdateFailureActionPause, Monitor: monitor}
	return swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: s.name, Labels: labels},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           rec.Digest,
				Args:            s.cmd,
				Labels:          labels,
				Env:             []string{"PHPBUILD_ENV_FILE=" + envTarget, "PHPBUILD_STOP_TIMEOUT=" + s.stopTimeout.String()},
				Mounts:          h.serviceMounts(rec.ID),
				ReadOnly:        h.fs.readOnly,
				StopSignal:      s.stopSignal,
				StopGracePeriod: &grace,
				Healthcheck:     hc,
				Secrets:         []*swarm.SecretReference{secret},
			},
			Networks: []swarm.NetworkAttachmentConfig{{Target: h.network()}},
		},
		Mode:           swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig:   update,
		RollbackConfig: rollback,
		// No virtual IP: nothing connects to a worker, and a VIP needs
		// IPVS, which some kernels lack.
		EndpointSpec: &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
}

// deployProc creates or updates the service of s and waits until Swarm
// has converged on it. undo, set even on failure, puts back what was
// there before: the previous spec, or no service.
func (h *host) deployProc(ctx context.Context, a *attempt, secret *swarm.SecretReference, s procSpec, replicas uint64, startPeriod time.Duration, order string) (undo func(context.Context), err error) {
	spec := h.procServiceSpec(a.rec, secret, s, replicas, startPeriod, order)
	d, err := h.deployService(ctx, s.name, func(*swarm.Service) swarm.ServiceSpec { return spec })
	if err != nil {
		return nil, err
	}
	undo = func(ctx context.Context) { h.rollbackService(ctx, d.id) }
	if d.created {
		undo = func(ctx context.Context) { h.cli.ServiceRemove(context.WithoutCancel(ctx), d.id) }
	}
	// converge times web's steps in the record it is given: give it one
	// of its own.
	scratch := &Record{ID: a.rec.ID, Steps: map[string]string{}}
	if _, err := h.converge(ctx, d, scratch, time.Now(), &Options{}); err != nil {
		if d.created {
			undo(ctx)
		}
		return undo, fmt.Errorf("process %s (service %s): %w", s.process, s.name, err)
	}
	return undo, nil
}

// swarmStartProcesses deploys every process type's service and waits
// until each has converged; when one fails, Swarm rolls it back and the
// others are put back as they were.
func (h *host) swarmStartProcesses(ctx context.Context, a *attempt, snap []byte) error {
	if len(a.procs.Processes) == 0 {
		return nil
	}
	t0 := time.Now()
	secret, err := h.ensureSecret(ctx, a.rec.Env, snap)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	recs := make([]ProcessRecord, len(a.procs.Processes))
	for i, p := range a.procs.Processes {
		s := procSpec{name: h.processService(p.Name), role: roleProcess, process: p.Name, cmd: []string{"process", p.Name},
			stopSignal: p.StopSignal, stopTimeout: p.StopTimeout.D(), health: p.Health}
		recs[i] = ProcessRecord{Name: p.Name, Containers: []string{s.name}, Result: "ok"}
		g.Go(func() error {
			undo, err := h.deployProc(gctx, a, secret, s, uint64(p.Replicas), p.StartPeriod.D(), swarm.UpdateOrderStartFirst)
			mu.Lock()
			defer mu.Unlock()
			if undo != nil {
				a.undo = append(a.undo, undo)
			}
			if err != nil {
				recs[i].Result, recs[i].Error = "not-ready", firstLine(err.Error())
			}
			return err
		})
	}
	err = g.Wait()
	a.rec.Processes = append(a.rec.Processes, recs...)
	if err != nil {
		a.runUndo(ctx)
		return err
	}
	a.step("processes", t0)
	a.o.logf("updated %s: converged after %s", strings.Join(a.procs.Names(), ", "), a.rec.Steps["processes"])
	return nil
}

// runUndo puts back, in reverse order, what the release changed before a
// later step failed.
func (a *attempt) runUndo(ctx context.Context) {
	for i := len(a.undo) - 1; i >= 0; i-- {
		a.undo[i](ctx)
	}
	a.undo = nil
}

// swarmReplaceProcesses removes the services of process types the release
// no longer has, and moves the scheduler's service stop-first.
func (h *host) swarmReplaceProcesses(ctx context.Context, a *attempt, snap []byte) error {
	svcs, err := h.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name))})
	if err != nil {
		return transient(fmt.Errorf("listing services: %w", err))
	}
	kept := map[string]bool{}
	for _, p := range a.procs.Processes {
		kept[h.processService(p.Name)] = true
	}
	if len(a.procs.Schedules) > 0 {
		kept[h.processService(schedulerName)] = true
	}
	for _, s := range svcs {
		role := s.Spec.Labels[labelRole]
		if (role != roleProcess && role != roleScheduler) || kept[s.Spec.Name] {
			continue
		}
		if err := h.cli.ServiceRemove(ctx, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing service %s: %w", s.Spec.Name, err)
		}
		a.rec.Processes = append(a.rec.Processes, ProcessRecord{Name: s.Spec.Labels[labelProcess], Result: "stopped"})
		a.o.logf("removed service %s: the release has no %s", s.Spec.Name, s.Spec.Labels[labelProcess])
	}
	if len(a.procs.Schedules) == 0 {
		return nil
	}
	secret, err := h.ensureSecret(ctx, a.rec.Env, snap)
	if err != nil {
		return err
	}
	name := h.processService(schedulerName)
	existed := slices.ContainsFunc(svcs, func(s swarm.Service) bool { return s.Spec.Name == name })
	t0 := time.Now()
	s := procSpec{name: name, role: roleScheduler, process: schedulerName, cmd: []string{schedulerName},
		stopSignal: "SIGTERM", stopTimeout: processes.DefaultStopTimeout}
	r := ProcessRecord{Name: schedulerName, Containers: []string{name}, Result: "ok"}
	if _, err := h.deployProc(ctx, a, secret, s, 1, time.Second, swarm.UpdateOrderStopFirst); err != nil {
		r.Result, r.Error = "failed", firstLine(err.Error())
		a.rec.Processes = append(a.rec.Processes, r)
		return fmt.Errorf("the scheduler's service did not converge (web and the workers were switched): %w", err)
	}
	a.rec.Processes = append(a.rec.Processes, r)
	if existed {
		a.step("scheduler_gap", t0)
		a.o.logf("moved the scheduler (stop-first); the update took %s", a.rec.Steps["scheduler_gap"])
	}
	return nil
}
