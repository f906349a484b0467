package ui_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
	app := fmt.Sprintf("ui%d", time.Now().UnixNano()%1e9)
	old, _ := os.ReadFile(filepath.Join(dir, "project.toml"))
	buildtest.Write(t, dir, "project.toml", string(old)+fmt.Sprintf(`
[environments.test]
app = %q
port = %d
image = %q
drain_timeout = "2s"

[environments.test.health]
interval = "200ms"
deadline = "30s"
`, app, testbed.FreePort(t), repo.String()))
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
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
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

	const section = `section[data-env="test"]`
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(section+` dd.version`))); err != nil {
		t.Fatalf("opening the overview: %v", err)
	}
	if version, sha := text(section+` dd.version`), text(section+` dd.sha`); version != res.Version || sha != res.SHA[:12] {
		t.Errorf("the overview shows version %q, commit %q; want %q, %q", version, sha, res.Version, res.SHA[:12])
	}
	if started := text(section + ` dl.current time`); started == rec.Started || started == "" {
		t.Errorf("the release time %q is not in the browser's time zone (the log has %q)", started, rec.Started)
	}
	if health := text(section + ` p.health`); !strings.Contains(health, "healthy") {
		t.Errorf("the overview's health line is %q, want healthy", health)
	}
	overview := screenshot()

	row := `tr[data-id="` + rec.ID + `"]`
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(section+` a.history`)), chromedp.WaitVisible(chromedp.CSS(row))); err != nil {
		t.Fatalf("opening the history: %v", err)
	}
	if result, user, message := text(row+` td.result`), text(row+` td.user`), text(`tr.message`); result != "ok" || user != rec.User || message != "first release, from the ui test" {
		t.Errorf("the history row shows result %q, user %q, message %q; want ok, %q and the release's message", result, user, message, rec.User)
	}
	history := screenshot()

	out := os.Getenv("PHPBUILD_ARTIFACTS")
	if out == "" {
		out = "artifacts"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, png := range map[string][]byte{"ui-overview.png": overview, "ui-history.png": history} {
		p := filepath.Join(out, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
}
