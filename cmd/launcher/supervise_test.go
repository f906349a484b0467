package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain turns the test binary into the launcher when asked, so the
// supervisor tests get a real process: its own signals, its own children,
// a real exit code.
func TestMain(m *testing.M) {
	if sock := os.Getenv("LAUNCHER_TEST_LISTEN"); sock != "" {
		os.Exit(listenLikeFPM(sock))
	}
	if os.Getenv("LAUNCHER_TEST_BE_LAUNCHER") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// listenLikeFPM accepts connections on a unix socket for a fake php-fpm,
// which a shell script cannot do itself. It lives as long as the script
// that started it, and at most 10 s.
func listenLikeFPM(sock string) int {
	_ = os.Remove(sock) // as php-fpm does before it binds
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	parent := os.Getppid()
	for i := 0; i < 500 && os.Getppid() == parent; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// fakeServer is a shell script standing in for php-fpm or nginx. It logs
// what happens to it to $LOG, and gives up after 10 s so that a broken test
// never leaves it behind.
func fakeServer(name, onQuit, extra string) string {
	return fmt.Sprintf(`#!/bin/sh
log() { echo "%[1]s $1" >> "$LOG"; }
trap 'log got-hup' HUP
trap 'log got-usr1' USR1
%[2]s
%[3]s
log "args $*"
log "started $$"
i=0
while [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
log gave-up
`, name, onQuit, extra)
}

const (
	quitCleanly = `trap 'log got-quit; exit 0' QUIT`
	ignoreQuit  = `trap 'log ignored-quit' QUIT`
	// listen makes a fake php-fpm accept connections on its socket, which
	// the launcher waits for before it starts nginx.
	listen = `log listening; LAUNCHER_TEST_LISTEN="$PHPBUILD_RUN_DIR/php-fpm.sock" "$TESTBIN" &`
)

// fakeFPM is a fake php-fpm that listens on its socket once extra ran.
func fakeFPM(onQuit, extra string) string {
	return fakeServer("php-fpm", onQuit, extra+"\n"+listen)
}

type launcherRun struct {
	t              *testing.T
	cmd            *exec.Cmd
	dir            string
	log            string
	stdout, stderr *syncBuffer
}

// syncBuffer is an output buffer a test may read while the launcher
// still writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startLauncher(t *testing.T, fpmScript, nginxScript string, env ...string) *launcherRun {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "conf")
	if err := os.Mkdir(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"conf/nginx.conf.tmpl":   "listen {{PORT}};\n",
		"conf/php-fpm.conf.tmpl": "pm.max_children = {{FPM_MAX_CHILDREN}}\n",
		"php-fpm":                fpmScript,
		"nginx":                  nginxScript,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return spawnLauncher(t, dir, nil, append([]string{
		"PHPBUILD_CONFIG_DIR=" + conf,
		"PHPBUILD_RUN_DIR=" + filepath.Join(dir, "run"),
		"PHPBUILD_PHP_FPM=" + filepath.Join(dir, "php-fpm"),
		"PHPBUILD_NGINX=" + filepath.Join(dir, "nginx"),
		"PHP_FPM_MAX_CHILDREN=3", // keeps the test off the host's cgroup files
		"PHPBUILD_STOP_TIMEOUT=3s",
	}, env...)...)
}

// spawnLauncher starts the test binary as `launcher ARGS...` in dir, with
// env added to the test's environment. Its children find $LOG, a file in
// dir to log what happens to them, $DIR and $TESTBIN.
func spawnLauncher(t *testing.T, dir string, args []string, env ...string) *launcherRun {
	t.Helper()
	r := &launcherRun{t: t, dir: dir, log: filepath.Join(dir, "log"), stdout: new(syncBuffer), stderr: new(syncBuffer)}
	r.cmd = exec.Command(os.Args[0], args...)
	r.cmd.Env = append(os.Environ(),
		"LAUNCHER_TEST_BE_LAUNCHER=1",
		"LOG="+r.log,
		"DIR="+dir,
		"TESTBIN="+os.Args[0],
		// The race runtime otherwise sleeps 1 s before every exit.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0",
	)
	r.cmd.Env = append(r.cmd.Env, env...)
	r.cmd.Stdout = r.stdout
	r.cmd.Stderr = r.stderr
	r.cmd.Dir = dir // a child dying of SIGQUIT may dump core in its cwd
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *launcherRun) logText() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

// waitLog waits for every line to appear in the fake servers' log.
func (r *launcherRun) waitLog(lines ...string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := r.logText()
		missing := ""
		for _, l := range lines {
			if !strings.Contains(text, l) {
				missing = l
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("log never showed %q; log:\n%s\nlauncher stderr:\n%s", missing, text, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *launcherRun) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// wait returns the launcher's exit code, failing the test if it runs longer
// than limit.
func (r *launcherRun) wait(limit time.Duration) int {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			r.t.Fatal(err)
		}
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		_ = r.cmd.Process.Kill()
		<-done
		r.t.Fatalf("launcher still running after %v; log:\n%s\nlauncher stderr:\n%s", limit, r.logText(), r.stderr)
		return 0
	}
}

// pidOf reads the pid a fake server logged on start.
func (r *launcherRun) pidOf(name string) int {
	r.t.Helper()
	for _, line := range strings.Split(r.logText(), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" started "); ok {
			pid, err := strconv.Atoi(rest)
			if err != nil {
				r.t.Fatal(err)
			}
			return pid
		}
	}
	r.t.Fatalf("%s never started; log:\n%s", name, r.logText())
	return 0
}

func assertGone(t *testing.T, name string, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("%s (pid %d) still exists after the launcher exited: %v", name, pid, err)
	}
}

func TestSIGTERMStopsNginxThenFPM(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(quitCleanly, ""), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started", "nginx started")
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
	log := r.logText()
	nginx, fpm := strings.Index(log, "nginx got-quit"), strings.Index(log, "php-fpm got-quit")
	if nginx < 0 || fpm < 0 || nginx > fpm {
		t.Fatalf("want nginx to get QUIT before php-fpm; log:\n%s", log)
	}
	if !strings.Contains(r.stderr.String(), "launcher: port 8080, PHP_FPM_MAX_CHILDREN=3 → 3 php-fpm workers\n") {
		t.Errorf("start line missing; stderr:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "launcher: serving on :8080 (php-fpm 3 workers, nginx)\n") {
		t.Errorf("serving line missing; stderr:\n%s", r.stderr)
	}
	run := filepath.Join(r.dir, "run")
	for _, want := range []string{
		"php-fpm args --nodaemonize --fpm-config " + run + "/php-fpm.conf\n",
		"nginx args -c " + run + "/nginx.conf -g daemon off;\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if b, err := os.ReadFile(filepath.Join(run, "php-fpm.conf")); err != nil || string(b) != "pm.max_children = 3\n" {
		t.Errorf("rendered php-fpm.conf = %q, %v", b, err)
	}
}

func TestChildIgnoringQUITIsKilledAfterTimeout(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(ignoreQuit, ""), fakeServer("nginx", quitCleanly, ""),
		"PHPBUILD_STOP_TIMEOUT=700ms")
	r.waitLog("php-fpm started", "nginx started")
	fpm := r.pidOf("php-fpm")
	start := time.Now()
	r.signal(syscall.SIGINT)
	code := r.wait(5 * time.Second)
	elapsed := time.Since(start)
	if code == 0 {
		t.Errorf("exit code = 0, want non-zero after a kill")
	}
	if elapsed < 700*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("stopped after %v, want about the 700ms timeout", elapsed)
	}
	if !strings.Contains(r.logText(), "php-fpm ignored-quit") {
		t.Errorf("php-fpm never got QUIT; log:\n%s", r.logText())
	}
	if !strings.Contains(r.stderr.String(), "php-fpm did not stop within 700ms, killing it") {
		t.Errorf("no kill line; stderr:\n%s", r.stderr)
	}
	assertGone(t, "php-fpm", fpm)
}

