package release_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
)

// TestMaintenance: under load, maintenance on answers every page with 503,
// Retry-After and the environment's page, but the health route; a release
// runs meanwhile and the environment stays in maintenance until off, which
// serves the new release; no request fails at the connection level.
func TestMaintenance(t *testing.T) {
	f := newFixture(t)
	buildtest.Write(t, f.dir, "deploy/maintenance.html", "<!doctype html><h1>Back soon</h1>\n")
	f.writeProject(t, `maintenance_page = "deploy/maintenance.html"`+"\n")
	if _, err := f.release(t, f.v1); err != nil {
		t.Fatalf("releasing v1: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	kind := func(body string) string {
		if strings.Contains(body, "Back soon") {
			return "maintenance"
		}
		return version(body)
	}
	l := loadgen.Start(f.base+"/", 100, kind)
	time.Sleep(time.Second)

	on, err := release.SetMaintenance(ctx, f.env(t), true, release.Options{Message: "migrating orders"})
	if err != nil {
		l.Finish()
		t.Fatalf("maintenance on: %v", err)
	}
	resp, body := getResp(t, f.base+"/products?page=2")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Back soon") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("in maintenance: %d, Retry-After %q, Content-Type %q, %q; want 503, Retry-After, the page", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body)
	}
	if code, _, err := get(f.base + "/health"); err != nil || code != 200 {
		t.Errorf("the health route in maintenance: %d %v, want 200 from the app", code, err)
	}
	st, err := release.GetStatus(ctx, f.env(t))
	if err != nil || st.Maintenance == nil || st.Maintenance.Message != "migrating orders" {
		t.Errorf("status in maintenance: %+v %v", st, err)
	}

	// A release (a breaking migration's) while in maintenance.
	if _, err := f.release(t, f.v2); err != nil {
		l.Finish()
		t.Fatalf("releasing v2 in maintenance: %v", err)
	}
	if resp, body := getResp(t, f.base+"/"); resp.StatusCode != 503 || !strings.Contains(body, "Back soon") {
		t.Errorf("after a release in maintenance: %d %q, want the maintenance page still", resp.StatusCode, body)
	}
	off, err := release.SetMaintenance(ctx, f.env(t), false, release.Options{})
	if err != nil {
		l.Finish()
		t.Fatalf("maintenance off: %v", err)
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v2" {
		t.Errorf("after maintenance off: %q, want v2", body)
	}
	time.Sleep(time.Second)
	l.Finish()
	t.Logf("maintenance on in %s, off in %s; load: %d ok, %d non-200, %d connection errors; seen %v", on.Duration, off.Duration, l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
	if l.ConnErrs.Load() != 0 {
		t.Errorf("%d requests failed at the connection level: %q", l.ConnErrs.Load(), l.Errors())
	}
	if l.Seen()["v1"] == 0 || l.Seen()["v2"] == 0 || l.Failed.Load() == 0 {
		t.Errorf("the load saw %v and %d non-200 answers; want v1, the maintenance page, then v2", l.Seen(), l.Failed.Load())
	}
	hist, err := release.History(ctx, f.env(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := kindsOf(hist); got != "release:ok maintenance:on release:ok maintenance:off" {
		t.Errorf("the release log: %s", got)
	}
	// A rollback goes to the release before, never to a maintenance line.
	back, err := release.Rollback(ctx, f.env(t), "", release.Options{Getenv: f.getenv})
	if err != nil || back.Digest != hist[0].Digest {
		t.Errorf("rollback: %v, to %+v; want v1's %s", err, back, hist[0].Digest)
	}
}

func getResp(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// kindsOf is the release log as KIND:RESULT words.
func kindsOf(hist []release.Record) string {
	var kinds []string
	for _, r := range hist {
		kinds = append(kinds, r.Kind+":"+r.Result)
	}
	return strings.Join(kinds, " ")
}
