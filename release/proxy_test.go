package release

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProxyConf pins the front proxy's configs, byte for byte, as both
// targets wrote them before they shared one template.
func TestProxyConf(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		got          []byte
	}{
		{"no release yet", "testdata/proxy/none.conf", proxyConf("")},
		{"docker target", "testdata/proxy/docker.conf", proxyConf("shop-prod-20260101-000000-abcd")},
		{"swarm target", "testdata/proxy/swarm.conf", swarmProxyConf("shop-prod")},
	} {
		t.Run(tc.name, func(t *testing.T) {
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