func TestNginxDyingStopsFPM(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(quitCleanly, ""),
		"#!/bin/sh\necho \"nginx started $$\" >> \"$LOG\"\nsleep 0.3\nexit 3\n")
	r.waitLog("php-fpm started", "nginx started")
	if code := r.wait(5 * time.Second); code != 3 {
		t.Fatalf("exit code = %d, want nginx's 3; stderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.logText(), "php-fpm got-quit") {
		t.Errorf("php-fpm was not stopped gracefully; log:\n%s", r.logText())
	}
	if !strings.Contains(r.stderr.String(), "launcher: nginx exited with code 3, stopping php-fpm and exiting 3\n") {
		t.Errorf("no line saying nginx died; stderr:\n%s", r.stderr)
	}
}

func TestFPMKilledBySignalExitsOne(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, "#!/bin/sh\nlog() { echo \"php-fpm $1\" >> \"$LOG\"; }\n"+listen+"\nlog \"started $$\"\nsleep 0.3\nkill -SEGV $$\n",
		fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started")
	if code := r.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code = %d, want 1; stderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "launcher: php-fpm was killed by segmentation fault, stopping nginx") {
		t.Errorf("no line saying php-fpm died; stderr:\n%s", r.stderr)
	}
}

func TestSIGHUPIsForwardedToBoth(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(quitCleanly, ""), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started", "nginx started")
	r.signal(syscall.SIGHUP)
	r.waitLog("php-fpm got-hup", "nginx got-hup")
	r.signal(syscall.SIGUSR1)
	r.waitLog("php-fpm got-usr1", "nginx got-usr1")
	r.signal(syscall.SIGQUIT)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

func TestOrphansAreReaped(t *testing.T) {
	t.Parallel()
	// The subshell exits at once, leaving its sleep to the launcher. The
	// sleep is long enough for its parent to be read on a loaded machine.
	orphan := `( sleep 2 & echo $! > "$DIR/orphan.pid" )`
	r := startLauncher(t, fakeFPM(quitCleanly, orphan), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started", "nginx started")
	b, err := os.ReadFile(filepath.Join(r.dir, "orphan.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	if ppid := statField(t, pid, 3); ppid != strconv.Itoa(r.cmd.Process.Pid) {
		t.Fatalf("orphan's parent = %s, want the launcher %d", ppid, r.cmd.Process.Pid)
	}
	deadline := time.Now().Add(8 * time.Second)
	for statField(t, pid, 2) != "" {
		if time.Now().After(deadline) {
			t.Fatalf("orphan %s not reaped, state %s", pid, statField(t, pid, 2))
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

// statField returns field n (1-based, after the command name) of
// /proc/PID/stat, or "" once the process is gone.
func statField(t *testing.T, pid string, n int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return "" // ESRCH: reaped between the open and the read
	}
	if err != nil {
		t.Fatal(err)
	}
	// The command name may hold spaces; fields are counted after its ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return fields[n-2]
}

func TestMissingBinaryStopsTheOther(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(quitCleanly, ""), "", "PHPBUILD_NGINX=/nonexistent/nginx")
	if code := r.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code = %d, want 1; stderr:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), "launcher: starting /nonexistent/nginx: no such file or directory\n") {
		t.Errorf("no start error line; stderr:\n%s", r.stderr)
	}
}

func TestMissingTemplateIsOneLine(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, "", "", "PHPBUILD_CONFIG_DIR=/nonexistent")
	if code := r.wait(5 * time.Second); code != 1 {
		t.Fatalf("exit code = %d, want 1", code)
	}
	want := "launcher: reading config template: open /nonexistent/nginx.conf.tmpl: no such file or directory\n"
	if got := r.stderr.String(); got != want {
		t.Fatalf("stderr = %q, want %q", got, want)
	}
}

func TestNginxStartsOnlyOnceFPMAccepts(t *testing.T) {
	t.Parallel()
	// The socket file exists a while before anything listens on it, as
	// between php-fpm's bind and listen; only a connection tells them apart.
	early := `sleep 0.2; : > "$PHPBUILD_RUN_DIR/php-fpm.sock"; log socket-file; sleep 0.4`
	r := startLauncher(t, fakeFPM(quitCleanly, early), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm listening", "nginx started")
	log := r.logText()
	file, listening, nginx := strings.Index(log, "php-fpm socket-file"), strings.Index(log, "php-fpm listening"), strings.Index(log, "nginx started")
	if file < 0 || !(file < listening && listening < nginx) {
		t.Fatalf("want the socket file, then php-fpm listening, then nginx started; log:\n%s", log)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

func TestFPMDyingBeforeReadyExitsWithItsCode(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, "#!/bin/sh\necho \"php-fpm started $$\" >> \"$LOG\"\nsleep 0.2\nexit 78\n",
		fakeServer("nginx", quitCleanly, ""))
	if code := r.wait(5 * time.Second); code != 78 {
		t.Fatalf("exit code = %d, want php-fpm's 78; stderr:\n%s", code, r.stderr)
	}
	want := "launcher: php-fpm exited with code 78 before accepting connections on " + filepath.Join(r.dir, "run", "php-fpm.sock") + ", exiting 78\n"
	if !strings.Contains(r.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.logText(), "nginx started") || strings.Contains(r.stderr.String(), "serving on") {
		t.Errorf("nginx started without php-fpm; log:\n%s\nstderr:\n%s", r.logText(), r.stderr)
	}
}

func TestStopWhileWaitingForFPM(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeServer("php-fpm", quitCleanly, ""), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started")
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
	if log := r.logText(); !strings.Contains(log, "php-fpm got-quit") || strings.Contains(log, "nginx started") {
		t.Errorf("want php-fpm stopped and nginx never started; log:\n%s", log)
	}
}

func TestChildrenHaveTheirOwnProcessGroups(t *testing.T) {
	t.Parallel()
	r := startLauncher(t, fakeFPM(quitCleanly, ""), fakeServer("nginx", quitCleanly, ""))
	r.waitLog("php-fpm started", "nginx started")
	for _, name := range []string{"php-fpm", "nginx"} {
		pid := r.pidOf(name)
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
			t.Errorf("%s (pid %d) is in process group %d, %v; want its own", name, pid, pgid, err)
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

func TestAccepts(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "php-fpm.sock")
	if accepts(sock) {
		t.Fatal("accepts() with no socket file")
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if !accepts(sock) {
		t.Fatal("accepts() = false with a listener")
	}
	// What a killed php-fpm leaves: the socket file, nobody listening.
	l.SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatal(err)
	}
	if accepts(sock) {
		t.Fatal("accepts() = true on a stale socket file")
	}
}

func TestStandardEnvFileReachesFPM(t *testing.T) {
	t.Parallel()
	env := filepath.Join(t.TempDir(), ".env")
	file := "\uFEFF# saved on Windows\r\nexport APP_NAME=My Shop # shown in mails\r\n\r\nMAIL_FROM_NAME=\"${APP_NAME}\"\r\n" +
		"DB_PASSWORD='p#ss w0rd'\r\nAPP_DEBUG=\r\nJWT_KEY=\"-----BEGIN KEY-----\r\nMIIB\r\n-----END KEY-----\"\r\n"
	if err := os.WriteFile(env, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	check := `log "env APP_NAME=$APP_NAME|MAIL_FROM_NAME=$MAIL_FROM_NAME|DB_PASSWORD=$DB_PASSWORD|APP_DEBUG=${APP_DEBUG-unset}"
[ "$JWT_KEY" = "$(printf '%s\n%s\n%s' '-----BEGIN KEY-----' MIIB '-----END KEY-----')" ] && log jwt-key-intact`
	r := startLauncher(t, fakeFPM(quitCleanly, check), fakeServer("nginx", quitCleanly, ""), "PHPBUILD_ENV_FILE="+env)
	r.waitLog("php-fpm env APP_NAME=My Shop|MAIL_FROM_NAME=My Shop|DB_PASSWORD=p#ss w0rd|APP_DEBUG=\n", "php-fpm jwt-key-intact", "nginx started")
	r.signal(syscall.SIGTERM)
	if code := r.wait(5 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; stderr:\n%s", code, r.stderr)
	}
}

func TestMalformedEnvFileExits2(t *testing.T) {
	t.Parallel()
	env := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(env, []byte("APP_NAME=shop\nAPP_KEY=\"base64:abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startLauncher(t, fakeFPM(quitCleanly, ""), fakeServer("nginx", quitCleanly, ""), "PHPBUILD_ENV_FILE="+env)
	if code := r.wait(5 * time.Second); code != 2 {
		t.Fatalf("exit code = %d, want 2; stderr:\n%s", code, r.stderr)
	}
	want := "launcher: " + env + `:2: APP_KEY: unterminated double-quoted value: no closing " before the end of the file` + "\n"
	if got := r.stderr.String(); got != want {
		t.Fatalf("stderr = %q, want %q", got, want)
	}
	if log := r.logText(); log != "" {
		t.Errorf("servers started with a malformed env file; log:\n%s", log)
	}
}
