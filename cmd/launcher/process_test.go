package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/processes"
)

// writeTable writes t where the launcher reads it in dir, as an image
// carries it.
func writeTable(t *testing.T, dir string, table *processes.Table) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, processes.FileName), table.ImageJSON(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// spawnWithTable starts `launcher ARGS...` with table as the image's
// process table and $DIR/.env as its env file. PHPBUILD_STOP_TIMEOUT is
// unset unless env sets it.
func spawnWithTable(t *testing.T, table *processes.Table, args []string, env ...string) *launcherRun {
	t.Helper()
	dir := t.TempDir()
	writeTable(t, dir, table)
	return spawnLauncher(t, dir, args, append([]string{
		"PHPBUILD_CONFIG_DIR=" + dir,
		"PHPBUILD_ENV_FILE=" + filepath.Join(dir, ".env"),
		"PHPBUILD_STOP_TIMEOUT=",
	}, env...)...)
}

// shellProcess is a process type running script, with the defaults
// phpbuild gives one but a stop timeout that suits a test.
func shellProcess(script string) processes.Process {
	return processes.Process{Name: "worker", Command: processes.Shell(script), Replicas: 1,
		StopSignal: "SIGTERM", StopTimeout: processes.Duration(3 * time.Second), StartPeriod: processes.Duration(processes.DefaultStartPeriod)}
}

// workerScript logs to $LOG and runs about 10 s unless stopped, so that a
// broken test never leaves it behind; traps sets its signal handling.
func workerScript(traps string) string {
	return `log() { echo "worker $1" >> "$LOG"; }
` + traps + `
log "started $$"
i=0
while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
log gave-up`
}

func startProcess(t *testing.T, p processes.Process, env ...string) *launcherRun {
	t.Helper()
	return spawnWithTable(t, &processes.Table{Processes: []processes.Process{p}}, []string{"process", p.Name}, env...)
}

// waitText waits until buf holds want n times.
func (r *launcherRun) waitText(buf *syncBuffer, want string, n int) {
	r.t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for strings.Count(buf.String(), want) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("never saw %q %d times; stdout:\n%s\nstderr:\n%s\nlog:\n%s", want, n, r.stdout, r.stderr, r.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessExitStatusPassesThrough(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		command []string
		code    int
		end     string // the launcher's last line, up to the duration
	}{
		{"success", processes.Shell("exit 0"), 0, "launcher: process worker: exited 0 after "},
		{"failure", processes.Shell("exit 7"), 7, "launcher: process worker: exited 7 after "},
		{"killed by a signal", processes.Shell("kill -USR1 $$"), 128 + 10, "launcher: process worker: killed by SIGUSR1 after "},
		{"argv looked up in PATH", []string{"sh", "-c", "exit 5", "ignored"}, 5, "launcher: process worker: exited 5 after "},
		{"no such program", []string{"/nonexistent/php", "worker.php"}, 127, "launcher: process worker: starting /nonexistent/php: no such file or directory"},
		{"not in PATH", []string{"no-such-program-xyz"}, 127, `launcher: process worker: starting no-such-program-xyz: exec: "no-such-program-xyz": executable file not found in $PATH`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := shellProcess("")
			p.Command = tc.command
			r := startProcess(t, p)
			if code := r.wait(5 * time.Second); code != tc.code {
				t.Fatalf("exit code = %d, want %d; stderr:\n%s", code, tc.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSuffix(r.stderr.String(), "\n"), "\n")
			if want := "launcher: process worker: " + processes.Display(tc.command); lines[0] != want {
				t.Errorf("first line = %q, want %q", lines[0], want)
			}
			if last := lines[len(lines)-1]; len(lines) != 2 || !strings.HasPrefix(last, tc.end) {
				t.Errorf("stderr = %q, want a start line and a last line starting %q", lines, tc.end)
			}
		})
	}
}

func TestProcessEndLineHasDuration(t *testing.T) {
	t.Parallel()
	r := startProcess(t, shellProcess("sleep 0.2; kill -TERM $$"))
	if code := r.wait(5 * time.Second); code != 143 {
		t.Fatalf("exit code = %d, want 143; stderr:\n%s", code, r.stderr)
	}
	end := regexp.MustCompile(`(?m)^launcher: process worker: killed by SIGTERM after (\d+)ms, exiting 143$`)
	m := end.FindStringSubmatch(r.stderr.String())
	if m == nil {
		t.Fatalf("no end line; stderr:\n%s", r.stderr)
	}
	if ms, _ := strconv.Atoi(m[1]); ms < 200 {
		t.Errorf("end line says %sms, want the 200ms the command took at least", m[1])
	}
}

func TestProcessGetsTheEnvFile(t *testing.T) {
	t.Parallel()
	table := &processes.Table{Processes: []processes.Process{
		shellProcess(`echo "greeting=$GREETING mail=$MAIL_FROM_NAME timeout=$PHPBUILD_STOP_TIMEOUT"`)}}
	dir := t.TempDir()
	writeTable(t, dir, table)
	env := "GREETING='hello world'\nAPP_NAME=Shop\nMAIL_FROM_NAME=\"${APP_NAME}\"\nPHPBUILD_STOP_TIMEOUT=1h\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	r := spawnLauncher(t, dir, []string{"process", "worker"},
		"PHPBUILD_CONFIG_DIR="+dir, "PHPBUILD_ENV_FILE="+filepath.Join(dir, ".env"), "PHPBUILD_STOP_TIMEOUT=2s")
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
	// The launcher's own settings stay as the image set them.
	if got, want := r.stdout.String(), "greeting=hello world mail=Shop timeout=2s\n"; got != want {
		t.Errorf("child's output = %q, want %q", got, want)
	}
}

func TestProcessStopsWithItsStopSignal(t *testing.T) {
	t.Parallel()
	traps := `trap 'log got-TERM; exit 3' TERM
trap 'log got-QUIT; exit 4' QUIT
trap 'log got-USR1; exit 5' USR1
trap 'log got-INT; exit 6' INT`
	tests := []struct {
		name       string
		stopSignal string
		send       syscall.Signal
		code       int
	}{
		{"SIGTERM, the default", "SIGTERM", syscall.SIGTERM, 3},
		{"SIGTERM becomes the stop signal", "SIGQUIT", syscall.SIGTERM, 4},
		{"SIGINT becomes the stop signal", "SIGUSR1", syscall.SIGINT, 5},
		{"SIGQUIT, the image's stop signal", "SIGINT", syscall.SIGQUIT, 6},
		{"the stop signal itself", "SIGUSR1", syscall.SIGUSR1, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := shellProcess(workerScript(traps))
			p.StopSignal = tc.stopSignal
			r := startProcess(t, p)
			r.waitLog("started")
			r.signal(tc.send)
			if code := r.wait(5 * time.Second); code != tc.code {
				t.Fatalf("exit code = %d, want the child's %d; stderr:\n%s", code, tc.code, r.stderr)
			}
			if log := r.logText(); strings.Count(log, "got-") != 1 || !strings.Contains(log, "got-"+strings.TrimPrefix(tc.stopSignal, "SIG")) {
				t.Errorf("want the child to get %s alone; log:\n%s", tc.stopSignal, log)
			}
		})
	}
}

