package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpbuild/phpbuild/processes"
)

// runProcess is `launcher process NAME`: the image's process type NAME,
// with the env file's values as php-fpm gets them. Its command runs as a
// child, not in the launcher's place, so that the launcher stays PID 1 and
// reaps the orphans a worker's own children leave. The launcher exits with
// the command's status.
func runProcess(args []string, getenv func(string) string, log io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(log, "launcher: usage: launcher process NAME\n")
		return exitBadInput
	}
	t, path, err := readTable(getenv)
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return exitBadInput
	}
	p, ok := t.Process(args[0])
	if !ok {
		has := "it declares none"
		if names := t.Names(); len(names) > 0 {
			has = "processes: " + strings.Join(names, ", ")
		}
		fmt.Fprintf(log, "launcher: no process %q in %s (%s)\n", args[0], path, has)
		return exitBadInput
	}
	stop, err := checkProcess(p)
	if err != nil {
		fmt.Fprintf(log, "launcher: reading %s: process %s: %v\n", path, p.Name, err)
		return exitBadInput
	}
	// PHPBUILD_STOP_TIMEOUT wins over the table: it is how a deployer
	// matches the grace period an orchestrator gives the container.
	if v := strings.TrimSpace(getenv("PHPBUILD_STOP_TIMEOUT")); v != "" {
		if stop.timeout, err = parseStopTimeout(v); err != nil {
			fmt.Fprintf(log, "launcher: %v\n", err)
			return exitBadInput
		}
	}
	env, err := appEnv(getenv)
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return exitBadInput
	}
	sigs, release := takeSignals(log, stop.signal)
	defer release()
	return superviseProcess(&child{name: p.Name, argv: p.Command}, stop, env, sigs, log)
}

// stopRequest is how a process type is asked to stop: its signal, and how
// long it has before it is killed.
type stopRequest struct {
	signal  syscall.Signal
	timeout time.Duration
}

// checkProcess checks that p can run and reads how it is asked to stop.
func checkProcess(p processes.Process) (stopRequest, error) {
	if len(p.Command) == 0 {
		return stopRequest{}, errors.New("no command")
	}
	name := p.StopSignal
	if name == "" {
		name = processes.DefaultStopSignal
	}
	s := stopRequest{signal: unix.SignalNum(name), timeout: p.StopTimeout.D()}
	if s.signal == 0 || s.signal == syscall.SIGKILL || s.signal == syscall.SIGSTOP {
		return stopRequest{}, fmt.Errorf("stopSignal %q is not a signal a process can be asked to stop with", name)
	}
	if s.timeout <= 0 {
		s.timeout = processes.DefaultStopTimeout
	}
	return s, nil
}

// superviseProcess runs c until it ends, forwarding SIGHUP, SIGUSR1 and
// SIGUSR2 and turning a stop request into stop's signal to c's group, then
// SIGKILL to the group after stop's timeout. It returns c's exit status, 128 plus
// the signal when a signal ended it.
func superviseProcess(c *child, stop stopRequest, env []string, sigs <-chan os.Signal, log io.Writer) int {
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "launcher: "+format+"\n", args...)
	}
	logf("process %s: %s", c.name, processes.Display(c.argv))
	began := time.Now()
	if err := c.start(env, stdio); err != nil {
		logf("process %s: %v", c.name, err)
		return startFailed(err)
	}
	reap := func() { reapAll(c) }
	ended := func() bool { return !c.running() }
	tick := time.NewTicker(reapInterval)
	defer tick.Stop()
	for !c.done {
		select {
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGCHLD:
				reap()
			// The process's own stop signal is what a container runtime
			// sends when the release made it the container's stop
			// signal: a stop request like SIGTERM, not one to forward.
			case sig == stop.signal || slices.Contains(stopping, sig):
				logf("%s received, sending %s to process %s (timeout %v)",
					unix.SignalName(sig.(syscall.Signal)), unix.SignalName(stop.signal), c.name, stop.timeout)
				// The whole group, as Heroku signals a dyno's processes: a
				// shell that runs the command as its child passes nothing
				// on. The stop waits for every process of the group, so a
				// shell that dies first does not end the container while
				// its child finishes the job in hand.
				c.signalGroup(stop.signal)
				waitUntil(sigs, time.Now().Add(stop.timeout), reap, func() bool { return ended() && !groupAlive(c.pid) })
				if c.running() || groupAlive(c.pid) {
					logf("process %s did not stop within %v, killing it", c.name, stop.timeout)
					// The group outlives a leader that has ended.
					_ = syscall.Kill(-c.pid, syscall.SIGKILL)
					waitUntil(sigs, time.Now().Add(killWait), reap, ended)
				}
				if !c.done {
					logf("process %s still runs %v after SIGKILL, exiting %d", c.name, killWait, 128+int(syscall.SIGKILL))
					return 128 + int(syscall.SIGKILL)
				}
			case slices.Contains(forwarded, sig):
				c.signal(sig.(syscall.Signal))
			}
		case <-tick.C:
			reap()
		}
	}
	code := exitStatus(c.status)
	if c.status.Signaled() {
		logf("process %s: %s after %v, exiting %d", c.name, outcome(c.status), took(time.Since(began)), code)
	} else {
		logf("process %s: %s after %v", c.name, outcome(c.status), took(time.Since(began)))
	}
	return code
}
