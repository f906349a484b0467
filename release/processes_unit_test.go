package release

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/processes"
)

// TestReplaceProcesses is the step after web switched: the earlier
// release's process containers stop, a process type the new release
// dropped is recorded as stopped, and the old scheduler stops before the
// new one starts.
func TestReplaceProcesses(t *testing.T) {
	h, f, _ := fakeHost(t, testEnv("docker"))
	f.inspect = func(id string) (container.InspectResponse, error) {
		return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: &container.State{Running: true}}}, nil
	}
	old := func(id, role, process, rel string) container.Summary {
		return container.Summary{ID: id, State: "running", Labels: map[string]string{labelApp: "shop", labelEnv: "prod", labelRole: role, labelProcess: process, labelRelease: rel}}
	}
	f.containers = []container.Summary{
		old("worker-old", roleProcess, "worker", "r1"),
		old("mailer-old", roleProcess, "mailer", "r1"),
		old("worker-new", roleProcess, "worker", "r2"),
		old("scheduler-old", roleScheduler, schedulerName, "r1"),
	}
	a := &attempt{h: h, rec: &Record{ID: "r2", Digest: "registry.example.com/shop@sha256:1234", Steps: map[string]string{}},
		procs: &processes.Table{
			Processes: []processes.Process{{Name: "worker", Replicas: 1}},
			Schedules: []processes.Schedule{{Name: "report", Cron: "@hourly", Command: []string{"true"}}},
		}}
	if err := h.replaceProcesses(context.Background(), a, "/state/snapshots/e2.env"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, "stop ") || strings.HasPrefix(c, "create ") || strings.HasPrefix(c, "start ") {
			got = append(got, c)
		}
	}
	// The two old processes stop concurrently; the scheduler is created,
	// the old one stopped, then the new one started.
	if strings.Join(got[:2], " ") != "stop worker-old stop mailer-old" && strings.Join(got[:2], " ") != "stop mailer-old stop worker-old" {
		t.Errorf("the old processes were not stopped first: %q", got)
	}
	if d := cmp.Diff([]string{"create shop-prod-schedule-r2", "stop scheduler-old", "start shop-prod-schedule-r2-id"}, got[2:]); d != "" {
		t.Errorf("scheduler calls (-want +got):\n%s", d)
	}
	want := []ProcessRecord{{Name: "mailer", Result: "stopped"}, {Name: schedulerName, Containers: []string{"shop-prod-schedule-r2"}, Result: "ok"}}
	if d := cmp.Diff(want, a.rec.Processes); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
	if a.rec.Steps["scheduler_gap"] == "" || a.rec.Steps["processes_stop"] == "" {
		t.Errorf("steps %v", a.rec.Steps)
	}
	cfg := f.created[len(f.created)-1].cfg
	if strings.Join(cfg.Cmd, " ") != "schedule" || cfg.StopSignal != "SIGTERM" || *cfg.StopTimeout != int((processes.DefaultStopTimeout+stopMargin)/time.Second) ||
		strings.Join(cfg.Healthcheck.Test, " ") != "NONE" || cfg.Labels[labelRole] != roleScheduler {
		t.Errorf("the scheduler's container: %+v", cfg)
	}
}
