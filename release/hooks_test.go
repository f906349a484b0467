package release

import (
	"context"
	"strings"
	"testing"
)

// TestBackupDirFailure: a state dir the backup cannot be made in says how
// the command failed, instead of "making the backup dir: <nil>".
func TestBackupDirFailure(t *testing.T) {
	f := &fakeDocker{}
	h := newHost(f, testEnv("docker"))
	f.exec = func(ctr string, cmd []string) (string, int) {
		if ctr != "phpbuild-shop-prod-proxy" {
			t.Errorf("exec in %s, want the proxy", ctr)
		}
		return "chown: /state/backups/1: Read-only file system\n", 1
	}
	err := h.hook(context.Background(), &Record{ID: "1", Digest: "r@sha256:a"}, "backup", "pg_dump > /backup/db.sql", "/snap.env")
	want := "making the backup dir: exit code 1: chown: /state/backups/1: Read-only file system"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if len(f.calls) != 1 || !strings.Contains(f.calls[0], "mkdir -p /state/backups/1 && chown 1000:1000 /state/backups/1") {
		t.Errorf("calls %q: want only the mkdir, no hook container", f.calls)
	}
}
