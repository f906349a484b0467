package release

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-cmp/cmp"
)

// TestServiceSpec pins the service a swarm release asks for.
func TestServiceSpec(t *testing.T) {
	env := testEnv("swarm")
	env.Health.Path, env.Health.StartPeriod = "/healthz", 5*time.Second
	h, _, _ := fakeHost(t, env)
	rec := &Record{ID: "20260101-000000-abcd", Digest: "registry.example.com/shop@sha256:1234"}
	secret := &swarm.SecretReference{SecretID: "s1", SecretName: "shop-prod-env-0123456789ab"}
	got := h.serviceSpec(rec, secret, 3)
	grace, replicas := 10*time.Second, uint64(3)
	labels := func(role string) map[string]string {
		return map[string]string{"dev.phpbuild.app": "shop", "dev.phpbuild.env": "prod", "dev.phpbuild.role": role, "dev.phpbuild.release": rec.ID}
	}
	update := func(failure string) *swarm.UpdateConfig {
		return &swarm.UpdateConfig{Parallelism: 1, Order: swarm.UpdateOrderStartFirst, FailureAction: failure, Monitor: 3 * time.Second}
	}
	want := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: "shop-prod", Labels: labels("service")},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:  rec.Digest,
				Labels: labels("app"),
				Env:    []string{"PHPBUILD_ENV_FILE=/app/.env", "PHPBUILD_HEALTH_STATUS=200", "PHPBUILD_HEALTH_TIMEOUT=2s", "PHPBUILD_HEALTH_PATH=/healthz"},
				Mounts: []mount.Mount{ // sorted by target
					{Type: mount.TypeVolume, Source: "shop-uploads", Target: "/app/public/uploads"},
					{Type: mount.TypeVolume, Source: "shop-cache", Target: "/app/var/cache"},
				},
				StopSignal:      "SIGQUIT",
				StopGracePeriod: &grace,
				// The deadline is the start period: a task has it to
				// become healthy, as a container has.
				Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/usr/local/bin/launcher", "health"},
					Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: time.Minute, Retries: 3},
				Secrets: []*swarm.SecretReference{secret},
			},
			Networks: []swarm.NetworkAttachmentConfig{{Target: "phpbuild-shop-prod"}},
		},
		Mode:           swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &replicas}},
		UpdateConfig:   update(swarm.UpdateFailureActionRollback),
		RollbackConfig: update(swarm.UpdateFailureActionPause),
		EndpointSpec:   &swarm.EndpointSpec{Mode: swarm.ResolutionModeDNSRR},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
}

