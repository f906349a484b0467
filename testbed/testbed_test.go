package testbed_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/testbed"
)

func TestRegistryRoundTrip(t *testing.T) {
	reg := testbed.Registry(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	// A tag of its own per run, so that concurrent runs never read each other's image.
	ref, err := name.ParseReference(fmt.Sprintf("%s/testbed/random:t%d", reg, time.Now().UnixNano()), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Keeps the registry from filling up with a manifest per run.
		if err := remote.Delete(ref.Context().Digest(want.String())); err != nil {
			t.Logf("deleting %s: %v", ref, err)
		}
	})

	pulled, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	got, err := pulled.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("pulled digest %s, pushed %s", got, want)
	}
	layers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Errorf("pulled %d layers, pushed 2", len(layers))
	}
}

// The base images must resolve under their Docker Hub names, through buildkitd's mirror.
func TestBuildkitRunsDebian(t *testing.T) {
	testbed.BuildkitHost(t)
	for _, tc := range []struct {
		image, version string
	}{
		{"docker.io/library/debian:bookworm-slim", "12"},
		{"docker.io/library/debian:trixie-slim", "13"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			got := debianVersionFromBuildkit(t, tc.image)
			t.Logf("/etc/debian_version: %s", got)
			if !strings.HasPrefix(got, tc.version+".") && got != tc.version {
				t.Errorf("/etc/debian_version in %s is %q, want %s.x", tc.image, got, tc.version)
			}
		})
	}
}

func debianVersionFromBuildkit(t *testing.T, ref string) string {
	t.Helper()
	out, code := testbed.BuildkitRun(t, ref, "cat /etc/debian_version")
	if code != 0 {
		t.Fatalf("cat /etc/debian_version in %s: exit %d", ref, code)
	}
	return strings.TrimSpace(out)
}

func TestDockerRunsImageFromRegistry(t *testing.T) {
	ref := testbed.Registry(t) + "/library/debian:bookworm-slim"
	stdout, stderr, code := testbed.DockerRun(t, ref, nil, "cat", "/etc/debian_version")
	if code != 0 {
		t.Errorf("container exited with %d", code)
	}
	got := strings.TrimSpace(stdout)
	t.Logf("/etc/debian_version: %s", got)
	if !strings.HasPrefix(got, "12.") {
		t.Errorf("/etc/debian_version in %s is %q (stderr %q), want 12.x", ref, got, stderr)
	}
}

// TestMariaDBFromContainers: the database answers on this machine and at the
// address app containers are given, from a container on the default bridge.
func TestMariaDBFromContainers(t *testing.T) {
	db := testbed.MariaDB(t)
	db.Query(t, "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (42)")
	if got := db.Query(t, "SELECT id FROM t"); got != "42" {
		t.Fatalf("SELECT = %q, want 42", got)
	}
	reg := testbed.Registry(t)
	out, errOut, code := testbed.DockerRun(t, reg+"/library/debian:bookworm-slim", []string{"bash", "-c"},
		fmt.Sprintf("exec 3<>/dev/tcp/%s/%s && head -c 64 <&3 | tr -dc '[:print:]'", db.Host, db.Port))
	// A MariaDB server speaks first: its handshake names its version.
	if code != 0 || !strings.Contains(out, "MariaDB") {
		t.Errorf("connecting from a container to %s:%s: exit %d, %q %q", db.Host, db.Port, code, out, errOut)
	}
}
