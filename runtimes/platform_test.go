package runtimes

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPlatformConfig: composer on the CLI image is told every extension
// and library of the composer image, and the CLI image's others are
// hidden; PHP and composer's own packages stay real.
func TestPlatformConfig(t *testing.T) {
	composer, err := parsePlatform([]byte(`{"platform": [
		{"name": "composer", "version": "2.8.8"},
		{"name": "php", "version": "8.4.28"},
		{"name": "ext-intl", "version": "8.4.28"},
		{"name": "ext-phalcon", "version": "5.18.1"},
		{"name": "lib-icu", "version": "76.1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := parsePlatform([]byte(`{"platform": [
		{"name": "composer", "version": "2.8.8"},
		{"name": "php", "version": "8.4.28"},
		{"name": "ext-ffi", "version": "8.4.28"},
		{"name": "lib-curl", "version": "8.14.1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	platform, hidden := platformConfig(composer, cli)
	want := map[string]string{"ext-intl": "8.4.28", "ext-phalcon": "5.18.1", "lib-icu": "76.1"}
	if diff := cmp.Diff(want, platform); diff != "" {
		t.Errorf("platform (-want +got):\n%s", diff)
	}
	if !slices.Equal(hidden, []string{"ext-ffi", "lib-curl"}) {
		t.Errorf("hidden = %q", hidden)
	}
	for _, bad := range []string{`not json`, `{"platform": []}`} {
		if _, err := parsePlatform([]byte(bad)); err == nil {
			t.Errorf("parsePlatform(%q): no error", bad)
		}
	}
}
