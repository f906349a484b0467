package release_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

// TestReleaseReadOnly: a released container cannot change its code, its
// vendor dir or its config; it writes where the app writes (var/, /tmp,
// the run dir), on a tmpfs that starts empty at each release, and a volume
// mapped on var/cache, under that tmpfs, keeps its data across a release
// and a rollback.
func TestReleaseReadOnly(t *testing.T) {
	f := newFixture(t)
	uploads := f.app + "-cache"
	f.writeProject(t, "[environments.test.volumes]\n"+uploads+" = \"/app/var/cache\"\n")
	t.Cleanup(func() { testbed.Docker(t).VolumeRemove(context.Background(), uploads, true) })
	if _, err := f.release(t, f.v1); err != nil {
		t.Fatalf("releasing v1: %v", err)
	}
	cli := testbed.Docker(t)
	serving := func() string {
		t.Helper()
		st, err := release.GetStatus(context.Background(), f.env(t))
		if err != nil || st.Serving == "" {
			t.Fatalf("status: %+v %v", st, err)
		}
		return st.Serving
	}
	// sh runs a script in the serving container as the app user.
	sh := func(script string) string {
		t.Helper()
		return strings.TrimSpace(execIn(t, cli, serving(), "sh", "-c", script))
	}
	// mounts lists the root filesystem and the app's writable dirs: path,
	// ro or rw, and tmpfs, overlay (the image) or disk (a volume).
	mounts := `awk '$2 == "/" || $2 ~ "^/app/var" || $2 == "/tmp" || $2 == "/run/phpbuild" { split($4, o, ","); t = $3; if (t != "tmpfs" && t != "overlay") t = "disk"; print $2, o[1], t }' /proc/mounts | sort`
	probe := `for d in /app/src /app/vendor /app/public /app /etc/phpbuild /app/var /app/var/cache /tmp /run/phpbuild; do
	  if touch "$d/probe" 2>/dev/null; then echo "$d rw"; else echo "$d ro"; fi; done`
	want := "/app/src ro\n/app/vendor ro\n/app/public ro\n/app ro\n/etc/phpbuild ro\n/app/var rw\n/app/var/cache rw\n/tmp rw\n/run/phpbuild rw"
	if got := sh(probe); got != want {
		t.Errorf("what the released container may write:\n%s\nwant\n%s", got, want)
	}
	// Not the files' modes alone: the root filesystem itself is read-only.
	if got := sh(mounts); got != "/ ro overlay\n/app/var rw tmpfs\n/app/var/cache rw disk\n/run/phpbuild rw tmpfs\n/tmp rw tmpfs" {
		t.Errorf("the released container's mounts:\n%s", got)
	}
	if got := sh("stat -c '%u:%g %a' /app/var /app/var/cache"); got != "1000:1000 755\n1000:1000 755" {
		t.Errorf("the tmpfs on var/ and the volume on var/cache: %q, want the app user's, 0755", got)
	}
	if code, body, err := get(f.base + "/write"); err != nil || code != 200 || strings.TrimSpace(body) != "cache writable, code read-only" {
		t.Errorf("GET /write: %d %q %v", code, body, err)
	}
	sh("echo kept > /app/var/cache/marker && echo gone > /app/var/marker")

	if _, err := f.release(t, f.v2); err != nil {
		t.Fatalf("releasing v2: %v", err)
	}
	if got := sh("cat /app/var/cache/marker; ls -A /app/var"); got != "kept\ncache" {
		t.Errorf("after a release, the volume's marker and the tmpfs hold %q; want the marker kept and the tmpfs empty but for the volume", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := release.Rollback(ctx, f.env(t), "", release.Options{Getenv: f.getenv}); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := sh("cat /app/var/cache/marker; ls -A /app/var"); got != "kept\ncache" {
		t.Errorf("after a rollback: %q, want the volume's marker kept and the tmpfs empty", got)
	}
	if _, body, _ := get(f.base + "/"); version(body) != "v1" {
		t.Errorf("after the rollback the proxy answers %q", body)
	}

	t.Run("plan shows the writable dirs", func(t *testing.T) {
		p, err := release.PlanRelease(ctx, f.env(t), release.Options{Image: f.v2, Getenv: f.getenv})
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(p.Filesystem, "\n")
		for _, w := range []string{"read-only root filesystem", "/app/var: tmpfs", "/tmp: tmpfs", "/run/phpbuild: tmpfs", "/app/var/cache: volume " + uploads} {
			if !strings.Contains(got, w) {
				t.Errorf("plan's filesystem:\n%s\nwant a line with %q", got, w)
			}
		}
	})

	t.Run("read_only = false runs the image writable", func(t *testing.T) {
		f.writeProject(t, "read_only = false\n")
		if _, err := f.release(t, f.v2); err != nil {
			t.Fatalf("releasing v2 writable: %v", err)
		}
		if got := sh(mounts); !strings.HasPrefix(got, "/ rw overlay\n") || strings.Contains(got, "tmpfs") {
			t.Errorf("with read_only = false the mounts are\n%s\nwant the root filesystem writable and no tmpfs", got)
		}
	})

}
