package main

import (
	"bufio"
	"fmt"
	"io"
	stdlog "log"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"golang.org/x/sys/unix"

	"github.com/phpbuild/phpbuild/processes"
)

const (
	// timeoutGrace is what a run that outlived its timeout has between
	// SIGTERM and SIGKILL.
	timeoutGrace = 5 * time.Second

	// outputGrace is how long a run's end line waits for the last of its
	// output: a background process the run left holding its stdout must
	// not hold the line back.
	outputGrace = time.Second

	// maxLine is the longest line copied whole; a longer one is cut into
	// several, each prefixed, so one run cannot make the launcher buffer
	// without bound.
	maxLine = 64 << 10
)

// runSchedule is `launcher schedule`: the scheduler of the image's
// [schedule.*] jobs. Each run is a child with the env file's values as
// php-fpm gets them, its output prefixed with the job's name.
func runSchedule(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintf(stderr, "launcher: usage: launcher schedule\n")
		return exitBadInput
	}
	t, path, err := readTable(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "launcher: %v\n", err)
		return exitBadInput
	}
	if len(t.Schedules) == 0 {
		fmt.Fprintf(stderr, "launcher: no schedules in %s: nothing to run\n", path)
		return exitBadInput
	}
	jobs, err := scheduledJobs(t.Schedules)
	if err != nil {
		fmt.Fprintf(stderr, "launcher: reading %s: %v\n", path, err)
		return exitBadInput
	}
	// Longer than the web server's default: a run stopped is a job half
	// done. The orchestrator's grace period must match it (Docker's
	// default is 10 s), or SIGKILL comes first.
	stopTimeout, err := parseStopTimeout(envOr(getenv, "PHPBUILD_STOP_TIMEOUT", "30s"))
	if err != nil {
		fmt.Fprintf(stderr, "launcher: %v\n", err)
		return exitBadInput
	}
	env, err := appEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "launcher: %v\n", err)
		return exitBadInput
	}
	// Runs that overlap write from several goroutines; one lock keeps
	// each line whole and in order with the launcher's own.
	var mu sync.Mutex
	log := &lockedWriter{mu: &mu, w: stderr}
	sigs, release := takeSignals(log)
	defer release()
	s := &scheduler{jobs: jobs, env: env, stopTimeout: stopTimeout,
		out: &lockedWriter{mu: &mu, w: stdout}, errOut: log, log: log}
	return s.run(sigs)
}

// job is one scheduled job and the count of its runs in progress.
type job struct {
	processes.Schedule
	schedule cron.Schedule
	running  int
}

// scheduledJobs checks the table's schedules as the scheduler needs them.
func scheduledJobs(in []processes.Schedule) ([]*job, error) {
	var jobs []*job
	for _, sc := range in {
		s, err := processes.ParseCron(sc.Cron)
		if err != nil {
			return nil, fmt.Errorf("schedule %s: cron %q: %w", sc.Name, sc.Cron, err)
		}
		if len(sc.Command) == 0 {
			return nil, fmt.Errorf("schedule %s: no command", sc.Name)
		}
		switch sc.Concurrency {
		case "":
			sc.Concurrency = processes.ConcurrencyForbid
		case processes.ConcurrencyForbid, processes.ConcurrencyAllow:
		default:
			return nil, fmt.Errorf("schedule %s: concurrency %q: want %q or %q", sc.Name, sc.Concurrency, processes.ConcurrencyForbid, processes.ConcurrencyAllow)
		}
		jobs = append(jobs, &job{Schedule: sc, schedule: s})
	}
	return jobs, nil
}

// run is one run of a job.
type run struct {
	job   *job
	child *child
	began time.Time
	// act is when the scheduler next acts on the run: at its timeout, or
	// SIGKILL timeoutGrace later once timedOut. Zero: never.
	act      time.Time
	timedOut bool
	// drained is closed once the run's output is all copied.
	drained chan struct{}
}

