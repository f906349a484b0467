package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// child is one program the launcher runs. Its exit status is filled in by
// reapAll, the only caller of wait4, so no status can be lost to it.
type child struct {
	name   string
	argv   []string
	pid    int
	done   bool
	status syscall.WaitStatus
}

func (c *child) running() bool { return c.pid > 0 && !c.done }

// start forks c with env and files as its fds 0, 1 and 2. A program named
// without a slash is looked up in PATH, as a shell and execvp do.
func (c *child) start(env []string, files []uintptr) error {
	bin := c.argv[0]
	if !strings.Contains(bin, "/") {
		var err error
		if bin, err = exec.LookPath(bin); err != nil {
			return fmt.Errorf("starting %s: %w", c.argv[0], err)
		}
	}
	pid, err := syscall.ForkExec(bin, c.argv, &syscall.ProcAttr{
		Env:   env,
		Files: files,
		// A process group of its own: Ctrl-C in a terminal reaches only
		// the launcher, which decides how each child stops, and the group
		// lets it kill whatever the child started along with it.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", c.argv[0], err)
	}
	c.pid = pid
	return nil
}

// startFailed is the exit status of a command that could not start, as a
// shell gives it: 127 when there is no such program, 126 otherwise.
func startFailed(err error) int {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound) {
		return 127
	}
	return 126
}

// stdio is the launcher's own stdin, stdout and stderr, for children whose
// output is the container's.
var stdio = []uintptr{0, 1, 2}

// signal never reaches a reaped child: its pid may already belong to
// someone else.
func (c *child) signal(sig syscall.Signal) {
	if c.running() {
		_ = syscall.Kill(c.pid, sig)
	}
}

// signalGroup signals the child and everything it started that stayed in
// its process group.
func (c *child) signalGroup(sig syscall.Signal) {
	if c.running() {
		_ = syscall.Kill(-c.pid, sig)
	}
}

// groupAlive reports whether any process of the group pgid still runs.
func groupAlive(pgid int) bool {
	return pgid > 0 && syscall.Kill(-pgid, 0) == nil
}

// killGroup kills the child and its workers: workers left behind by a
// killed master would outlive the launcher outside a container.
func (c *child) killGroup() { c.signalGroup(syscall.SIGKILL) }

func (c *child) describe() string {
	switch {
	case c.status.Exited():
		return fmt.Sprintf("exited with code %d", c.status.ExitStatus())
	case c.status.Signaled():
		return fmt.Sprintf("was killed by %v", c.status.Signal())
	}
	return fmt.Sprintf("ended with status %#x", uint32(c.status))
}

// outcome is how a finished command ended, for the lines that report it:
// "exited 3", "killed by SIGKILL".
func outcome(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("exited %d", exitStatus(ws))
}

// exitStatus is a finished command's status as a shell gives it: its exit
// code, or 128 plus the signal that killed it.
func exitStatus(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 1
}

// took rounds a run's duration for the line that reports it: to the
// millisecond for quick runs, to a tenth of a second beyond.
func took(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

var (
	forwarded = []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2}
	stopping  = []os.Signal{syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT}
)

// reapInterval backs up SIGCHLD: os/signal drops signals when its channel
// is full, and a missed SIGCHLD would leave a child dead but unnoticed.
const reapInterval = time.Second

// killWait bounds the wait for children sent SIGKILL: it cannot be
// refused, and the bound only guards against a child stuck in
// uninterruptible sleep keeping PID 1 alive forever.
const killWait = 5 * time.Second

// takeSignals subscribes to what PID 1 handles: SIGCHLD, the forwarded
// and stopping signals, and extra. It also makes orphans of our children
// ours to reap when the launcher is not PID 1. Call it before the first
// fork, so that no SIGCHLD or stop request slips by.
func takeSignals(log io.Writer, extra ...os.Signal) (sigs chan os.Signal, release func()) {
	sigs = make(chan os.Signal, 32)
	signal.Notify(sigs, append(append(append([]os.Signal{syscall.SIGCHLD}, forwarded...), stopping...), extra...)...)
	if err := becomeSubreaper(); err != nil && os.Getpid() != 1 {
		fmt.Fprintf(log, "launcher: not reaping orphans: %v\n", err)
	}
	return sigs, func() { signal.Stop(sigs) }
}

// reapAll collects every exited child, ours or orphaned, so none stays a
// zombie, and records the statuses of those in children.
func reapAll(children ...*child) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		for _, c := range children {
			if c.pid == pid && !c.done {
				c.done, c.status = true, ws
			}
		}
	}
}

// waitUntil reaps with reap until cond holds or the deadline passes.
// Signals that arrive meanwhile are not acted on: a stop is already under
// way.
func waitUntil(sigs <-chan os.Signal, deadline time.Time, reap func(), cond func() bool) {
	reap()
	for !cond() {
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		timer := time.NewTimer(min(wait, reapInterval))
		select {
		case <-sigs:
		case <-timer.C:
		}
		timer.Stop()
		reap()
	}
}
