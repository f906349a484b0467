package build_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/internal/voltequiv"
	"github.com/phpbuild/phpbuild/testbed"
)

// Flags for TestVoltEquivalence, to check any app's image (README: Volt,
// precompiled as the app compiles it).
var (
	voltImage = flag.String("volt.image", "", "a phpbuild image to check: its precompiled Volt templates against Phalcon's run-time compile")
	voltPaths = flag.String("volt.paths", "/", "comma-separated paths to start crawling the app's linked pages from")
	voltEnv   = flag.String("volt.env", "", "comma-separated KEY=VALUE for the container (database, secrets)")
)

func TestVoltEquivalence(t *testing.T) {
	if *voltImage == "" {
		t.Skip("SKIPPED: pass -args -volt.image REF [-volt.paths /,/about] [-volt.env K=V,…] to check an app's image")
	}
	testbed.DockerHost(t)
	voltequiv.Check(t, voltequiv.Options{Image: *voltImage, Env: splitList(*voltEnv), Visit: func(t testing.TB, base string) {
		visited := voltequiv.Crawl(t, nil, base, splitList(*voltPaths), 500)
		t.Logf("visited %d pages: %s", len(visited), strings.Join(visited, " "))
	}})
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
