package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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
// log lines; production has never been released. It records the actions
// asked of it.
type fakeSource struct {
	mu      sync.Mutex
	actions []string
	// gate, when set, holds each release until it is closed.
	gate chan struct{}
}

func (f *fakeSource) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.actions = append(f.actions, fmt.Sprintf(format, args...))
}

func (f *fakeSource) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.actions)
}

func (f *fakeSource) Plan(ctx context.Context, env *release.Environment, o release.Options) (*release.Plan, error) {
	cur := staging[2]
	return &release.Plan{Image: "registry.example/shop:" + o.Image, Env: "sha256:e3e3e3e3e3e3e3e3", EnvDiff: []string{"~ DB_PASSWORD (secret)"},
		Current: &cur, Steps: []string{"pull registry.example/shop:" + o.Image, "start", "health", "switch", "drain"}}, nil
}

func (f *fakeSource) Release(ctx context.Context, env *release.Environment, o release.Options) (*release.Record, error) {
	f.record("release %s %s image=%s message=%q user=%q version=%s", env.Name, ctx.Err(), o.Image, o.Message, o.User, o.Version)
	o.Progress("pull %s: 0.3s", o.Image)
	if f.gate != nil {
		<-f.gate
	}
	if err := ctx.Err(); err != nil {
		return nil, err // as the engine would: a cancelled release stops
	}
	o.Progress("start: 0.9s")
	return &release.Record{ID: "r4", Kind: "release", Result: "ok"}, nil
}

func (f *fakeSource) Rollback(ctx context.Context, env *release.Environment, id string, o release.Options) (*release.Record, error) {
	f.record("rollback %s to %s", env.Name, id)
	o.Progress("start: 0.8s")
	return nil, errors.New("the new container never passed its health check; r3 still serves")
}

func (f *fakeSource) Unlock(ctx context.Context, env *release.Environment, o release.Options) (*release.Lock, error) {
	f.record("unlock %s", env.Name)
	return &release.Lock{Holder: "carol@ci"}, nil
}

func (f *fakeSource) EnvChanges(ctx context.Context, env *release.Environment, pairs [][2]string) ([][]string, error) {
	out := make([][]string, len(pairs))
	for i, p := range pairs {
		if p == [2]string{"sha256:e1e1e1e1e1e1e1e1", "sha256:e2e2e2e2e2e2e2e2"} {
			out[i] = []string{"+ MAIL_HOST", "~ DB_PASSWORD"}
		}
	}
	return out, nil
}

func (f *fakeSource) Describe(ctx context.Context, env *release.Environment, image string) imageTag {
	if strings.Contains(image, "sha256:3333333333333333cccc") {
		return imageTag{Version: "1.1.1", Revision: "cccccccccccccccccccc", Subject: "Fix the cart's <total>"}
	}
	return imageTag{Tag: image, Version: "1.2.0", Revision: "dddddddddddddddddddd", Subject: "Add the invoice page"}
}

func (f *fakeSource) Tags(ctx context.Context, env *release.Environment) ([]imageTag, error) {
	return []imageTag{{Tag: "1.2.0", Version: "1.2.0", Revision: "dddddddddddddddddddd", Created: "2026-12-03T08:00:00Z", Subject: "Add the invoice page"},
		{Tag: "1.1.1", Version: "1.1.1", Revision: "cccccccccccccccccccc", Created: "2026-12-02T08:00:00Z", Subject: "Fix the cart's <total>"}}, nil
}

var staging = []release.Record{
	{ID: "r1", Kind: "release", Digest: "registry.example/shop@sha256:1111111111111111aaaa", Env: "sha256:e1e1e1e1e1e1e1e1", Version: "1.0.0", SHA: "aaaaaaaaaaaaaaaaaaaa",
		User: "ann@ci", Started: "2026-11-30T10:00:00Z", Duration: "3.1s", Result: "ok", Steps: map[string]string{"pull": "0.4s", "start": "1.0s"}},
	{ID: "r2", Kind: "release", Digest: "registry.example/shop@sha256:2222222222222222bbbb", Env: "sha256:e1e1e1e1e1e1e1e1", Version: "1.1.0", SHA: "bbbbbbbbbbbbbbbbbbbb",
		User: "bob@laptop", Started: "2026-12-01T09:00:00Z", Duration: "20s", Result: "health-failed", Error: "the new container never passed its health check"},
	{ID: "r3", Kind: "release", Digest: "registry.example/shop@sha256:3333333333333333cccc", Env: "sha256:e2e2e2e2e2e2e2e2", Version: "1.1.1", SHA: "cccccccccccccccccccc",
		User: "bob@laptop", Started: "2026-12-02T09:00:00Z", Duration: "2.9s", Result: "ok", Message: "<script>alert('x')</script> hotfix"},
}