// scheduler starts the runs robfig/cron finds due, and owns them: their
// timeouts, their exit statuses and every orphan that lands on PID 1. All
// of that happens in run's loop; cron's goroutines only hand it due jobs.
type scheduler struct {
	jobs        []*job
	env         []string
	stopTimeout time.Duration
	out, errOut io.Writer // where the runs' stdout and stderr go
	log         io.Writer

	runs  []*run
	due   chan *job
	quit  chan struct{}
	ended sync.WaitGroup // end lines waiting for their run's output
}

// run schedules the jobs until a stop signal and returns the launcher's
// exit code: 0 when every run then in progress ended on its own, 1 when
// one had to be killed.
func (s *scheduler) run(sigs <-chan os.Signal) int {
	s.due, s.quit = make(chan *job), make(chan struct{})
	c := cron.New(cron.WithLogger(cron.PrintfLogger(stdlog.New(s.log, "launcher: cron: ", 0))))
	ids := make([]cron.EntryID, len(s.jobs))
	for i, j := range s.jobs {
		ids[i] = c.Schedule(j.schedule, cron.FuncJob(func() {
			select {
			case s.due <- j:
			case <-s.quit:
			}
		}))
	}
	c.Start()
	for i, j := range s.jobs {
		s.logf("schedule %s: %q, next run %s", j.Name, j.Cron, c.Entry(ids[i]).Next.Format("2006-01-02 15:04:05 MST"))
	}
	defer s.ended.Wait()

	due := s.due
	var stopBy time.Time // set by a stop signal
	tick := time.NewTicker(reapInterval)
	defer tick.Stop()
	for {
		var wake <-chan time.Time
		var timer *time.Timer
		if at := s.nextAct(stopBy); !at.IsZero() {
			timer = time.NewTimer(time.Until(at))
			wake = timer.C
		}
		select {
		case sig := <-sigs:
			switch {
			case sig == syscall.SIGCHLD:
				s.reap()
			case slices.Contains(stopping, sig) && stopBy.IsZero():
				stopBy = time.Now().Add(s.stopTimeout)
				due = nil
				close(s.quit)
				c.Stop()
				s.reap()
				s.logf("%s received, starting no more runs; %s", unix.SignalName(sig.(syscall.Signal)), s.inProgress())
			case slices.Contains(forwarded, sig):
				for _, r := range s.runs {
					r.child.signal(sig.(syscall.Signal))
				}
			}
		case j := <-due:
			s.start(j)
		case <-tick.C:
			s.reap()
		case <-wake:
		}
		if timer != nil {
			timer.Stop()
		}
		s.enforceTimeouts(time.Now())
		switch {
		case stopBy.IsZero():
		case len(s.runs) == 0:
			return 0
		case !time.Now().Before(stopBy):
			for _, r := range s.runs {
				s.logf("schedule %s did not end within %v, killing it", r.job.Name, s.stopTimeout)
				r.child.killGroup()
			}
			waitUntil(sigs, time.Now().Add(killWait), s.reap, func() bool { return len(s.runs) == 0 })
			return 1
		}
	}
}

// inProgress says what a stop waits for.
func (s *scheduler) inProgress() string {
	if len(s.runs) == 0 {
		return "no run in progress"
	}
	var names []string
	for _, r := range s.runs {
		names = append(names, r.job.Name)
	}
	return fmt.Sprintf("waiting up to %v for %s", s.stopTimeout, strings.Join(names, ", "))
}

// nextAct is the earliest time the loop must act without being woken.
func (s *scheduler) nextAct(stopBy time.Time) time.Time {
	next := stopBy
	for _, r := range s.runs {
		if !r.act.IsZero() && (next.IsZero() || r.act.Before(next)) {
			next = r.act
		}
	}
	return next
}

