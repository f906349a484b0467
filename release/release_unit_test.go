package release

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
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

// TestProbe: from this process, the health route answers a pass once it
// gives the expected status (a redirect, an error or a refused connection
// before that are tries); an address that cannot be reached, a remote
// daemon or a container that stopped give up at once, and leave the
// verdict to the exec'ed check.
func TestProbe(t *testing.T) {
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" || r.Header.Get("User-Agent") != "phpbuild-health" {
			http.Error(w, "wrong request "+r.URL.Path, http.StatusBadRequest)
			return
		}
		switch tries.Add(1) {
		case 1:
			http.Error(w, "starting", http.StatusBadGateway)
		case 2:
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	env := testEnv("docker")
	h, f, _ := fakeHost(t, env)
	running := true
	addr := host
	f.inspect = func(id string) (container.InspectResponse, error) {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{State: &container.State{Running: running}},
			Config:            &container.Config{Env: []string{"PORT=" + port, "PHPBUILD_HEALTH_PATH=/ready"}},
			NetworkSettings:   &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{h.network(): {IPAddress: addr}}},
		}, nil
	}
	ctx := context.Background()
	if h.probe(ctx, "shop-1", time.Now().Add(5*time.Second)) {
		t.Error("a host whose containers are not reachable from here: probe passed")
	}
	h.direct = true
	if !h.probe(ctx, "shop-1", time.Now().Add(5*time.Second)) || tries.Load() != 3 {
		t.Errorf("probe did not pass on the third try (tries: %d)", tries.Load())
	}
	// The environment's own path wins over the image's.
	env.Health.Path = "/other"
	if h.probe(ctx, "shop-1", time.Now().Add(300*time.Millisecond)) {
		t.Error("a path answering 400: probe passed")
	}
	env.Health.Path = ""
	// A stopped container: given up within ten tries, not at the end.
	running = false
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) })
	start := time.Now()
	if h.probe(ctx, "shop-1", time.Now().Add(10*time.Second)) || time.Since(start) > 3*time.Second {
		t.Errorf("a stopped container: probe gave up after %s", time.Since(start))
	}
	// An address that cannot be reached gives up at the dial; a refused
	// connection is a container not listening yet.
	dial := func(err error) error {
		return &url.Error{Op: "Get", URL: "http://10.0.0.2:8080/health", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{dial(&os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}), true},
		{dial(&os.SyscallError{Syscall: "connect", Err: syscall.ENETUNREACH}), true},
		{dial(dialTimeout{}), true},
		{dial(&os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}), false},
		{&url.Error{Op: "Get", URL: "http://10.0.0.2:8080/health", Err: &net.OpError{Op: "read", Net: "tcp", Err: dialTimeout{}}}, false},
	} {
		if got := unreachable(tc.err); got != tc.want {
			t.Errorf("unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// dialTimeout is a dial that found no answer in time.
type dialTimeout struct{}

func (dialTimeout) Error() string   { return "i/o timeout" }
func (dialTimeout) Timeout() bool   { return true }
func (dialTimeout) Temporary() bool { return true }
