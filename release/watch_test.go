package release_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
)

// TestWatchRollsBack: with [watch], a release whose pages answer 500 half
// the time under load is rolled back by itself (image and env), the old
// version serves again, and no request fails at the connection level; a
// release that stays under the limit records the rate it had.
func TestWatchRollsBack(t *testing.T) {
	f := newFixtureWith(t, func(page string) string {
		// v2 is broken on every other request, as a bad deploy is.
		return strings.Replace(page, "        $name = getenv", "        if (random_int(0, 1) === 1) {\n            http_response_code(500);\n            return 'Internal error';\n        }\n        $name = getenv", 1)
	})
	f.writeProject(t, "[environments.test.watch]\nduration = \"8s\"\nmax_error_rate = 0.1\nmin_requests = 50\n")
	if _, err := f.release(t, f.v1); err != nil {
		t.Fatalf("releasing v1: %v", err)
	}
	l := loadgen.Start(f.base+"/", 100, version)
	time.Sleep(500 * time.Millisecond)
	// v1 again, now under load: its watch sees every request answered.
	good, err := f.release(t, f.v1)
	if err != nil {
		l.Finish()
		t.Fatalf("releasing v1 again: %v", err)
	}
	if good.Watch == nil || good.Watch.Requests < 50 || good.Watch.Errors != 0 || good.Result != "ok" {
		l.Finish()
		t.Fatalf("v1's watch: %+v (%s), want 50+ requests, none failed", good.Watch, good.Result)
	}
	t.Logf("v1 watched: %s", good.Watch)
	okBefore := l.OK.Load()

	bad, err := f.release(t, f.v2)
	var we *release.WatchError
	if !errors.As(err, &we) || we.RolledBack == "" || we.Previous != good.ID {
		l.Finish()
		t.Fatalf("releasing the broken v2: %v, want it rolled back to %s", err, good.ID)
	}
	t.Logf("the broken release: %v (%s)", err, bad.Duration)
	if bad.Result != "rolled-back" || bad.Watch == nil || !bad.Watch.Exceeded || bad.Watch.Rate <= 0.1 {
		t.Errorf("the broken release's record: %s %+v", bad.Result, bad.Watch)
	}
	for i := 0; i < 20; i++ {
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			l.Finish()
			t.Fatalf("after the automatic rollback the proxy answers %q, want v1", body)
		}
	}
	time.Sleep(time.Second)
	l.Finish()
	t.Logf("load: %d ok, %d failed, %d connection errors; seen %v", l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
	if l.ConnErrs.Load() != 0 {
		t.Errorf("%d requests failed at the connection level: %q", l.ConnErrs.Load(), l.Errors())
	}
	if l.OK.Load() <= okBefore || l.Failed.Load() == 0 {
		t.Errorf("the load: %d ok, %d failed; want the broken release's 500s and v1 serving after", l.OK.Load(), l.Failed.Load())
	}
	hist, err := release.History(context.Background(), f.env(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := kindsOf(hist); got != "release:ok release:ok release:rolled-back rollback:ok" {
		t.Errorf("the release log: %s", got)
	}
	if last := hist[len(hist)-1]; last.Digest != good.Digest || last.Env != good.Env || !strings.Contains(last.Message, "automatic rollback of "+bad.ID) {
		t.Errorf("the rollback: %+v, want v1's image and env, its message naming %s", last, bad.ID)
	}
}