func (*fakeSource) Status(ctx context.Context, env *release.Environment) (*release.Status, error) {
	if env.Name != "staging" {
		return nil, release.ErrNeverReleased
	}
	cur := staging[2]
	return &release.Status{Current: &cur, Serving: "shop-staging-r3", Health: "healthy",
		Lock: &release.Lock{Holder: "carol@ci", Since: "2026-12-02T10:00:00Z", Message: "migrating"}}, nil
}

func (*fakeSource) History(ctx context.Context, env *release.Environment) ([]release.Record, error) {
	if env.Name != "staging" {
		return nil, release.ErrNeverReleased
	}
	return staging, nil
}

func newTestServer(t *testing.T, opts ...Option) *httptest.Server {
	t.Helper()
	srv, _ := newFakeServer(t, opts...)
	return srv
}

func newFakeServer(t *testing.T, opts ...Option) (*httptest.Server, *fakeSource) {
	t.Helper()
	src := &fakeSource{}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "project.toml"), []byte(projectTOML), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := New(dir, append([]Option{withSource(src)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, src
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
		`data-env="staging"`, `<dd class="version">1.1.1</dd>`, "<code class=\"sha\">cccccccccccc</code> <span class=\"subject\">Fix the cart&#39;s &lt;total&gt;</span>", "<span class=\"user\">bob@laptop</span>",
		`<time datetime="2026-12-02T09:00:00Z">`, "health-healthy", "Locked by <span class=\"user\">carol@ci</span>", ": migrating",
		`href="/env/staging/history"`, `href="/env/staging/deploy"`, `href="/env/staging/unlock"`,
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
	for _, want := range []string{`<span class="changed">new</span>`, `<span class="changed">changed</span>`, "<li><code>&#43; MAIL_HOST</code></li><li><code>~ DB_PASSWORD</code></li>"} {
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

// browser is a client that keeps cookies and does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	code, body, _ := b.do(req)
	return code, body
}

// post sends form as the page's own forms do, with origin as Origin ("" for
// none).
func (b *browser) post(path string, form url.Values, origin string) (int, string, http.Header) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

func (b *browser) csrf(page string) string {
	b.t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF field in the page:\n%s", page)
	}
	return m[1]
}

func TestDeploy(t *testing.T) {
	srv, src := newFakeServer(t)
	b := newBrowser(t, srv.URL)
	code, page := b.get("/env/staging/deploy")
	if code != http.StatusOK || !strings.Contains(page, `value="1.2.0"`) || !strings.Contains(page, "<option>production</option>") || !strings.Contains(page, "Add the invoice page") {
		t.Fatalf("deploy form: %d\n%s", code, page)
	}
	tok := b.csrf(page)

	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", url.Values{"image": {"1.2.0"}}, srv.URL},
		{"a wrong token", url.Values{"image": {"1.2.0"}, "csrf": {strings.Repeat("0", 32)}}, srv.URL},
		{"another origin", url.Values{"image": {"1.2.0"}, "csrf": {tok}}, "https://evil.example"},
	} {
		for _, path := range []string{"/env/staging/plan", "/env/staging/deploy", "/env/staging/rollback", "/env/staging/unlock"} {
			if code, _, _ := b.post(path, tc.form, tc.origin); code != http.StatusForbidden {
				t.Errorf("%s, POST %s: %d, want 403", tc.name, path, code)
			}
		}
	}
	if got := src.asked(); len(got) > 0 {
		t.Fatalf("refused requests acted: %q", got)
	}

	code, page, _ = b.post("/env/staging/plan", url.Values{"image": {"1.2.0"}, "csrf": {tok}}, srv.URL)
	for _, want := range []string{`<code class="plan-image">registry.example/shop:1.2.0</code>`, "<dd class=\"subject\">Add the invoice page</dd>", "~ DB_PASSWORD (secret)", "<li>health</li>", "Release to staging"} {
		if !strings.Contains(page, want) {
			t.Errorf("the plan lacks %q (%d)", want, code)
		}
	}
	code, _, hdr := b.post("/env/staging/deploy", url.Values{"image": {"1.2.0"}, "version": {"6.6.6"}, "message": {"ship it"}, "csrf": {tok}}, srv.URL)
	loc := hdr.Get("Location")
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/runs/") {
		t.Fatalf("deploy: %d, Location %q", code, loc)
	}
	// The events of a run that is over: every line, then the result.
	_, events := b.get(loc + "/events")
	want := "event: line\ndata: pull 1.2.0: 0.3s\n\nevent: line\ndata: start: 0.9s\n\nevent: done\ndata: ok\n\n"
	if events != want {
		t.Errorf("events:\n%q\nwant\n%q", events, want)
	}
	if _, page := b.get(loc); !strings.Contains(page, `<span class="result-ok">ok</span>`) || !strings.Contains(page, "pull 1.2.0: 0.3s") {
		t.Errorf("the run's page:\n%s", page)
	}
	// The release ran detached from the request, whose context is over.
	if got := src.asked(); !slices.Equal(got, []string{`release staging %!s(<nil>) image=1.2.0 message="ship it" user="" version=1.2.0`}) {
		t.Errorf("asked %q", got)
	}
}

