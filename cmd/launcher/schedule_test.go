package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/processes"
)

// everySecond is a job running script every second, the shortest interval
// robfig/cron has.
func everySecond(name, script string) processes.Schedule {
	return processes.Schedule{Name: name, Cron: "@every 1s", Command: processes.Shell(script), Concurrency: processes.ConcurrencyForbid}
}

func startSchedule(t *testing.T, jobs []processes.Schedule, env ...string) *launcherRun {
	t.Helper()
	return spawnWithTable(t, &processes.Table{Schedules: jobs}, []string{"schedule"}, env...)
}

// stopSchedule sends SIGTERM and checks the launcher's exit code.
func (r *launcherRun) stopSchedule(want int) {
	r.t.Helper()
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != want {
		r.t.Fatalf("exit code = %d, want %d; stderr:\n%s\nlog:\n%s", code, want, r.stderr, r.logText())
	}
}

func TestScheduleRunsRepeatedlyWithOutputPrefixed(t *testing.T) {
	t.Parallel()
	r := startSchedule(t, []processes.Schedule{everySecond("tick", `echo "tick $$"; echo warning >&2; printf 'no newline'`)})
	r.waitText(r.stdout, "[tick] tick ", 2)
	r.stopSchedule(0)

	out := r.stdout.String()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "[tick] tick ") && line != "[tick] no newline" {
			t.Errorf("stdout line %q is not the job's, prefixed; stdout:\n%s", line, out)
		}
	}
	if strings.Count(out, "[tick] no newline\n") < 2 {
		t.Errorf("the runs' last lines without a newline are missing; stdout:\n%s", out)
	}
	errOut := r.stderr.String()
	for _, want := range []string{
		"launcher: schedule tick: starting echo \"tick $$\"; echo warning >&2; printf 'no newline'\n",
		"[tick] warning\n",
		"launcher: schedule tick: exited 0 after ",
		"launcher: SIGTERM received, starting no more runs",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !regexp.MustCompile(`(?m)^launcher: schedule tick: "@every 1s", next run \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+$`).MatchString(errOut) {
		t.Errorf("no line with the job's next run; stderr:\n%s", errOut)
	}
	// A run's end line follows its output.
	if w, e := strings.Index(errOut, "[tick] warning"), strings.Index(errOut, "exited 0 after"); w > e {
		t.Errorf("end line before the run's output; stderr:\n%s", errOut)
	}
}

func TestScheduleConcurrency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		concurrency string
		wait        string // in stderr n times once the second tick is past
		n           int
	}{
		{processes.ConcurrencyForbid, "launcher: schedule slow: skipped, the run started ", 1},
		{processes.ConcurrencyAllow, "launcher: schedule slow: starting", 2},
	}
	for _, tc := range tests {
		t.Run(tc.concurrency, func(t *testing.T) {
			t.Parallel()
			job := everySecond("slow", `echo "start $$" >> "$LOG"; sleep 2.5; echo "end $$" >> "$LOG"`)
			job.Concurrency = tc.concurrency
			r := startSchedule(t, []processes.Schedule{job}, "PHPBUILD_STOP_TIMEOUT=100ms")
			r.waitText(r.stderr, tc.wait, tc.n)
			log := r.logText()
			starts := strings.Count(log, "start ")
			skipped := strings.Contains(r.stderr.String(), "skipped")
			switch {
			case strings.Contains(log, "end "):
				t.Fatalf("the first run ended before the second tick; log:\n%s", log)
			case tc.concurrency == processes.ConcurrencyForbid && (starts != 1 || !skipped):
				t.Errorf("want one run and a skip; log:\n%s\nstderr:\n%s", log, r.stderr)
			case tc.concurrency == processes.ConcurrencyAllow && skipped:
				t.Errorf("want no run skipped; stderr:\n%s", r.stderr)
			}
			r.stopSchedule(1)
		})
	}
}

