package release_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/swarm"

	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

// brokenPage is what a Phalcon app whose Volt cache cannot be written
// answers on every page, with status 200; its health route still passes.
const brokenPage = `<br />\n<b>Fatal error</b>:  Uncaught Phalcon\\Mvc\\View\\Exception: Volt directory can't be written`

const smokeChecks = `
[[environments.test.health.smoke]]
path = "/"
contains = "Hello, one!"
not_contains = ["Fatal error", "Volt directory can't be written"]

[[environments.test.health.smoke]]
path = "/products"
host = "shop.example.com"
`

// TestSmokeChecksGateTheRelease: v2 answers every page with 200 and an
// error text. With smoke checks, releasing it fails and v1 keeps serving,
// on a Docker host and on a Swarm; v1 passes the same checks.
func TestSmokeChecksGateTheRelease(t *testing.T) {
	f := newFixtureWith(t, func(page string) string {
		return strings.Replace(page, "return '<h1>'", "return \""+brokenPage+"\" . '<h1>v2 '", 1)
	})
	versionOf := func(body string) string {
		if strings.Contains(body, "Fatal error") {
			return "broken v2"
		}
		return version(body)
	}
	gate := func(t *testing.T, f *fixture, target string) {
		f.writeProject(t, target)
		appendFile(t, filepath.Join(f.dir, "project.toml"), smokeChecks)
		first, err := f.release(t, f.v1)
		if err != nil {
			t.Fatalf("releasing v1, which passes the smoke checks: %v", err)
		}
		if first.Steps["smoke"] == "" {
			t.Errorf("the release of v1 timed no smoke step: %v", first.Steps)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Fatalf("after releasing v1 the proxy answers %q", body)
		}

		l := loadgen.Start(f.base+"/", 40, versionOf)
		_, err = f.release(t, f.v2)
		time.Sleep(200 * time.Millisecond)
		l.Finish()
		var se *release.SmokeError
		if !errors.As(err, &se) {
			t.Fatalf("releasing the broken v2: %v, want a *release.SmokeError", err)
		}
		t.Logf("the error:\n%v", err)
		const want = `smoke check GET /: body contains "Fatal error"`
		if first, _, _ := strings.Cut(err.Error(), "\n"); first != want {
			t.Errorf("the error's first line is %q, want %q", first, want)
		}
		if !strings.Contains(se.Body, "Uncaught Phalcon") {
			t.Errorf("the error shows the body %q, want the text around the error", se.Body)
		}
		if _, body, _ := get(f.base + "/"); version(body) != "v1" {
			t.Errorf("after the failed release the proxy answers %q, want v1", body)
		}
		checkLoad(t, l)
		if len(l.Seen()) != 1 || l.Seen()["v1"] == 0 {
			t.Errorf("during the failed release the load saw %v, want v1 only", l.Seen())
		}
		hist, err := release.History(context.Background(), f.env(t))
		if err != nil {
			t.Fatal(err)
		}
		if last := hist[len(hist)-1]; last.Result != "health-failed" || last.Error != want {
			t.Errorf("the log's last record is %s, want health-failed with %q", jsonOf(last), want)
		}
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil || st.Current == nil || st.Current.ID != first.ID {
			t.Errorf("status %s %v, want v1's release %s current", jsonOf(st), err, first.ID)
		}
		if got := containers(t, f.app); strings.Contains(got, "smoke") || (target == "" && strings.Count(got, ",") != 1) {
			t.Errorf("containers left: %s; want the proxy and v1's app container", got)
		}
	}

	t.Run("docker", func(t *testing.T) { gate(t, f, "") })

	t.Run("swarm", func(t *testing.T) {
		cli := testbed.Docker(t)
		ensureSwarm(t, cli)
		// The same images, as another app: the docker target's network is
		// a bridge, a swarm's an overlay.
		g := *f
		g.app, g.port = f.app+"s", testbed.FreePort(t)
		g.base = fmt.Sprintf("http://127.0.0.1:%d", g.port)
		t.Cleanup(func() { g.cleanup(t) })
		t.Cleanup(func() { g.cleanupSwarm(t) })
		gate(t, &g, swarmTarget)
		s, _, err := cli.ServiceInspectWithRaw(context.Background(), g.service(), swarm.ServiceInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.UpdateStatus != nil || s.PreviousSpec != nil || !strings.Contains(s.Spec.TaskTemplate.ContainerSpec.Image, "@sha256:") {
			t.Errorf("the service changed after the failed release: update %s, previous spec %v", jsonOf(s.UpdateStatus), s.PreviousSpec != nil)
		}
	})
}

func appendFile(t *testing.T, p, text string) {
	t.Helper()
	fh, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(text); err != nil {
		t.Fatal(err)
	}
}
