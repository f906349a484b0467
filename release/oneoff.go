package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/runtimes"
)

// A one-off command runs as web and the workers do: the current release's
// image and env snapshot, the environment's volumes and network, through
// `launcher exec`, so it sees exactly the env php-fpm sees. It changes no
// release state and takes no lock: a console session must not wait for a
// release, nor hold one up.

const (
	roleRun = "run"
	// runStopTimeout is how long an interrupted command has to exit
	// before docker kills it.
	runStopTimeout = 10 * time.Second
)

// RunOptions are a one-off command's: what runs, and its stdio.
type RunOptions struct {
	// Image is a tag or digest in the environment's repo, or a full ref;
	// "" is the current release's image. Either way the command gets the
	// current release's env snapshot.
	Image string
	// Cmd is the command and its arguments.
	Cmd []string
	// Stdin is streamed to the command, whose stdin closes at its EOF;
	// nil gives the command none.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// TTY gives the command a terminal: Stdin carries keystrokes, and its
	// output, stderr included, comes on Stdout.
	TTY bool
	// Resize, with TTY, gives the local terminal's size: the first as
	// soon as it is known, then each change. Run never closes it.
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Height, Width uint }

// Run runs o.Cmd in a one-off container of env's current release and
// returns its exit code. The container is removed when it exits, or when
// ctx ends (after a graceful stop).
func Run(ctx context.Context, env *Environment, o RunOptions) (int, error) {
	if len(o.Cmd) == 0 {
		return 0, &badinput.Error{Field: "command", Err: errors.New("no command to run")}
	}
	h, err := open(ctx, env)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	return h.runOneOff(ctx, o)
}

func (h *host) runOneOff(ctx context.Context, o RunOptions) (int, error) {
	rec, err := h.requireCurrent(ctx)
	if err != nil {
		return 0, err
	}
	ref := rec.Digest
	if o.Image != "" {
		if ref, err = h.env.ImageRef(o.Image); err != nil {
			return 0, err
		}
	}
	// A bind mount of a missing file fails with a daemon message that does
	// not say which release lost it.
	snapRel := snapshotFile(rec.Env)
	if _, err := h.state.read(ctx, snapRel); errors.Is(err, errNoState) {
		return 0, fmt.Errorf("the env snapshot %s of release %s is gone from the host's state dir", rec.Env, rec.ID)
	} else if err != nil {
		return 0, err
	}
	if _, _, err := h.ensureImage(ctx, ref); err != nil {
		return 0, err
	}
	ins, err := h.cli.ImageInspect(ctx, ref)
	if err != nil {
		return 0, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	if h.fs, err = layoutOf(h.env, imageLabels(ins), ref, rec.ID); err != nil {
		return 0, err
	}

	name := h.prefix() + "-" + roleRun + "-" + randomHex(4)
	stdin := o.Stdin != nil
	cfg := &container.Config{Image: ref, Labels: h.labels(roleRun, rec.ID),
		Entrypoint: []string{runtimes.LauncherPath, "exec"}, Cmd: o.Cmd,
		Env: []string{"PHPBUILD_ENV_FILE=" + envTarget},
		Tty: o.TTY, OpenStdin: stdin, StdinOnce: stdin, AttachStdin: stdin, AttachStdout: true, AttachStderr: true,
		// Run images stop with SIGQUIT, php-fpm's graceful stop; to a
		// command it means a core dump.
		StopSignal: "SIGTERM",
		// The image's HEALTHCHECK asks the web route, which a one-off
		// command does not serve.
		Healthcheck: &container.HealthConfig{Test: []string{"NONE"}}}
	// launcher exec makes the command PID 1, which the kernel spares the
	// signals it has no handler for: docker's init forwards Ctrl-C and the
	// stop signal to it, as a shell would.
	initProc := true
	hc := h.hostConfig(h.state.hostPath(snapRel), rec.ID)
	hc.AutoRemove, hc.Init = true, &initProc
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, name)
	if err != nil {
		return 0, fmt.Errorf("creating %s: %w", name, err)
	}
	// Removed already when it exited (AutoRemove); not when it never
	// started or ctx ended.
	defer h.removeContainer(ctx, created.ID)

	// Attached and waited for before it starts, so that no output and no
	// exit is missed.
	att, err := h.cli.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdin: stdin, Stdout: true, Stderr: true})
	if err != nil {
		return 0, fmt.Errorf("attaching to %s: %w", name, err)
	}
	defer att.Close()
	waitC, waitErr := h.cli.ContainerWait(ctx, created.ID, container.WaitConditionRemoved)
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return 0, fmt.Errorf("starting %s: %w", name, err)
	}

	done := make(chan struct{})
	defer close(done)
	if o.TTY && o.Resize != nil {
		go h.forwardResizes(ctx, created.ID, o.Resize, done)
	}
	if stdin {
		go func() {
			io.Copy(att.Conn, o.Stdin)
			// Without a TTY the command reads to EOF: close its stdin.
			att.CloseWrite()
		}()
	}
	// The attached stream does not end when ctx does.
	closeOnCancel := context.AfterFunc(ctx, func() { att.Close() })
	defer closeOnCancel()
	stdout, stderr := orDiscard(o.Stdout), orDiscard(o.Stderr)
	if o.TTY {
		_, err = io.Copy(stdout, att.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, att.Reader)
	}
	if ctx.Err() != nil {
		secs := int(runStopTimeout.Seconds())
		h.cli.ContainerStop(context.WithoutCancel(ctx), created.ID, container.StopOptions{Timeout: &secs})
		return 0, fmt.Errorf("running %s: %w", name, ctx.Err())
	}
	if err != nil {
		return 0, fmt.Errorf("reading the output of %s: %w", name, err)
	}
	select {
	case res := <-waitC:
		if res.Error != nil && res.Error.Message != "" {
			return 0, fmt.Errorf("waiting for %s: %s", name, res.Error.Message)
		}
		return int(res.StatusCode), nil
	case err := <-waitErr:
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("waiting for %s: %w", name, err)
	}
}

// forwardResizes sets the container's terminal to each size it is given,
// until done.
func (h *host) forwardResizes(ctx context.Context, id string, sizes <-chan TermSize, done <-chan struct{}) {
	first := true
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case s := <-sizes:
			opts := container.ResizeOptions{Height: s.Height, Width: s.Width}
			// The daemon may refuse a resize until the container's TTY is
			// set up, just after the start: the first size would be lost.
			for try := 0; ; try++ {
				err := h.cli.ContainerResize(ctx, id, opts)
				if err == nil || !first || try == 5 || sleep(ctx, time.Duration(try+1)*10*time.Millisecond) != nil {
					break
				}
			}
			first = false
		}
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
