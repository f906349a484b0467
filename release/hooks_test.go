package release

import (
	"context"
	"strings"
	"testing"
)

// TestBackupDirFailure: a state dir the backup cannot be made in says how
// the command failed, instead of "making the backup dir: <nil>".
func TestBackupDirFailure(t *testing.T) {
	f := &fakeDocker{shell: &localShell{stateDir: t.TempDir(),
		prelude: `chown() { echo "chown: $2: Read-only file system" >&2; return 1; }`}}
	h := newHost(f, testEnv("docker"))
	defer h.Close()
	err := h.hook(context.Background(), &Record{ID: "1", Digest: "r@sha256:a"}, "backup", "pg_dump > /backup/db.sql", "/snap.env")
	want := "making the backup dir: making backups/1 on the docker host: exit code 1: chown: /state/backups/1: Read-only file system"
	if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), f.shell.stateDir, "/state"), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if len(f.calls) != 1 || f.calls[0] != "exec phpbuild-shop-prod-proxy sh" {
		t.Errorf("calls %q: want only the proxy's shell, no hook container", f.calls)
	}
}
