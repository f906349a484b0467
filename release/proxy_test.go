package release

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProxyConf pins the front proxy's configs, byte for byte: both
// targets' as they wrote them before they shared one template, and each in
// maintenance mode.
func TestProxyConf(t *testing.T) {
	m := &Maintenance{Page: "0123456789ab.html", Since: "2026-01-01T00:00:00Z", User: "ops@laptop"}
	for _, tc := range []struct {
		name, golden string
		got          []byte
	}{
		{"no release yet", "testdata/proxy/none.conf", proxyConf("")},
		{"docker target", "testdata/proxy/docker.conf", proxyConf("shop-prod-20260101-000000-abcd")},
		{"swarm target", "testdata/proxy/swarm.conf", renderProxy(proxyView{Upstream: "shop-prod", Swarm: true})},
		{"docker target in maintenance", "testdata/proxy/docker-maintenance.conf", renderProxy(proxyView{Upstream: "shop-prod-20260101-000000-abcd",
			Maintenance: m, HealthPath: "/health", RetryAfter: retryAfter})},
		{"swarm target in maintenance", "testdata/proxy/swarm-maintenance.conf", renderProxy(proxyView{Upstream: "shop-prod", Swarm: true,
			Maintenance: m, HealthPath: "/up", RetryAfter: retryAfter})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if os.Getenv("PHPBUILD_UPDATE_GOLDEN") != "" {
				os.WriteFile(tc.golden, tc.got, 0o644)
			}
			want, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(tc.got)); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