func TestRollbackAndUnlock(t *testing.T) {
	srv, src := newFakeServer(t)
	b := newBrowser(t, srv.URL)
	_, hist := b.get("/env/staging/history")
	if !strings.Contains(hist, `href="/env/staging/rollback?id=r1"`) || strings.Contains(hist, `rollback?id=r2"`) {
		t.Errorf("rollback links: only ok releases may be picked:\n%s", hist)
	}
	code, page := b.get("/env/staging/rollback?id=r1")
	if code != http.StatusOK || !strings.Contains(page, "release <code>r1</code>") {
		t.Fatalf("rollback form: %d\n%s", code, page)
	}
	_, _, hdr := b.post("/env/staging/rollback", url.Values{"id": {"r1"}, "csrf": {b.csrf(page)}}, srv.URL)
	loc := hdr.Get("Location")
	// Wait for the run: a page of a run that failed shows why.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, page = b.get(loc)
		if strings.Contains(page, "result-failed") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(page, "never passed its health check; r3 still serves") {
		t.Errorf("the failed rollback's page:\n%s", page)
	}

	code, page = b.get("/env/staging/unlock")
	if code != http.StatusOK || !strings.Contains(page, "carol@ci") {
		t.Fatalf("unlock form: %d\n%s", code, page)
	}
	if code, _, hdr := b.post("/env/staging/unlock", url.Values{"csrf": {b.csrf(page)}}, ""); code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Errorf("unlock: %d %v", code, hdr)
	}
	if got := src.asked(); !slices.Equal(got, []string{"rollback staging to r1", "unlock staging"}) {
		t.Errorf("asked %q", got)
	}
	if code, _ := b.get("/env/staging/rollback?id=nope"); code != http.StatusNotFound {
		t.Errorf("rollback to an unknown release: %d", code)
	}
}

// TestRunOutlivesTheBrowser: a release goes on after the browser that
// started it left, and the overview shows it until it ends.
func TestRunOutlivesTheBrowser(t *testing.T) {
	srv, src := newFakeServer(t)
	src.gate = make(chan struct{})
	b := newBrowser(t, srv.URL)
	_, page := b.get("/env/staging/deploy")
	_, _, hdr := b.post("/env/staging/deploy", url.Values{"image": {"1.2.0"}, "csrf": {b.csrf(page)}}, srv.URL)
	run := hdr.Get("Location")
	// The browser reads one line, then goes away mid-release.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+run+"/events", nil)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 64)
	n, _ := resp.Body.Read(line)
	cancel()
	resp.Body.Close()
	if !strings.Contains(string(line[:n]), "pull 1.2.0") {
		t.Errorf("the first event is %q", line[:n])
	}
	// Another browser, later: the overview lists the run, its page shows
	// what it did so far.
	other := newBrowser(t, srv.URL)
	if _, page := other.get("/"); !strings.Contains(page, `href="`+run+`">staging: release of <code>1.2.0</code>`) {
		t.Errorf("the overview does not list the running release %s:\n%s", run, page)
	}
	if _, page := other.get(run); !strings.Contains(page, "running…") || !strings.Contains(page, "pull 1.2.0: 0.3s") {
		t.Errorf("the run's page while it runs:\n%s", page)
	}
	close(src.gate)
	_, events := other.get(run + "/events")
	if !strings.HasSuffix(events, "event: done\ndata: ok\n\n") {
		t.Errorf("the release did not finish after its browser left: %q", events)
	}
	if _, page := other.get("/"); strings.Contains(page, run) {
		t.Error("the overview still lists the finished run")
	}
}
