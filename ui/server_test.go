package ui

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/release"
)

const projectTOML = `[_]
id = "dev.phpbuild.ui-test"

[environments.staging]
app = "shop"
port = 18081
image = "registry.example/shop"

[environments.production]
app = "shop"
port = 18082
image = "registry.example/shop"
`

// fakeSource answers for staging: a current release, a lock and three
// log lines; production has never been released.
type fakeSource struct{}

var staging = []release.Record{
	{ID: "r1", Kind: "release", Digest: "registry.example/shop@sha256:1111111111111111aaaa", Env: "sha256:e1e1e1e1e1e1e1e1", Version: "1.0.0", SHA: "aaaaaaaaaaaaaaaaaaaa",
		User: "ann@ci", Started: "2026-11-30T10:00:00Z", Duration: "3.1s", Result: "ok", Steps: map[string]string{"pull": "0.4s", "start": "1.0s"}},
	{ID: "r2", Kind: "release", Digest: "registry.example/shop@sha256:2222222222222222bbbb", Env: "sha256:e1e1e1e1e1e1e1e1", Version: "1.1.0", SHA: "bbbbbbbbbbbbbbbbbbbb",
		User: "bob@laptop", Started: "2026-12-01T09:00:00Z", Duration: "20s", Result: "health-failed", Error: "the new container never passed its health check"},
	{ID: "r3", Kind: "release", Digest: "registry.example/shop@sha256:3333333333333333cccc", Env: "sha256:e2e2e2e2e2e2e2e2", Version: "1.1.1", SHA: "cccccccccccccccccccc",
		User: "bob@laptop", Started: "2026-12-02T09:00:00Z", Duration: "2.9s", Result: "ok", Message: "<script>alert('x')</script> hotfix"},
}

func (fakeSource) Status(ctx context.Context, env *release.Environment) (*release.Status, error) {
	if env.Name != "staging" {
		return nil, release.ErrNeverReleased
	}
	cur := staging[2]
	return &release.Status{Current: &cur, Serving: "shop-staging-r3", Health: "healthy",
		Lock: &release.Lock{Holder: "carol@ci", Since: "2026-12-02T10:00:00Z", Message: "migrating"}}, nil
}

func (fakeSource) History(ctx context.Context, env *release.Environment) ([]release.Record, error) {
	if env.Name != "staging" {
		return nil, release.ErrNeverReleased
	}
	return staging, nil
}

func newTestServer(t *testing.T, opts ...Option) *httptest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "project.toml"), []byte(projectTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := New(dir, append([]Option{withSource(fakeSource{})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	return get(t, req)
}

func TestOverview(t *testing.T) {
	srv := newTestServer(t)
	code, body := getURL(t, srv.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d\n%s", code, body)
	}
	for _, want := range []string{
		`data-env="production"`, "Never released.", "phpbuild release --env production",
		`data-env="staging"`, `<dd class="version">1.1.1</dd>`, "<code>cccccccccccc</code>", "<span class=\"user\">bob@laptop</span>",
		`<time datetime="2026-12-02T09:00:00Z">`, "health-healthy", "Locked by <span class=\"user\">carol@ci</span>", ": migrating",
		`href="/env/staging/history"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	// Environments in name order.
	if strings.Index(body, `data-env="production"`) > strings.Index(body, `data-env="staging"`) {
		t.Error("environments are not in name order")
	}
}

func TestHistory(t *testing.T) {
	srv := newTestServer(t)
	code, body := getURL(t, srv.URL+"/env/staging/history")
	if code != http.StatusOK {
		t.Fatalf("GET history: %d\n%s", code, body)
	}
	ids := regexp.MustCompile(`data-id="(r\d)"`).FindAllStringSubmatch(body, -1)
	var order []string
	for _, m := range ids {
		order = append(order, m[1])
	}
	if strings.Join(order, ",") != "r3,r2,r1" {
		t.Errorf("history order %v, want newest first r3,r2,r1", order)
	}
	// r3 is compared with r1, the last release that served: r2 failed.
	r3 := body[strings.Index(body, `data-id="r3"`):strings.Index(body, `data-id="r2"`)]
	for _, want := range []string{`<span class="changed">new</span>`, `<span class="changed">changed</span>`} {
		if !strings.Contains(r3, want) {
			t.Errorf("r3's row lacks %q:\n%s", want, r3)
		}
	}
	r2 := body[strings.Index(body, `data-id="r2"`):strings.Index(body, `data-id="r1"`)]
	if strings.Contains(r2, "changed</span>") {
		t.Errorf("r2 kept r1's env and is marked changed:\n%s", r2)
	}
	for _, want := range []string{"health-failed", "never passed its health check", "<span>pull 0.4s</span> <span>start 1.0s</span>"} {
		if !strings.Contains(body, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; hotfix") {
		t.Error("a release message is not escaped")
	}
}

func TestErrors(t *testing.T) {
	srv := newTestServer(t)
	if code, body := getURL(t, srv.URL+"/env/nope/history"); code != http.StatusNotFound || !strings.Contains(body, `project.toml has no environment &#34;nope&#34;.`) {
		t.Errorf("unknown environment: %d\n%s", code, body)
	}
	if code, _ := getURL(t, srv.URL+"/env/production/history"); code != http.StatusOK {
		t.Errorf("history of an environment never released: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", nil)
	if code, _ := get(t, req); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", code)
	}
}

func TestToken(t *testing.T) {
	const token = "a-token-long-enough-0123"
	srv := newTestServer(t, WithToken(token))
	for _, tc := range []struct {
		name string
		set  func(*http.Request)
		want int
	}{
		{"none", func(*http.Request) {}, http.StatusUnauthorized},
		{"wrong password", func(r *http.Request) { r.SetBasicAuth("ann", "a-token-long-enough-0124") }, http.StatusUnauthorized},
		{"basic", func(r *http.Request) { r.SetBasicAuth("ann", token) }, http.StatusOK},
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/", "/static/app.css"} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				tc.set(req)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, tc.want)
				}
				if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
					t.Errorf("GET %s: security headers missing: %v", path, resp.Header)
				}
			}
		})
	}
	if _, err := New(t.TempDir(), WithToken("short")); !errors.As(err, new(*badinput.Error)) {
		t.Errorf("a short token: %v, want a badinput error", err)
	}
}

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		token bool
		ok    bool
	}{
		{"127.0.0.1:8090", false, true},
		{"localhost:8090", false, true},
		{"[::1]:8090", false, true},
		{"0.0.0.0:8090", false, false},
		{":8090", false, false},
		{"10.0.0.5:8090", false, false},
		{"0.0.0.0:8090", true, true},
		{"8090", false, false},
	} {
		err := CheckListen(tc.addr, tc.token)
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, token %v) = %v, want ok %v", tc.addr, tc.token, err, tc.ok)
		}
		if err != nil && !errors.As(err, new(*badinput.Error)) {
			t.Errorf("CheckListen(%q): %v is not a badinput error", tc.addr, err)
		}
	}
}
