package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

// withCurrent leaves the state dir as a release with id does: the log,
// current, and the snapshot.
func withCurrent(st *memState, id string) *Record {
	rec := &Record{ID: id, Kind: "release", Digest: "registry.example.com/shop@sha256:1234", Env: "sha256:e1", Result: "ok"}
	b, _ := json.Marshal(rec)
	st.files[logFile] = append(b, '\n')
	st.files["current"] = []byte(id + "\n")
	st.files[snapshotFile(rec.Env)] = []byte("A=1\n")
	return rec
}

// frames is output as docker multiplexes it without a TTY.
func frames(stdout, stderr string) io.Reader {
	var b bytes.Buffer
	stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(stdout))
	stdcopy.NewStdWriter(&b, stdcopy.Stderr).Write([]byte(stderr))
	return &b
}

// TestRunOneOff: a one-off command gets the current release's image and
// snapshot, the volumes and the network, runs through `launcher exec`
// with stdin streamed to its EOF, and its exit code comes back; nothing
// in the state dir changes.
func TestRunOneOff(t *testing.T) {
	for _, tc := range []struct {
		name      string
		image     string
		wantImage string
	}{
		{name: "current image", wantImage: "registry.example.com/shop@sha256:1234"},
		{name: "another image", image: "registry.example.com/shop:v3", wantImage: "registry.example.com/shop:v3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, f, st := fakeHost(t, testEnv("docker"))
			withCurrent(st, "20260101-000000-abcd")
			before := maps.Clone(st.files)
			f.exitCode = 3
			f.attach = func(_ string, stdin io.Reader) io.Reader {
				in, _ := io.ReadAll(stdin) // to EOF: the client closed it
				return frames("got "+string(in), "a warning\n")
			}
			var stdout, stderr bytes.Buffer
			code, err := h.runOneOff(context.Background(), RunOptions{Image: tc.image, Cmd: []string{"php", "cli.php", "echo-stdin"},
				Stdin: strings.NewReader("x\n"), Stdout: &stdout, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			if code != 3 || stdout.String() != "got x\n" || stderr.String() != "a warning\n" {
				t.Errorf("code %d, stdout %q, stderr %q; want 3, %q, %q", code, stdout.String(), stderr.String(), "got x\n", "a warning\n")
			}
			if len(f.created) != 1 {
				t.Fatalf("created %d containers, want 1", len(f.created))
			}
			c := f.created[0]
			if !strings.HasPrefix(c.name, "shop-prod-run-") || len(c.name) != len("shop-prod-run-")+8 {
				t.Errorf("name %q, want shop-prod-run-RANDOM", c.name)
			}
			yes := true
			wantCfg := &container.Config{Image: tc.wantImage, Entrypoint: []string{"/usr/local/bin/launcher", "exec"}, Cmd: []string{"php", "cli.php", "echo-stdin"},
				Env:       []string{"PHPBUILD_ENV_FILE=/app/.env"},
				Labels:    map[string]string{labelApp: "shop", labelEnv: "prod", labelRole: "run", labelRelease: "20260101-000000-abcd"},
				OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
				StopSignal: "SIGTERM", Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}
			if d := cmp.Diff(wantCfg, c.cfg); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
			wantHC := &container.HostConfig{AutoRemove: true, Init: &yes, Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: "/state-of-test/snapshots/e1.env", Target: "/app/.env", ReadOnly: true},
				{Type: mount.TypeVolume, Source: "shop-uploads", Target: "/app/public/uploads"},
				{Type: mount.TypeVolume, Source: "shop-cache", Target: "/app/var/cache"},
			}}
			if d := cmp.Diff(wantHC, c.hc, sortMounts); d != "" {
				t.Errorf("host config (-want +got):\n%s", d)
			}
			if _, ok := c.nc.EndpointsConfig["phpbuild-shop-prod"]; !ok || len(c.nc.EndpointsConfig) != 1 {
				t.Errorf("networks %v, want phpbuild-shop-prod", c.nc.EndpointsConfig)
			}
			var calls []string
			for _, call := range f.calls {
				calls = append(calls, strings.ReplaceAll(call, c.name, "NAME"))
			}
			want := []string{"create NAME", "attach NAME-id stdin=true", "wait NAME-id removed", "start NAME-id", "remove NAME-id"}
			if d := cmp.Diff(want, calls); d != "" {
				t.Errorf("calls (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, st.files); d != "" {
				t.Errorf("the state dir changed (-before +after):\n%s", d)
			}
		})
	}
}

