package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
	"github.com/phpbuild/phpbuild/ui"
)

// TestPageInChromium releases the plain app to an environment on the test
// bed, then reads the deploy page in headless Chromium: the overview shows
// what runs, the history link leads to the release's row. Screenshots go
// to ui/artifacts/ (or $PHPBUILD_ARTIFACTS).
func TestPageInChromium(t *testing.T) {
	chrome := testbed.Chromium(t)
	rt := buildtest.Runtimes(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	dir := buildtest.GitApp(t, "plain")
	repo := buildtest.Repo(t, "ui")
	res, err := build.Publish(ctx, dir, build.NewRegistry(repo, nil), build.WithRuntimeRepo(rt),
		build.WithBuildkitHost(testbed.BuildkitHost(t)), build.WithTarget(repo), build.WithSkipExisting())
	if err != nil {
		t.Fatalf("building the plain app: %v", err)
	}
	page := filepath.Join(dir, "src", "Page.php")
	b, _ := os.ReadFile(page)
	buildtest.Write(t, dir, "src/Page.php", strings.Replace(string(b), "'<h1>'", "'<h1>v2 '", 1))
	buildtest.Commit(t, dir, "v2", "2026-01-03T00:00:00Z")
	res2, err := build.Publish(ctx, dir, build.NewRegistry(repo, nil), build.WithRuntimeRepo(rt),
		build.WithBuildkitHost(testbed.BuildkitHost(t)), build.WithTarget(repo), build.WithSkipExisting())
	if err != nil {
		t.Fatalf("building v2: %v", err)
	}
	app := fmt.Sprintf("ui%d", time.Now().UnixNano()%1e9)
	port := testbed.FreePort(t)
	old, _ := os.ReadFile(filepath.Join(dir, "project.toml"))
	// project writes the test environment with extra lines in its table.
	project := func(extra string) {
		buildtest.Write(t, dir, "project.toml", string(old)+fmt.Sprintf(`
[environments.test]
app = %q
port = %d
image = %q
drain_timeout = "2s"
%s
[environments.test.health]
interval = "200ms"
deadline = "30s"
`, app, port, repo.String(), extra))
	}
	project("")
	t.Cleanup(func() {
		testbed.RemoveLabeled(t, "dev.phpbuild.app="+app)
		testbed.Docker(t).NetworkRemove(context.Background(), "phpbuild-"+app+"-test")
		os.RemoveAll(filepath.Join(release.StateRoot, app))
	})
	env, err := release.LoadEnvironment(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := release.Release(ctx, env, release.Options{Image: res.SHA, Version: res.Version, SHA: res.SHA, Message: "first release, from the ui test"})
	if err != nil {
		t.Fatalf("release: %v", err)
	}

	h, err := ui.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1100, 800))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// text is the visible text of the first element sel matches.
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	screenshot := func() []byte {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		return png
	}

	// do runs steps within a minute: a selector that never shows fails
	// the test instead of hanging it. (The browser starts with the first
	// call, on bctx itself: a deadline there would end the browser.)
	do := func(steps ...chromedp.Action[chromedp.Void]) error {
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		return chromedp.Do(ctx, steps...)
	}

	const section = `section[data-env="test"]`
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(section+` dd.version`))); err != nil {
		t.Fatalf("opening the overview: %v", err)
	}
	if version, sha := text(section+` dd.version`), text(section+` code.sha`); version != res.Version || sha != res.SHA[:12] {
		t.Errorf("the overview shows version %q, commit %q; want %q, %q", version, sha, res.Version, res.SHA[:12])
	}
	// v1 is the app's first commit, which buildtest.GitApp names "first".
	if subject := text(section + ` span.subject`); subject != "first" {
		t.Errorf("the overview shows the commit subject %q, want first (from the image)", subject)
	}
	if started := text(section + ` dl.current time`); started == rec.Started || started == "" {
		t.Errorf("the release time %q is not in the browser's time zone (the log has %q)", started, rec.Started)
	}
	if health := text(section + ` p.health`); !strings.Contains(health, "healthy") {
		t.Errorf("the overview's health line is %q, want healthy", health)
	}
	overview := screenshot()

	row := `tr[data-id="` + rec.ID + `"]`
	if err := do(chromedp.Click(chromedp.CSS(section+` a.history`)), chromedp.WaitVisible(chromedp.CSS(row))); err != nil {
		t.Fatalf("opening the history: %v", err)
	}
	if result, user, message := text(row+` td.result`), text(row+` td.user`), text(`tr.message`); result != "ok" || user != rec.User || message != "first release, from the ui test" {
		t.Errorf("the history row shows result %q, user %q, message %q; want ok, %q and the release's message", result, user, message, rec.User)
	}
	history := screenshot()

	// Deploy v2 from the page: the form, the plan, the live progress.
	served := func() string {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			t.Fatalf("the environment's port: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	// v2 goes out with an env file: the history names what it adds.
	buildtest.Write(t, dir, "deploy/test.env", "GREETING_NAME=page\n")
	project(`env_files = ["deploy/test.env"]`)
	if err := do(
		chromedp.Navigate(srv.URL+"/"),
		chromedp.Click(chromedp.CSS(section+` a.deploy`)),
		chromedp.WaitVisible(chromedp.CSS(`input.image`)),
		chromedp.SendKeys(chromedp.CSS(`input.image`), res2.SHA),
		chromedp.Click(chromedp.CSS(`form.card button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button.confirm`)),
	); err != nil {
		t.Fatalf("planning v2's release: %v", err)
	}
	if img := text(`code.plan-image`); !strings.HasSuffix(img, ":"+res2.SHA) {
		t.Errorf("the plan's image is %q, want the v2 tag", img)
	}
	if err := do(chromedp.SendKeys(chromedp.CSS(`input.message`), "v2 from the page")); err != nil {
		t.Fatal(err)
	}
	clicked := time.Now()
	// The environment's port, polled from the click on: when v2 answers.
	v2served := make(chan time.Duration, 1)
	go func() {
		for time.Since(clicked) < time.Minute {
			if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port)); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), "<h1>v2 ") {
					v2served <- time.Since(clicked)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		v2served <- -1
	}()
	if err := do(
		chromedp.Click(chromedp.CSS(`button.confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#progress`)),
	); err != nil {
		t.Fatalf("confirming v2's release: %v", err)
	}
	progress := screenshot()
	if err := do(chromedp.WaitVisible(chromedp.CSS(`#outcome span.result-ok`))); err != nil {
		t.Fatalf("waiting for v2's release: %v (the page says %q)", err, text(`#outcome`))
	}
	shown := time.Since(clicked)
	if d := <-v2served; d < 0 {
		t.Error("v2 was never served within a minute of the click")
	} else {
		t.Logf("deploy from the page: v2 served %.2f s after the click on Release; the page showed ok after %.2f s", d.Seconds(), shown.Seconds())
	}
	if lines := text(`#progress`); !strings.Contains(lines, "health") || !strings.Contains(lines, "switch") {
		t.Errorf("the live progress shows no steps:\n%s", lines)
	}
	if body := served(); !strings.Contains(body, "<h1>v2 ") {
		t.Errorf("after the page's release, the environment serves %q, want v2", body)
	}

	if err := do(chromedp.Navigate(srv.URL + "/env/test/history")); err != nil {
		t.Fatal(err)
	}
	if changes := text(`ul.envchanges`); changes != "+ GREETING_NAME" {
		t.Errorf("the history names the env changes of v2's release as %q, want + GREETING_NAME", changes)
	}

	// Roll back to v1 from the history.
	if err := do(
		chromedp.Navigate(srv.URL+"/env/test/history"),
		chromedp.Click(chromedp.CSS(row+` a.rollback`)),
		chromedp.WaitVisible(chromedp.CSS(`button.confirm`)),
		chromedp.Click(chromedp.CSS(`button.confirm`)),
		chromedp.WaitVisible(chromedp.CSS(`#outcome span.result-ok`)),
	); err != nil {
		t.Fatalf("rolling back to v1 from the history: %v (the page says %q)", err, text(`#outcome`))
	}
	if body := served(); strings.Contains(body, "<h1>v2 ") || !strings.Contains(body, "<h1>") {
		t.Errorf("after the rollback, the environment serves %q, want v1", body)
	}

	// Two people deploy v2 at once: one release runs, the other sees the
	// lock.
	outcomes := deployTwice(t, srv.URL, res2.SHA)
	sort.Strings(outcomes)
	t.Logf("two deploys at once: %q", outcomes)
	if len(outcomes) != 2 || outcomes[1] != "ok" || !strings.Contains(outcomes[0], "locked by") {
		t.Errorf("two deploys at once ended %q, want one ok and one lock message", outcomes)
	}

	// Forms that do not come from the page act on nothing: a POST without
	// the CSRF token, and, on a page that needs the token, one without
	// authentication.
	before, err := release.History(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(srv.URL+"/env/test/deploy", url.Values{"image": {res2.SHA}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a deploy without the CSRF token: %d, want 403", resp.StatusCode)
	}
	guarded, err := ui.New(dir, ui.WithToken("a-token-of-the-ui-test-0123"))
	if err != nil {
		t.Fatal(err)
	}
	gsrv := httptest.NewServer(guarded)
	defer gsrv.Close()
	resp, err = http.PostForm(gsrv.URL+"/env/test/deploy", url.Values{"image": {res2.SHA}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a deploy without authentication: %d, want 401", resp.StatusCode)
	}
	if after, err := release.History(ctx, env); err != nil || len(after) != len(before) {
		t.Errorf("refused deploys changed the release log: %d lines, then %d (%v)", len(before), len(after), err)
	}

	// A stale lock from another machine: the overview shows it, Unlock…
	// breaks it after a confirmation, and the release log says who did.
	stale := `{"holder":"ghost@elsewhere","host":"elsewhere","pid":4242,"since":"2026-12-01T00:00:00Z","message":"killed mid-release"}`
	if err := os.WriteFile(filepath.Join(release.StateRoot, app, "test", "lock"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(srv.URL + "/"),
		// Once app.js has put its time in the viewer's zone, which moves
		// the link.
		chromedp.WaitVisible(chromedp.CSS(section + ` p.lock time[title]`)),
		chromedp.Click(chromedp.CSS(section + ` a.unlock`)),
		chromedp.WaitVisible(chromedp.CSS(`button.confirm`)),
		chromedp.Click(chromedp.CSS(`button.confirm`)),
		chromedp.WaitVisible(chromedp.CSS(section + ` p.unlocked`)),
		chromedp.Navigate(srv.URL + "/env/test/history"),
		chromedp.WaitVisible(chromedp.CSS(`tr.result-broken`)),
	} {
		if err := do(step); err != nil {
			ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			where, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
			cancel()
			t.Fatalf("breaking a stale lock from the page, step %d: %v; the browser is at %s", i, err, where)
		}
	}
	if msg := text(`tr.result-broken + tr.message`); !strings.Contains(msg, "broke the lock of ghost@elsewhere") || !strings.Contains(msg, "killed mid-release") {
		t.Errorf("the release log's unlock line says %q", msg)
	}

	out := os.Getenv("PHPBUILD_ARTIFACTS")
	if out == "" {
		out = "artifacts"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"ui-overview.png": overview, "ui-history.png": history, "ui-release.png": progress} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}

// deployTwice posts two releases of image to the page's test environment
// at once, as two people would, and returns how each ended (the "done"
// event of its run).
func deployTwice(t *testing.T, base, image string) []string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Get(base + "/env/test/deploy")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the deploy form:\n%s", body)
	}
	form := url.Values{"image": {image}, "csrf": {string(m[1])}}
	var wg sync.WaitGroup
	out := make([]string, 2)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, base+"/env/test/deploy", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", base)
			resp, err := c.Do(req) // follows the redirect to the run's page
			if err != nil {
				out[i] = err.Error()
				return
			}
			resp.Body.Close()
			ev, err := c.Get(resp.Request.URL.String() + "/events")
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer ev.Body.Close()
			all, _ := io.ReadAll(ev.Body)
			_, done, _ := strings.Cut(string(all), "event: done\ndata: ")
			out[i] = strings.TrimSpace(done)
		}()
	}
	wg.Wait()
	return out
}