// start starts a run of j, unless j forbids overlapping runs and one is
// in progress.
func (s *scheduler) start(j *job) {
	if j.Concurrency == processes.ConcurrencyForbid && j.running > 0 {
		i := slices.IndexFunc(s.runs, func(r *run) bool { return r.job == j })
		s.logf("schedule %s: skipped, the run started %v ago still runs (concurrency forbid)", j.Name, took(time.Since(s.runs[i].began)))
		return
	}
	r := &run{job: j, child: &child{name: j.Name, argv: j.Command}, began: time.Now(), drained: make(chan struct{})}
	s.logf("schedule %s: starting %s", j.Name, processes.Display(j.Command))
	if err := s.spawn(r); err != nil {
		s.logf("schedule %s: %v", j.Name, err)
		return
	}
	if j.Timeout > 0 {
		r.act = r.began.Add(j.Timeout.D())
	}
	j.running++
	s.runs = append(s.runs, r)
}

// spawn starts r's child with its stdout and stderr each a pipe whose
// lines are copied, prefixed, to the launcher's.
func (s *scheduler) spawn(r *run) error {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("opening %s: %w", os.DevNull, err)
	}
	defer null.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("creating a pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("creating a pipe: %w", err)
	}
	err = r.child.start(s.env, []uintptr{null.Fd(), outW.Fd(), errW.Fd()})
	// The child has its own copies; ours would keep the pipes from ever
	// reaching EOF.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	prefix := "[" + r.job.Name + "] "
	var copying sync.WaitGroup
	copying.Go(func() { copyLines(s.out, prefix, outR) })
	copying.Go(func() { copyLines(s.errOut, prefix, errR) })
	go func() {
		copying.Wait()
		close(r.drained)
	}()
	return nil
}

// copyLines copies r to w a line at a time, each line prefixed and
// written in one Write, so that runs writing at once do not mix within a
// line. A last line without a newline gets one. It closes r at EOF.
func copyLines(w io.Writer, prefix string, r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			buf := make([]byte, 0, len(prefix)+len(line)+1)
			buf = append(append(buf, prefix...), line...)
			if buf[len(buf)-1] != '\n' {
				buf = append(buf, '\n')
			}
			_, _ = w.Write(buf)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// enforceTimeouts sends SIGTERM to the runs past their timeout, and
// SIGKILL to those still running timeoutGrace later. Both go to the run's
// process group: a shell's children would outlive the shell otherwise.
func (s *scheduler) enforceTimeouts(now time.Time) {
	for _, r := range s.runs {
		if r.act.IsZero() || now.Before(r.act) || !r.child.running() {
			continue
		}
		if !r.timedOut {
			s.logf("schedule %s: still running at its timeout %v, sending SIGTERM", r.job.Name, r.job.Timeout)
			r.child.signalGroup(syscall.SIGTERM)
			r.timedOut, r.act = true, now.Add(timeoutGrace)
			continue
		}
		s.logf("schedule %s: still running %v after SIGTERM, killing it", r.job.Name, timeoutGrace)
		r.child.killGroup()
		r.act = time.Time{}
	}
}

// reap collects every exited child and ends the runs among them.
func (s *scheduler) reap() {
	children := make([]*child, len(s.runs))
	for i, r := range s.runs {
		children[i] = r.child
	}
	reapAll(children...)
	running := s.runs[:0]
	for _, r := range s.runs {
		if r.child.running() {
			running = append(running, r)
			continue
		}
		r.job.running--
		s.report(r)
	}
	clear(s.runs[len(running):])
	s.runs = running
}

// report logs how r ended once its output is out, so that the line
// follows the run's last line.
func (s *scheduler) report(r *run) {
	d := took(time.Since(r.began))
	how := outcome(r.child.status)
	if r.timedOut {
		how = fmt.Sprintf("killed at timeout %v: %s", r.job.Timeout, how)
	}
	s.ended.Go(func() {
		timer := time.NewTimer(outputGrace)
		defer timer.Stop()
		select {
		case <-r.drained:
		case <-timer.C:
		}
		s.logf("schedule %s: %s after %v", r.job.Name, how, d)
	})
}

func (s *scheduler) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "launcher: "+format+"\n", args...)
}

// lockedWriter serializes writes to w with the writers that share mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
