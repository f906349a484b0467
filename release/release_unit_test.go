package release

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/google/go-cmp/cmp"
)

// TestRunDocker drives a release and a failed one through the skeleton on
// a docker target: what it asks of the daemon, in order, what it logs, and
// what the state dir holds after.
func TestRunDocker(t *testing.T) {
	for _, tc := range []struct {
		name       string
		healthy    bool
		wantResult string
		wantErr    string
		wantCalls  []string
		wantSteps  []string
		wantCur    string
	}{
		{name: "released", healthy: true, wantResult: "ok",
			// The proxy runs already.
			wantCalls: []string{
				"create shop-prod-ID", "start shop-prod-ID-id",
				"exec shop-prod-ID /usr/local/bin/launcher health",
				"exec phpbuild-shop-prod-proxy sh -c mkdir -p /srv/phpbuild-maintenance",
				"stop old-id", "remove old-id",
			},
			wantSteps: []string{"drain", "health", "pull", "serving", "start", "switch"}, wantCur: "ID\n"},
		{name: "never healthy", wantResult: "health-failed", wantErr: "never passed its health check",
			wantCalls: []string{
				"create shop-prod-ID", "start shop-prod-ID-id",
				"exec shop-prod-ID /usr/local/bin/launcher health",
				"remove shop-prod-ID",
			},
			wantSteps: []string{"pull", "start"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv("docker")
			env.Health.Interval, env.Health.Deadline = time.Millisecond, 0
			h, f, st := fakeHost(t, env)
			f.inspect = func(id string) (container.InspectResponse, error) {
				return container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: id, State: &container.State{Running: true}}}, nil
			}
			f.containers = []container.Summary{{ID: "old-id", Names: []string{"/shop-prod-old"}, State: "running"}}
			st.files["proxy/nginx.conf"] = proxyConf("shop-prod-old")
			f.exec = func(ctr string, cmd []string) (string, int) {
				if !tc.healthy && strings.HasSuffix(strings.Join(cmd, " "), "launcher health") {
					return "health: 500", 1
				}
				return "", 0
			}
			var logged []string
			o := Options{Message: "v2", Progress: func(format string, args ...any) { logged = append(logged, fmt.Sprintf(format, args...)) }}
			rec, err := run(context.Background(), h, o, "release", "registry.example.com/shop:v2", []byte("A=1\n"), "sha256:e2")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if rec.Result != tc.wantResult || rec.Digest != "registry.example.com/shop@sha256:1234" || rec.Env != "sha256:e2" || rec.Message != "v2" {
				t.Errorf("record %+v", rec)
			}
			var calls []string
			for _, c := range f.calls {
				c = strings.ReplaceAll(c, rec.ID, "ID")
				switch {
				case strings.HasPrefix(c, "exec phpbuild-shop-prod-proxy mkdir -p"):
					continue // writes to the state dir: memState's
				case strings.HasPrefix(c, "exec phpbuild-shop-prod-proxy sh -c"):
					c, _, _ = strings.Cut(c, " && ") // the reload's config test is enough
				}
				calls = append(calls, c)
			}
			if diff := cmp.Diff(tc.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s\nall: %q", diff, f.calls)
			}
			var steps []string
			for k := range rec.Steps {
				steps = append(steps, k)
			}
			if diff := cmp.Diff(tc.wantSteps, steps, sortStrings); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if got := string(st.files["current"]); got != strings.ReplaceAll(tc.wantCur, "ID", rec.ID) {
				t.Errorf("current = %q", got)
			}
			if string(st.files["snapshots/e2.env"]) != "A=1\n" {
				t.Errorf("snapshot %q", st.files["snapshots/e2.env"])
			}
			if _, held := st.files["lock"]; held {
				t.Error("the lock is still held")
			}
			hist, err := h.history(context.Background())
			if err != nil || len(hist) != 1 || hist[0].ID != rec.ID || hist[0].Result != tc.wantResult {
				t.Errorf("release log %+v, %v", hist, err)
			}
			if tc.healthy && !strings.Contains(string(st.files["proxy/nginx.conf.new"]), "# upstream: shop-prod-"+rec.ID) {
				t.Errorf("the proxy's new config:\n%s", st.files["proxy/nginx.conf.new"])
			}
			t.Logf("progress: %q", logged)
		})
	}
}