var sortMounts = cmp.Transformer("sortMounts", func(ms []mount.Mount) []string {
	var out []string
	for _, m := range ms {
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return slices.Sorted(slices.Values(out))
})

// TestRunTTY: with a TTY the output comes raw, stderr included, and the
// terminal's size reaches the container.
func TestRunTTY(t *testing.T) {
	h, f, st := fakeHost(t, testEnv("swarm"))
	withCurrent(st, "1")
	f.attach = func(string, io.Reader) io.Reader {
		pr, pw := io.Pipe()
		go func() {
			// Output only once the size arrived, as a shell prompt would.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				f.mu.Lock()
				resized := strings.Contains(strings.Join(f.calls, "\n"), "resize ")
				f.mu.Unlock()
				if resized {
					break
				}
			}
			pw.Write([]byte("$ \r\n"))
			pw.Close()
		}()
		return pr
	}
	sizes := make(chan TermSize, 1)
	sizes <- TermSize{Height: 24, Width: 80}
	var stdout bytes.Buffer
	code, err := h.runOneOff(context.Background(), RunOptions{Cmd: []string{"bash"}, Stdin: strings.NewReader(""), Stdout: &stdout, TTY: true, Resize: sizes})
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v", code, err)
	}
	if stdout.String() != "$ \r\n" {
		t.Errorf("stdout %q, want the raw output", stdout.String())
	}
	if c := f.created[0].cfg; !c.Tty {
		t.Error("no TTY allocated")
	}
	if !strings.Contains(strings.Join(f.calls, "\n"), "resize "+f.created[0].name+"-id 80x24") {
		t.Errorf("calls %q: no resize to 80x24", f.calls)
	}
}

// TestRunRefuses: without a release, or with its snapshot gone, nothing
// is created; without a command, the host is not even asked.
func TestRunRefuses(t *testing.T) {
	h, f, st := fakeHost(t, testEnv("docker"))
	_, err := h.runOneOff(context.Background(), RunOptions{Cmd: []string{"true"}})
	if !errors.Is(err, ErrNeverReleased) {
		t.Errorf("no release: err = %v, want ErrNeverReleased", err)
	}
	rec := withCurrent(st, "1")
	delete(st.files, snapshotFile(rec.Env))
	_, err = h.runOneOff(context.Background(), RunOptions{Cmd: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "env snapshot sha256:e1 of release 1 is gone") {
		t.Errorf("snapshot gone: err = %v", err)
	}
	if len(f.created) != 0 {
		t.Errorf("created %d containers, want none", len(f.created))
	}
	if _, err := Run(context.Background(), testEnv("docker"), RunOptions{}); !badinput.Is(err) {
		t.Errorf("no command: err = %v, want bad input", err)
	}
}

// TestRunInterrupted: when ctx ends, the command is stopped and removed,
// and Run says it was canceled.
func TestRunInterrupted(t *testing.T) {
	h, f, st := fakeHost(t, testEnv("docker"))
	withCurrent(st, "1")
	block, _ := io.Pipe()
	f.attach = func(string, io.Reader) io.Reader { return block }
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := h.runOneOff(ctx, RunOptions{Cmd: []string{"sleep", "100"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	name := f.created[0].name
	calls := strings.Join(f.calls, "\n")
	if !strings.Contains(calls, "stop "+name+"-id\nremove "+name+"-id") {
		t.Errorf("calls %q: want a stop, then a remove", f.calls)
	}
}
