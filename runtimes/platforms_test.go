package runtimes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/phpbuild/phpbuild/badinput"
)

func TestOtherPlatforms(t *testing.T) {
	got, err := otherPlatforms([]string{NativePlatform(), "linux/arm64", "linux/arm64/v8", " linux/amd64 ", "linux/aarch64"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, platformString(p))
	}
	if want := "linux/arm64"; NativePlatform() == "linux/amd64" && strings.Join(names, " ") != want {
		t.Errorf("other platforms %v, want %s alone: the native one dropped, aliases and variants folded", names, want)
	}
	for _, bad := range []string{"windows/amd64", "linux/s390x", "not a platform/"} {
		if _, err := otherPlatforms([]string{bad}); err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "--platform") {
			t.Errorf("%q: %v, want bad input naming --platform", bad, err)
		}
	}
}

func TestLauncherFor(t *testing.T) {
	dir := t.TempDir()
	native := filepath.Join(dir, "launcher")
	arm := otherPlatformsMust(t, "linux/arm64")
	if _, err := launcherFor(native, arm); err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "launcher-linux-arm64") || !strings.Contains(err.Error(), "make build") {
		t.Errorf("a missing arm64 launcher: %v, want bad input naming launcher-linux-arm64 and make build", err)
	}
	if err := os.WriteFile(native+"-linux-arm64", []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := launcherFor(native, arm); err != nil || got != native+"-linux-arm64" {
		t.Errorf("launcherFor = %q, %v", got, err)
	}
}

func otherPlatformsMust(t *testing.T, s string) ocispecs.Platform {
	t.Helper()
	ps, err := otherPlatforms([]string{s})
	if err != nil || len(ps) != 1 {
		t.Fatalf("%s: %v %v", s, ps, err)
	}
	return ps[0]
}
