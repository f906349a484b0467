package testbed

import (
	"errors"
	"os/exec"
	"testing"
)

// Chromium is the path of the test bed's headless browser (Debian's
// chromium, which `make testbed` installs).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "chromium", "PATH", errors.New("no chromium executable"))
	return ""
}
