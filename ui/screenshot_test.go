package ui

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/phpbuild/phpbuild/testbed"
)

// TestScreenshots renders the overview and a history of the fake
// environments in headless Chromium, at a desktop's and a phone's width,
// into ui/artifacts/ (or $PHPBUILD_ARTIFACTS): the README's picture shows
// no machine's names. It checks that the phone's page needs no sideways
// scrolling.
func TestScreenshots(t *testing.T) {
	chrome := testbed.Chromium(t)
	srv := newTestServer(t)
	out := os.Getenv("PHPBUILD_ARTIFACTS")
	if out == "" {
		out = "artifacts"
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1100, 760}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
				chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(size.width, size.height))...)
			defer acancel()
			bctx, bcancel := chromedp.NewContext(actx)
			defer bcancel()
			for _, page := range []struct{ name, path, ready string }{
				{"overview", "/", `section[data-env="staging"] dl.current time[title]`},
				{"history", "/env/staging/history", `tr[data-id="r3"] time[title]`},
			} {
				if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+page.path), chromedp.WaitVisible(chromedp.CSS(page.ready))); err != nil {
					t.Fatalf("%s: %v", page.path, err)
				}
				ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err == nil && size.name == "phone" && page.name == "overview" {
					var wide bool
					wide, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
					if wide {
						t.Errorf("the overview is wider than a %d px phone", size.width)
					}
				}
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(out, "ui-"+page.name+"-"+size.name+".png")
				if err := os.WriteFile(p, png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
