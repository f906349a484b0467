package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProxyState drives the state store through its shell, a real sh on
// this machine standing for the proxy's: files round-trip whatever their
// bytes, create is exclusive, a missing file is errNoState, and a shell
// that ended (the proxy restarted) is replaced.
func TestProxyState(t *testing.T) {
	dir := t.TempDir()
	f := &fakeDocker{shell: &localShell{stateDir: dir, prelude: "chown() { :; }"}}
	h := newHost(f, testEnv("docker"))
	defer h.Close()
	st, ctx := h.state, context.Background()

	all := make([]byte, 0, 300)
	for i := range 256 {
		all = append(all, byte(i))
	}
	all = append(all, []byte("\n'quoted' \"and\" $HOME `x` __PHPBUILD_EOF__\n")...)
	if err := st.write(ctx, "snapshots/a b.env", all, 0o600, 1000); err != nil {
		t.Fatal(err)
	}
	if got, err := st.read(ctx, "snapshots/a b.env"); err != nil || !bytes.Equal(got, all) {
		t.Fatalf("read back %q, %v; want the %d bytes written", got, err, len(all))
	}
	if fi, err := os.Stat(filepath.Join(dir, "snapshots", "a b.env")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the snapshot's mode: %v, %v; want 0600", fi, err)
	}
	if _, err := st.read(ctx, "nothing"); !errors.Is(err, errNoState) {
		t.Errorf("reading a missing file: %v, want errNoState", err)
	}
	if err := st.write(ctx, "empty", nil, 0o644, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := st.read(ctx, "empty"); err != nil || len(got) != 0 {
		t.Errorf("an empty file read back as %q, %v", got, err)
	}

	for i, want := range []bool{true, false} {
		took, err := st.create(ctx, "lock", []byte("holder "+string(rune('1'+i))))
		if err != nil || took != want {
			t.Errorf("create #%d: %v, %v; want %v", i+1, took, err, want)
		}
	}
	if got, _ := st.read(ctx, "lock"); string(got) != "holder 1" {
		t.Errorf("the lock holds %q, want the first holder's", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "lock.*")); len(left) > 0 {
		t.Errorf("create left %v behind", left)
	}

	// The proxy restarted: its shell is gone; the next command opens
	// another.
	f.shell.procs[0].Process.Kill()
	for _, line := range []string{"one\n", "two\n"} {
		if err := st.append(ctx, "releases.jsonl", []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := st.read(ctx, "releases.jsonl"); string(got) != "one\ntwo\n" {
		t.Errorf("the log holds %q after two appends", got)
	}
	if len(f.shell.procs) != 2 {
		t.Errorf("%d shells started, want a second after the first ended", len(f.shell.procs))
	}

	if err := st.remove(ctx, "lock"); err != nil {
		t.Fatal(err)
	}
	if err := st.remove(ctx, "lock"); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if err := st.mkdir(ctx, "backups/7", 1000); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "backups", "7")); err != nil || !fi.IsDir() {
		t.Errorf("mkdir made %v, %v", fi, err)
	}
	out, code, err := st.sh(ctx, "set -e\necho to stdout; echo to stderr >&2\nfalse\necho never")
	if err != nil || code != 1 || out != "to stdout\nto stderr\n" {
		t.Errorf("sh: %q, exit %d, %v; want both streams and set -e's exit 1", out, code, err)
	}
	if out, code, err := st.sh(ctx, "exit 4"); err != nil || code != 4 || out != "" {
		t.Errorf("an exiting script: %q, %d, %v; the shell must outlive it", out, code, err)
	}
	if out, _, _ := st.sh(ctx, "echo still here"); out != "still here\n" {
		t.Errorf("after exit 4: %q", out)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := st.sh(cctx, "sleep 5"); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled context: %v", err)
	}
	if out, _, err := st.sh(ctx, "echo again"); err != nil || !strings.Contains(out, "again") {
		t.Errorf("after a canceled command: %q, %v", out, err)
	}
}