func TestScheduleTimeoutKillsRun(t *testing.T) {
	t.Parallel()
	job := everySecond("long", `echo "start $$" >> "$LOG"; sleep 5 & echo $! > "$DIR/sleep.pid"; wait; echo done >> "$LOG"`)
	job.Timeout = processes.Duration(300 * time.Millisecond)
	r := startSchedule(t, []processes.Schedule{job})
	r.waitText(r.stderr, "launcher: schedule long: killed at timeout 300ms: killed by SIGTERM after ", 1)
	if !strings.Contains(r.stderr.String(), "launcher: schedule long: still running at its timeout 300ms, sending SIGTERM\n") {
		t.Errorf("no timeout line; stderr:\n%s", r.stderr)
	}
	// SIGTERM went to the run's process group, not the shell alone.
	b, err := os.ReadFile(filepath.Join(r.dir, "sleep.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(3 * time.Second)
	for state := statField(t, pid, 2); state != "" && state != "Z"; state = statField(t, pid, 2) {
		if time.Now().After(deadline) {
			t.Fatalf("the run's sleep %s still runs after its timeout, state %s", pid, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.stopSchedule(0)
	if strings.Contains(r.logText(), "done") {
		t.Errorf("a run went on past its timeout; log:\n%s", r.logText())
	}
}

func TestScheduleStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout string // PHPBUILD_STOP_TIMEOUT
		code    int
		want    []string // in stderr
	}{
		{"a run finishes within the stop timeout", "3s", 0, []string{
			"launcher: SIGTERM received, starting no more runs; waiting up to 3s for job\n",
			"launcher: schedule job: exited 0 after ",
		}},
		{"a run outliving the stop timeout is killed", "300ms", 1, []string{
			"launcher: SIGTERM received, starting no more runs; waiting up to 300ms for job\n",
			"launcher: schedule job did not end within 300ms, killing it\n",
			"launcher: schedule job: killed by SIGKILL after ",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Overlapping runs allowed, so a run started during the stop
			// would show; the run spans the next tick.
			job := everySecond("job", `echo "start $$" >> "$LOG"; sleep 1.2; echo finished`)
			job.Concurrency = processes.ConcurrencyAllow
			r := startSchedule(t, []processes.Schedule{job}, "PHPBUILD_STOP_TIMEOUT="+tc.timeout)
			r.waitLog("start")
			r.stopSchedule(tc.code)
			for _, want := range tc.want {
				if !strings.Contains(r.stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if n := strings.Count(r.logText(), "start"); n != 1 {
				t.Errorf("%d runs, want the one in progress at the stop; log:\n%s", n, r.logText())
			}
			if finished := strings.Contains(r.stdout.String(), "[job] finished\n"); finished != (tc.code == 0) {
				t.Errorf("run finished: %v, want %v; stdout:\n%s", finished, tc.code == 0, r.stdout)
			}
		})
	}
}

func TestScheduleReapsOrphans(t *testing.T) {
	t.Parallel()
	r := startSchedule(t, []processes.Schedule{everySecond("orphan", `[ -e "$DIR/orphan.pid" ] || ( sleep 1 & echo $! > "$DIR/orphan.pid" )`)})
	assertReaped(t, r)
	r.stopSchedule(0)
}

func TestScheduleBadInput(t *testing.T) {
	t.Parallel()
	job := everySecond("report", "exit 0")
	badCron, badConcurrency := job, job
	badCron.Cron = "61 * * * *"
	badConcurrency.Concurrency = "replace"
	tests := []struct {
		name  string
		table *processes.Table // nil: no file
		want  string           // stderr, DIR for the table's dir
	}{
		{"no schedules", &processes.Table{Processes: []processes.Process{shellProcess("exit 0")}},
			"launcher: no schedules in DIR/processes.json: nothing to run"},
		{"no table", nil,
			"launcher: reading the process table: open DIR/processes.json: no such file or directory"},
		{"bad cron", &processes.Table{Schedules: []processes.Schedule{badCron}},
			`launcher: reading DIR/processes.json: schedule report: cron "61 * * * *": end of range (61) above maximum (59): 61`},
		{"bad concurrency", &processes.Table{Schedules: []processes.Schedule{badConcurrency}},
			`launcher: reading DIR/processes.json: schedule report: concurrency "replace": want "forbid" or "allow"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.table != nil {
				writeTable(t, dir, tc.table)
			}
			r := spawnLauncher(t, dir, []string{"schedule"}, "PHPBUILD_CONFIG_DIR="+dir, "PHPBUILD_ENV_FILE="+filepath.Join(dir, ".env"))
			if code := r.wait(5 * time.Second); code != 2 {
				t.Fatalf("exit code = %d, want 2; stderr:\n%s", code, r.stderr)
			}
			if got, want := r.stderr.String(), strings.ReplaceAll(tc.want, "DIR", dir)+"\n"; got != want {
				t.Errorf("stderr = %q, want %q", got, want)
			}
		})
	}
}
