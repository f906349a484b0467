package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSmokeVerdict judges what smoke.php prints: the raw response and its
// exit code.
func TestSmokeVerdict(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
	home := SmokeCheck{Path: "/", Status: 200}
	products := SmokeCheck{Path: "/products", Status: 200, Contains: []string{"Latest products"},
		NotContains: []string{"Fatal error", "Volt directory can't be written"}}
	for _, tc := range []struct {
		name   string
		check  SmokeCheck
		code   int
		stdout string
		stderr string
		want   string // the error's first line; "" passes
		body   string // a part of the error's body excerpt
	}{
		{name: "passes", check: products, stdout: ok + "<h1>Latest products</h1>"},
		{name: "wrong status", check: home, stdout: "HTTP/1.1 500 Internal Server Error\r\n\r\noops",
			want: "smoke check GET /: status 500, want 200", body: "oops"},
		{name: "a redirect is a status, not followed", check: home, stdout: "HTTP/1.1 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n",
			want: "smoke check GET /: status 302 (Location: /login), want 200"},
		{name: "the redirect wanted", check: SmokeCheck{Path: "/account", Status: 302}, stdout: "HTTP/1.1 302 Found\r\nLocation: /login\r\n\r\n"},
		{name: "forbidden text", check: products,
			stdout: ok + "<h1>Latest products</h1>\n<br />\n<b>Fatal error</b>:  Uncaught Phalcon\\Mvc\\View\\Exception: Volt directory can't be written",
			want:   `smoke check GET /products: body contains "Fatal error"`, body: "<b>Fatal error</b>: Uncaught Phalcon"},
		{name: "missing text", check: products, stdout: ok + "<h1>No products today</h1>",
			want: `smoke check GET /products: body does not contain "Latest products"`, body: "No products today"},
		{name: "a forbidden text says more than a missing one", check: products, stdout: ok + "Fatal error",
			want: `smoke check GET /products: body contains "Fatal error"`},
		{name: "chunked body", check: products,
			stdout: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nLatest \r\n8\r\nproducts\r\n0\r\n\r\n"},
		{name: "text split across chunks is found", check: SmokeCheck{Path: "/", Status: 200, NotContains: []string{"Fatal error"}},
			stdout: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nFatal\r\n6\r\n error\r\n0\r\n\r\n",
			want:   `smoke check GET /: body contains "Fatal error"`},
		{name: "a body cut short is judged on what came", check: products, stdout: ok[:len(ok)-4] + "\r\nContent-Length: 999\r\n\r\nLatest products"},
		{name: "not HTTP", check: home, stdout: "hello\n", want: "smoke check GET /: not an HTTP response (malformed HTTP response \"hello\")"},
		{name: "timed out", check: home, code: smokeTimedOut, want: "smoke check GET /: no answer within 2s"},
		{name: "refused", check: home, code: 3, stderr: "connecting to 127.0.0.1:8080: Connection refused\n",
			want: "smoke check GET /: no answer: connecting to 127.0.0.1:8080: Connection refused (exit 3)"},
		{name: "no php", check: home, code: 127, stdout: "OCI runtime exec failed: exec: \"php\": executable file not found in $PATH",
			want: "smoke check GET /: no answer: OCI runtime exec failed: exec: \"php\": executable file not found in $PATH (exit 127)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check.verdict(tc.code, []byte(tc.stdout), []byte(tc.stderr), 2*time.Second)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("verdict: %v, want a pass", err)
				}
				return
			}
			var se *SmokeError
			if !errors.As(err, &se) {
				t.Fatalf("verdict: %v (%T), want a *SmokeError", err, err)
			}
			if got := firstLine(err.Error()); got != tc.want {
				t.Errorf("first line %q, want %q", got, tc.want)
			}
			if !strings.Contains(err.Error(), "the previous release keeps serving") {
				t.Errorf("%q does not say that the previous release keeps serving", err)
			}
			if !strings.Contains(se.Body, tc.body) {
				t.Errorf("body excerpt %q does not show %q", se.Body, tc.body)
			}
		})
	}
}

func TestExcerpt(t *testing.T) {
	body := []byte(strings.Repeat("a ", 200) + "\n\n  <b>Fatal error</b>:\n  Uncaught " + strings.Repeat("b ", 200))
	at := strings.Index(string(body), "Fatal")
	got := excerpt(body, at)
	if !strings.HasPrefix(got, "…a a") || !strings.HasSuffix(got, "b b…") || !strings.Contains(got, "<b>Fatal error</b>: Uncaught b") {
		t.Errorf("excerpt %q: want the text around the match, on one line, cut at both ends", got)
	}
	if got := excerpt([]byte("short\nbody"), 0); got != "short body" {
		t.Errorf("excerpt %q", got)
	}
}