// TestConverge follows Swarm's reports of a service update to its end.
func TestConverge(t *testing.T) {
	const id = "rel-2"
	one := uint64(1)
	svc := func(state swarm.UpdateState, msg string) swarm.Service {
		s := swarm.Service{ID: "svc", Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "shop-prod"},
			Mode: swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}}, PreviousSpec: &swarm.ServiceSpec{}}
		if state != "" {
			s.UpdateStatus = &swarm.UpdateStatus{State: state, Message: msg}
		}
		return s
	}
	task := func(tid, release string, state, desired swarm.TaskState) swarm.Task {
		return swarm.Task{ID: tid, ServiceID: "svc", Slot: 1, DesiredState: desired, Status: swarm.TaskStatus{State: state, Err: map[bool]string{true: "task: non-zero exit (1)"}[state == swarm.TaskStateFailed]},
			Spec: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Labels: map[string]string{labelRelease: release}}}}
	}
	old := task("t1", "rel-1", swarm.TaskStateRunning, swarm.TaskStateRunning)
	for _, tc := range []struct {
		name      string
		created   bool
		stale     *swarm.UpdateStatus
		services  []swarm.Service
		tasks     [][]swarm.Task
		deadline  time.Duration
		cancel    bool
		wantErr   []string
		wantSteps []string // steps timed
		wantRoll  bool     // asked Swarm to roll back
	}{
		{name: "created, runs", created: true, services: []swarm.Service{svc("", "")},
			tasks:     [][]swarm.Task{{task("t2", id, swarm.TaskStateStarting, swarm.TaskStateRunning)}, {task("t2", id, swarm.TaskStateRunning, swarm.TaskStateRunning)}},
			wantSteps: []string{"health", "start"}},
		{name: "updated, completes", services: []swarm.Service{svc(swarm.UpdateStateUpdating, ""), svc(swarm.UpdateStateCompleted, "update completed")},
			tasks:     [][]swarm.Task{{old, task("t2", id, swarm.TaskStateRunning, swarm.TaskStateRunning)}},
			wantSteps: []string{"health", "start"}},
		{name: "a completed update from before is not this one", stale: &swarm.UpdateStatus{State: swarm.UpdateStateCompleted, Message: "update completed"},
			services: []swarm.Service{svc(swarm.UpdateStateCompleted, "update completed"), svc(swarm.UpdateStateUpdating, ""), svc(swarm.UpdateStateCompleted, "done")},
			tasks:    [][]swarm.Task{{old}, {old, task("t2", id, swarm.TaskStateRunning, swarm.TaskStateRunning)}}, wantSteps: []string{"health", "start"}},
		{name: "created, the task fails", created: true, services: []swarm.Service{svc("", "")},
			tasks:   [][]swarm.Task{{task("t2", id, swarm.TaskStateFailed, swarm.TaskStateShutdown)}},
			wantErr: []string{"task t2: failed: task: non-zero exit (1)"}},
		{name: "Swarm rolled back", services: []swarm.Service{svc(swarm.UpdateStateRollbackStarted, "update rolled back due to failure"), svc(swarm.UpdateStateRollbackCompleted, "rollback completed")},
			tasks:   [][]swarm.Task{{old, task("t2", id, swarm.TaskStateFailed, swarm.TaskStateShutdown)}},
			wantErr: []string{"task t2: failed", "update: rollback completed"}},
		{name: "a paused update is rolled back", services: []swarm.Service{svc(swarm.UpdateStatePaused, "update paused due to failure")},
			tasks:   [][]swarm.Task{{old, task("t2", id, swarm.TaskStateFailed, swarm.TaskStateShutdown)}},
			wantErr: []string{"update paused: update paused due to failure; asked Swarm to roll back"}, wantRoll: true},
		{name: "no convergence by the deadline", services: []swarm.Service{svc(swarm.UpdateStateUpdating, "")}, deadline: -time.Hour,
			tasks:   [][]swarm.Task{{old, task("t2", id, swarm.TaskStatePending, swarm.TaskStateRunning)}},
			wantErr: []string{"the service did not converge within", "asked Swarm to roll back"}, wantRoll: true},
		{name: "Ctrl-C", services: []swarm.Service{svc(swarm.UpdateStateUpdating, "")}, cancel: true,
			tasks: [][]swarm.Task{{old, task("t2", id, swarm.TaskStatePending, swarm.TaskStateRunning)}}, wantErr: []string{"context canceled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv("swarm")
			env.Health.Deadline = time.Minute
			h, f, _ := fakeHost(t, env)
			f.services, f.tasks = tc.services, tc.tasks
			rec := &Record{ID: id, Steps: map[string]string{}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(300*time.Millisecond, cancel)
			}
			t0 := time.Now()
			if tc.deadline != 0 {
				t0 = t0.Add(tc.deadline)
			}
			_, err := h.converge(ctx, deployment{id: "svc", created: tc.created, stale: tc.stale}, rec, t0, &Options{})
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else {
				if err == nil {
					t.Fatal("converged, want an error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %v\nwant it to hold %q", err, w)
					}
				}
				var he *HealthError
				if errors.As(err, &he) == tc.cancel {
					t.Errorf("err = %#v: a *HealthError unless canceled", err)
				}
			}
			var steps []string
			for k := range rec.Steps {
				steps = append(steps, k)
			}
			if diff := cmp.Diff(tc.wantSteps, steps, sortStrings); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if rolled := len(f.updates) > 0 && f.updates[0].Rollback == "previous"; rolled != tc.wantRoll {
				t.Errorf("rolled back %v, want %v (calls %q)", rolled, tc.wantRoll, f.calls)
			}
		})
	}
}