func TestProcessIgnoringStopIsKilled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		table time.Duration
		env   string
	}{
		{"the table's stop timeout", 400 * time.Millisecond, ""},
		{"PHPBUILD_STOP_TIMEOUT wins", time.Minute, "400ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := shellProcess(workerScript(`trap 'log ignored-term' TERM`))
			p.StopTimeout = processes.Duration(tc.table)
			r := startProcess(t, p, "PHPBUILD_STOP_TIMEOUT="+tc.env)
			r.waitLog("started")
			pid := r.pidOf("worker")
			start := time.Now()
			r.signal(syscall.SIGTERM)
			code := r.wait(5 * time.Second)
			elapsed := time.Since(start)
			if code != 137 {
				t.Errorf("exit code = %d, want 137 after SIGKILL; stderr:\n%s", code, r.stderr)
			}
			if elapsed < 400*time.Millisecond || elapsed > 3*time.Second {
				t.Errorf("stopped after %v, want about the 400ms timeout", elapsed)
			}
			for _, want := range []string{
				"launcher: SIGTERM received, sending SIGTERM to process worker (timeout 400ms)\n",
				"launcher: process worker did not stop within 400ms, killing it\n",
				"launcher: process worker: killed by SIGKILL after ",
			} {
				if !strings.Contains(r.stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			r.waitLog("ignored-term")
			assertGone(t, "the process", pid)
		})
	}
}

func TestProcessForwardsSignals(t *testing.T) {
	t.Parallel()
	r := startProcess(t, shellProcess(workerScript(`trap 'log got-hup' HUP
trap 'log got-usr2' USR2`)))
	r.waitLog("started")
	r.signal(syscall.SIGHUP)
	r.waitLog("got-hup")
	r.signal(syscall.SIGUSR2)
	r.waitLog("got-usr2")
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 143 {
		t.Fatalf("exit code = %d, want 143 (the child's SIGTERM); stderr:\n%s", code, r.stderr)
	}
}