// TestSmokeScript runs smoke.php with the PHP of this machine against a
// local server: what the checks send, and that nothing is followed.
func TestSmokeScript(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("no php on this machine: smoke.php runs in the release tests' containers only")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s agent=%s query=%s", r.Host, r.UserAgent(), r.URL.RawQuery)
	})
	mux.HandleFunc("/account", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) })
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "login page") })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range []string{"Latest ", "products", " and a Fatal", " error"} {
			fmt.Fprint(w, s)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", smokeMaxResponse+1<<20)+"Fatal error")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	run := func(c SmokeCheck, timeout time.Duration) error {
		cmd := exec.Command(php, "-n", "-r", smokeScript)
		cmd.Env = []string{"PORT=" + u.Port(), "PHPBUILD_SMOKE_PATH=" + c.Path, "PHPBUILD_SMOKE_HOST=" + c.Host,
			fmt.Sprintf("PHPBUILD_SMOKE_TIMEOUT=%g", timeout.Seconds()), fmt.Sprintf("PHPBUILD_SMOKE_MAX=%d", smokeMaxResponse+64<<10)}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		code := 0
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatal(err)
			}
			code = ee.ExitCode()
		}
		return c.verdict(code, []byte(stdout.String()), []byte(stderr.String()), timeout)
	}
	for _, tc := range []struct {
		name  string
		check SmokeCheck
		want  string // the error's first line; "" passes
	}{
		{"host header and query", SmokeCheck{Path: "/echo?a=1", Status: 200, Host: "shop.example.com", Contains: []string{"host=shop.example.com agent=phpbuild-smoke query=a=1"}}, ""},
		{"default host", SmokeCheck{Path: "/echo", Status: 200, Contains: []string{"host=127.0.0.1:" + u.Port()}}, ""},
		{"redirect not followed", SmokeCheck{Path: "/account", Status: 200}, "smoke check GET /account: status 302 (Location: /login), want 200"},
		{"redirect wanted", SmokeCheck{Path: "/account", Status: 302, NotContains: []string{"login page"}}, ""},
		{"streamed body", SmokeCheck{Path: "/stream", Status: 200, NotContains: []string{"Fatal error"}}, `smoke check GET /stream: body contains "Fatal error"`},
		{"not found", SmokeCheck{Path: "/nope", Status: 200}, "smoke check GET /nope: status 404, want 200"},
		{"timeout", SmokeCheck{Path: "/slow", Status: 200}, "smoke check GET /slow: no answer within 500ms"},
		{"a huge body is judged on its start", SmokeCheck{Path: "/big", Status: 200, NotContains: []string{"Fatal error"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Now()
			err := run(tc.check, 500*time.Millisecond)
			got := ""
			if err != nil {
				got = firstLine(err.Error())
			}
			if got != tc.want {
				t.Errorf("got %q (%v), want %q", got, err, tc.want)
			}
			if took := time.Since(t0); took > 3*time.Second {
				t.Errorf("the check took %s with a 500ms timeout", took)
			}
		})
	}
}

// TestSmokeChecksLoadAndPlan: project.toml's smoke checks reach the
// environment with their defaults, and `release --plan` lists them.
func TestSmokeChecksLoadAndPlan(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:1") // no daemon: the plan has no current release
	for _, target := range []string{"docker", "swarm"} {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			toml := fmt.Sprintf(`[environments.staging]
target = %q
app = "shop"
image = "registry.example.com/shop"

[environments.staging.health]
timeout = "3s"

[[environments.staging.health.smoke]]
path = "/"
contains = "Latest products"
not_contains = ["Fatal error", "Volt directory can't be written"]
host = "shop.example.com"

[[environments.staging.health.smoke]]
path = "/account"
status = 302
`, target)
			if err := os.WriteFile(filepath.Join(dir, "project.toml"), []byte(toml), 0o644); err != nil {
				t.Fatal(err)
			}
			env, err := LoadEnvironment(dir, "staging")
			if err != nil {
				t.Fatal(err)
			}
			want := []SmokeCheck{
				{Path: "/", Status: 200, Contains: []string{"Latest products"}, NotContains: []string{"Fatal error", "Volt directory can't be written"}, Host: "shop.example.com"},
				{Path: "/account", Status: 302},
			}
			if diff := cmp.Diff(want, env.Health.Smoke); diff != "" {
				t.Errorf("smoke checks (-want +got):\n%s", diff)
			}
			p, err := PlanRelease(context.Background(), env, Options{Image: "v1", Getenv: func(string) (string, bool) { return "", false }})
			if err != nil {
				t.Fatal(err)
			}
			steps := strings.Join(p.Steps, "\n")
			for _, s := range []string{
				`smoke check GET / (Host: shop.example.com) → 200, body contains "Latest products", body without "Fatal error", "Volt directory can't be written"`,
				"smoke check GET /account → 302",
			} {
				if !strings.Contains(steps, s) {
					t.Errorf("the plan's steps do not list %q:\n%s", s, steps)
				}
			}
			// The checks come after the health check and before any traffic.
			health, smoke, traffic := strings.Index(steps, "wait for"), strings.Index(steps, "smoke check"), strings.Index(steps, "proxy")
			if target == "swarm" {
				health = strings.Index(steps, "wait for its health check")
			}
			if !(health >= 0 && health < smoke && smoke < traffic) {
				t.Errorf("the plan's steps are out of order:\n%s", steps)
			}
		})
	}
}
