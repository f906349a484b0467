package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supervisor runs php-fpm and nginx as PID 1 does: it owns their
// signals, their exit statuses and every orphan that lands on it.
type supervisor struct {
	fpm, nginx  *child
	fpmSocket   string
	port        int
	workers     int
	stopTimeout time.Duration
	log         io.Writer
	sigs        chan os.Signal
	env         []string
}

func newSupervisor(s settings, log io.Writer) *supervisor {
	if s.Env == nil {
		s.Env = os.Environ()
	}
	return &supervisor{
		fpm: &child{name: "php-fpm", argv: []string{s.PHPFPM,
			"--nodaemonize", "--fpm-config", s.RunDir + "/php-fpm.conf"}},
		nginx: &child{name: "nginx", argv: []string{s.Nginx,
			"-c", s.RunDir + "/nginx.conf", "-g", "daemon off;"}},
		fpmSocket:   filepath.Join(s.RunDir, fpmSocket),
		port:        s.Port,
		workers:     s.Workers.Children,
		stopTimeout: s.StopTimeout,
		log:         log,
		env:         s.Env,
	}
}

// php-fpm has fpmReadyTimeout to accept connections on its socket, which is
// tried every fpmReadyPoll. It takes a fraction of a second, but on a
// starved host (a deploy while the machine builds) tens of seconds: a
// restart would only start that over. php-fpm starts in about 50 ms and
// nginx after it: at 20 ms, the poll added 10 ms on average to a cold
// start of about 250 ms; a connect attempt costs microseconds.
const (
	fpmReadyTimeout = 30 * time.Second
	fpmReadyPoll    = 5 * time.Millisecond
)

// run starts both children and returns the launcher's exit code.
func (s *supervisor) run() int {
	var release func()
	s.sigs, release = takeSignals(s.log)
	defer release()

	// php-fpm first, and nginx only once php-fpm accepts connections:
	// nginx would answer 502 until then, and a health check that catches
	// that fails a release.
	if err := s.fpm.start(s.env, stdio); err != nil {
		s.logf("%v", err)
		s.shutdown()
		return 1
	}
	if code, ready := s.waitFPM(); !ready {
		return code
	}
	if err := s.nginx.start(s.env, stdio); err != nil {
		s.logf("%v", err)
		s.shutdown()
		return 1
	}
	s.logf("serving on :%d (php-fpm %d workers, nginx)", s.port, s.workers)

	tick := time.NewTicker(reapInterval)
	defer tick.Stop()
	for {
		select {
		case sig := <-s.sigs:
			if code, stopped := s.handle(sig); stopped {
				return code
			}
		case <-tick.C:
			s.reap()
		}
		for _, c := range []*child{s.nginx, s.fpm} {
			if c.done {
				return s.childDied(c)
			}
		}
	}
}

// handle acts on one signal; stopped reports that it was a stop request,
// carried out, and code is then the launcher's exit code.
func (s *supervisor) handle(sig os.Signal) (code int, stopped bool) {
	switch {
	case sig == syscall.SIGCHLD:
		s.reap()
	case slices.Contains(forwarded, sig):
		s.fpm.signal(sig.(syscall.Signal))
		s.nginx.signal(sig.(syscall.Signal))
	case slices.Contains(stopping, sig):
		s.logf("%s received, stopping nginx then php-fpm (timeout %v)", unix.SignalName(sig.(syscall.Signal)), s.stopTimeout)
		if s.shutdown() {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// waitFPM waits until php-fpm's socket accepts a connection. When it does
// not, because php-fpm died, a stop was asked for or the time ran out,
// ready is false and code is the launcher's exit code.
func (s *supervisor) waitFPM() (code int, ready bool) {
	deadline := time.Now().Add(fpmReadyTimeout)
	tick := time.NewTicker(fpmReadyPoll)
	defer tick.Stop()
	for {
		if accepts(s.fpmSocket) {
			return 0, true
		}
		s.reap()
		if s.fpm.done {
			code := exitCode(s.fpm)
			s.logf("php-fpm %s before accepting connections on %s, exiting %d", s.fpm.describe(), s.fpmSocket, code)
			return code, false
		}
		if time.Now().After(deadline) {
			s.logf("php-fpm did not accept connections on %s within %v, stopping it", s.fpmSocket, fpmReadyTimeout)
			s.shutdown()
			return 1, false
		}
		select {
		case sig := <-s.sigs:
			if code, stopped := s.handle(sig); stopped {
				return code, false
			}
		case <-tick.C:
		}
	}
}

// accepts reports whether a unix socket has a listener; connecting is the
// only test of that, as the file exists from bind, before listen.
func accepts(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// childDied stops the survivor: a container with half its server is worse
// than one the orchestrator restarts.
func (s *supervisor) childDied(dead *child) int {
	code := exitCode(dead)
	other := s.fpm
	if dead == s.fpm {
		other = s.nginx
	}
	s.logf("%s %s, stopping %s and exiting %d", dead.name, dead.describe(), other.name, code)
	s.shutdown()
	return code
}

// exitCode passes a dead child's non-zero exit code on; anything else that
// ends a child early is 1.
func exitCode(dead *child) int {
	if dead.status.Exited() && dead.status.ExitStatus() != 0 {
		return dead.status.ExitStatus()
	}
	return 1
}

// shutdown stops nginx before php-fpm so that requests nginx is still
// draining find their upstream alive. Both share one deadline; whatever
// outlives it is killed. It reports whether both exited with code 0.
func (s *supervisor) shutdown() bool {
	deadline := time.Now().Add(s.stopTimeout)
	s.nginx.signal(syscall.SIGQUIT)
	s.waitUntil(deadline, func() bool { return !s.nginx.running() })
	s.fpm.signal(s.fpmStopSignal())
	s.waitUntil(deadline, func() bool { return !s.fpm.running() })
	for _, c := range []*child{s.nginx, s.fpm} {
		if c.running() {
			s.logf("%s did not stop within %v, killing it", c.name, s.stopTimeout)
			c.killGroup()
		}
	}
	s.waitUntil(time.Now().Add(killWait), func() bool {
		return !s.nginx.running() && !s.fpm.running()
	})
	clean := true
	for _, c := range []*child{s.nginx, s.fpm} {
		if c.pid > 0 && !(c.done && c.status.Exited() && c.status.ExitStatus() == 0) {
			clean = false
		}
	}
	return clean
}

// fpmStopSignal is SIGTERM, which ends php-fpm at once, when nginx has
// stopped and php-fpm's status page shows no request in flight but its
// own; else SIGQUIT, which lets each worker finish its request. A worker
// stopped gracefully runs PHP's shutdown first, some 80 ms of CPU each:
// seconds for a large pool on a small host, taken from the release that
// is starting beside it.
func (s *supervisor) fpmStopSignal() syscall.Signal {
	if s.nginx.running() || !s.fpm.running() {
		return syscall.SIGQUIT
	}
	active, err := fpmActive(s.fpmSocket, fpmStatusTimeout)
	if err != nil || active > 1 {
		return syscall.SIGQUIT
	}
	s.logf("php-fpm has no request in flight, stopping it at once")
	return syscall.SIGTERM
}

// fpmStatusTimeout bounds asking php-fpm whether it is idle.
const fpmStatusTimeout = 500 * time.Millisecond

func (s *supervisor) waitUntil(deadline time.Time, cond func() bool) {
	waitUntil(s.sigs, deadline, s.reap, cond)
}

// reap records the statuses of the two it supervises.
func (s *supervisor) reap() { reapAll(s.fpm, s.nginx) }

func (s *supervisor) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "launcher: "+format+"\n", args...)
}