func TestProcessReapsOrphans(t *testing.T) {
	t.Parallel()
	r := startProcess(t, shellProcess(`( sleep 1 & echo $! > "$DIR/orphan.pid" ); exec sleep 3`))
	assertReaped(t, r)
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 143 {
		t.Fatalf("exit code = %d, want 143; stderr:\n%s", code, r.stderr)
	}
}

// assertReaped waits for the orphan whose pid a child wrote to
// $DIR/orphan.pid, checks that it is the launcher's, and that the launcher
// reaps it.
func assertReaped(t *testing.T, r *launcherRun) {
	t.Helper()
	file := filepath.Join(r.dir, "orphan.pid")
	deadline := time.Now().Add(5 * time.Second)
	b, err := os.ReadFile(file)
	for ; err != nil || !strings.HasSuffix(string(b), "\n"); b, err = os.ReadFile(file) {
		if time.Now().After(deadline) {
			t.Fatalf("no orphan: %v; stderr:\n%s", err, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := strings.TrimSpace(string(b))
	// The subshell that wrote the file may not have exited yet: the orphan
	// is the launcher's once it has.
	for ppid := statField(t, pid, 3); ppid != strconv.Itoa(r.cmd.Process.Pid); ppid = statField(t, pid, 3) {
		if time.Now().After(deadline) {
			t.Fatalf("orphan's parent = %s, want the launcher %d", ppid, r.cmd.Process.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for statField(t, pid, 2) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("orphan %s not reaped, state %s", pid, statField(t, pid, 2))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestProcessBadInput(t *testing.T) {
	t.Parallel()
	worker := shellProcess("exit 0")
	badSignal := worker
	badSignal.StopSignal = "SIGFOO"
	table := func(p processes.Process) string {
		return string((&processes.Table{Processes: []processes.Process{p}}).ImageJSON())
	}
	tests := []struct {
		name  string
		table string // processes.json; "" for none
		env   string // the env file
		args  []string
		stop  string // PHPBUILD_STOP_TIMEOUT
		want  string // stderr, DIR for the table's dir
	}{
		{"unknown name", table(worker), "", []string{"nope"}, "",
			`launcher: no process "nope" in DIR/processes.json (processes: worker)`},
		{"empty table", `{}`, "", []string{"worker"}, "",
			`launcher: no process "worker" in DIR/processes.json (it declares none)`},
		{"no table", "", "", []string{"worker"}, "",
			`launcher: reading the process table: open DIR/processes.json: no such file or directory`},
		{"malformed table", `{"processes": [`, "", []string{"worker"}, "",
			`launcher: reading the process table in DIR/processes.json: unexpected end of JSON input`},
		{"bad stop signal", table(badSignal), "", []string{"worker"}, "",
			`launcher: reading DIR/processes.json: process worker: stopSignal "SIGFOO" is not a signal a process can be asked to stop with`},
		{"malformed env file", table(worker), "APP_KEY=\"abc\n", []string{"worker"}, "",
			`launcher: DIR/.env:1: APP_KEY: unterminated double-quoted value: no closing " before the end of the file`},
		{"bad PHPBUILD_STOP_TIMEOUT", table(worker), "", []string{"worker"}, "soon",
			`launcher: PHPBUILD_STOP_TIMEOUT must be a duration like 25s, got "soon"`},
		{"no name", `{}`, "", nil, "", `launcher: usage: launcher process NAME`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tc.table != "" {
				if err := os.WriteFile(filepath.Join(dir, processes.FileName), []byte(tc.table), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.env != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.env), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r := spawnLauncher(t, dir, append([]string{"process"}, tc.args...),
				"PHPBUILD_CONFIG_DIR="+dir, "PHPBUILD_ENV_FILE="+filepath.Join(dir, ".env"), "PHPBUILD_STOP_TIMEOUT="+tc.stop)
			if code := r.wait(5 * time.Second); code != 2 {
				t.Fatalf("exit code = %d, want 2; stderr:\n%s", code, r.stderr)
			}
			if got, want := r.stderr.String(), strings.ReplaceAll(tc.want, "DIR", dir)+"\n"; got != want {
				t.Errorf("stderr = %q, want %q", got, want)
			}
		})
	}
}
