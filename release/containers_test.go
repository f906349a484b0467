package release

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestStartAppConfig pins the container a docker release starts: the
// image by digest, the snapshot mounted read-only at /app/.env, the
// volumes, the health check, a restart policy for the serving one only,
// and its alias on the private network.
func TestStartAppConfig(t *testing.T) {
	for _, tc := range []struct {
		role    string
		restart container.RestartPolicyMode
	}{{"app", container.RestartPolicyUnlessStopped}, {"smoke", ""}} {
		t.Run(tc.role, func(t *testing.T) {
			env := testEnv("docker")
			env.Health.Path, env.Health.StartPeriod = "/healthz", 5*time.Second
			h, f, _ := fakeHost(t, env)
			rec := &Record{ID: "20260101-000000-abcd", Digest: "registry.example.com/shop@sha256:1234"}
			if err := h.startApp(context.Background(), rec, "shop-prod-x", "/var/lib/phpbuild/shop/prod/snapshots/e.env", tc.role); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"create shop-prod-x", "start shop-prod-x-id"}, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			c := f.created[0]
			wantCfg := &container.Config{
				Image: rec.Digest,
				Env:   []string{"PHPBUILD_ENV_FILE=/app/.env", "PHPBUILD_HEALTH_STATUS=200", "PHPBUILD_HEALTH_PATH=/healthz"},
				Labels: map[string]string{"dev.phpbuild.app": "shop", "dev.phpbuild.env": "prod", "dev.phpbuild.role": tc.role,
					"dev.phpbuild.release": rec.ID},
				Healthcheck: &container.HealthConfig{Test: []string{"CMD", "/usr/local/bin/launcher", "health"},
					Interval: 30 * time.Second, Timeout: 2 * time.Second, StartPeriod: 5 * time.Second, Retries: 3},
			}
			if diff := cmp.Diff(wantCfg, c.cfg); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			wantHC := &container.HostConfig{
				Mounts: []mount.Mount{
					{Type: mount.TypeBind, Source: "/var/lib/phpbuild/shop/prod/snapshots/e.env", Target: "/app/.env", ReadOnly: true},
					{Type: mount.TypeVolume, Source: "shop-cache", Target: "/app/var/cache"},
					{Type: mount.TypeVolume, Source: "shop-uploads", Target: "/app/public/uploads"},
				},
				RestartPolicy: container.RestartPolicy{Name: tc.restart},
			}
			byTarget := cmpopts.SortSlices(func(a, b mount.Mount) bool { return a.Target < b.Target })
			if diff := cmp.Diff(wantHC, c.hc, byTarget); diff != "" {
				t.Errorf("host config (-want +got):\n%s", diff)
			}
			wantNC := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{"phpbuild-shop-prod": {Aliases: []string{"shop-prod-x"}}}}
			if diff := cmp.Diff(wantNC, c.nc); diff != "" {
				t.Errorf("network (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitHealthy(t *testing.T) {
	running := func(exit int, run bool) func(string) (container.InspectResponse, error) {
		return func(string) (container.InspectResponse, error) {
			return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{State: &container.State{Running: run, ExitCode: exit}}}, nil
		}
	}
	for _, tc := range []struct {
		name     string
		health   Health
		answers  []int // exit codes of `launcher health`, one a check; the last repeats
		exited   bool
		cancel   time.Duration // ctx ends after this
		wantErr  []string      // in the *HealthError's text; nil: healthy
		wantCtx  bool
		maxTaken time.Duration
	}{
		{name: "healthy at once", answers: []int{0}},
		{name: "healthy at the third check", answers: []int{1, 1, 0}, health: Health{Interval: 10 * time.Millisecond, Deadline: time.Minute}},
		{name: "never healthy", answers: []int{1}, health: Health{Interval: 10 * time.Millisecond, Deadline: 50 * time.Millisecond},
			wantErr: []string{"never passed its health check", "want status 200", "last output of shop-prod-x:\n  the app's last words"}},
		{name: "the container exited", answers: []int{1}, exited: true, health: Health{Interval: time.Hour, Deadline: time.Hour},
			wantErr: []string{"the container exited with code 3"}, maxTaken: time.Second},
		{name: "Ctrl-C during the interval", answers: []int{1}, health: Health{Interval: time.Hour, Deadline: 2 * time.Hour},
			cancel: 100 * time.Millisecond, wantErr: []string{"never passed its health check"}, wantCtx: true, maxTaken: 2 * time.Second},
		{name: "Ctrl-C during the start period", answers: []int{0}, health: Health{Interval: time.Second, Deadline: time.Hour, StartPeriod: time.Hour},
			cancel: 100 * time.Millisecond, wantErr: []string{"never passed its health check"}, wantCtx: true, maxTaken: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv("docker")
			tc.health.Status, tc.health.Timeout = 200, time.Second
			env.Health = tc.health
			h, f, _ := fakeHost(t, env)
			n := 0
			f.exec = func(ctr string, cmd []string) (string, int) {
				if ctr != "shop-prod-x" || strings.Join(cmd, " ") != "/usr/local/bin/launcher health" {
					t.Errorf("exec in %s: %q", ctr, cmd)
				}
				code := tc.answers[min(n, len(tc.answers)-1)]
				n++
				if code != 0 {
					return "health: GET / answered 500, want status 200\n", code
				}
				return "ok\n", 0
			}
			f.inspect = running(3, !tc.exited)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel > 0 {
				time.AfterFunc(tc.cancel, cancel)
			}
			t0 := time.Now()
			err := h.waitHealthy(ctx, "shop-prod-x")
			if took := time.Since(t0); tc.maxTaken > 0 && took > tc.maxTaken {
				t.Errorf("waitHealthy took %s, want at most %s", took, tc.maxTaken)
			}
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v, want healthy", err)
				}
				return
			}
			var he *HealthError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want a *HealthError", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to hold %q", err, w)
				}
			}
			if tc.wantCtx != (ctx.Err() != nil) {
				t.Errorf("ctx: %v", ctx.Err())
			}
		})
	}
}
