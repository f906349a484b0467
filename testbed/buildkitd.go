package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// Buildkitd is a private buildkitd started for one test, with its own
// state dir (an empty cache, as on a fresh CI runner) and socket, and the
// test bed's worker and registry settings.
type Buildkitd struct {
	Host string // BUILDKIT_HOST form
	Root string // its state dir
	cmd  *exec.Cmd
	conf string
	log  string
	// dial are the client options Start's probe connects with.
	dial []bkclient.ClientOpt

	remove     func()
	removeOnce sync.Once
}

// buildkitdBinary is the test bed's buildkitd: $PHPBUILD_BUILDKITD, or the
// one `make testbed` built into the cache.
func buildkitdBinary() string {
	if p := os.Getenv("PHPBUILD_BUILDKITD"); p != "" {
		return p
	}
	return filepath.Join(buildkitBinDir(), "buildkitd")
}

// Buildctl is the test bed's buildctl, built with its buildkitd.
func Buildctl() string {
	if p := os.Getenv("PHPBUILD_BUILDKITD"); p != "" {
		return filepath.Join(filepath.Dir(p), "buildctl")
	}
	return filepath.Join(buildkitBinDir(), "buildctl")
}

func buildkitBinDir() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	return filepath.Join(cache, "phpbuild-testbed", "buildkit-v0.28.1")
}

var rootLine = regexp.MustCompile(`(?m)^root = .*$`)
var addressLine = regexp.MustCompile(`(?m)^  address = .*$`)

// StartBuildkitd starts a private buildkitd, stopped when the test ends.
// root "" makes a new, empty state dir. httpRegistries (host:port) are
// reached over plain HTTP, like the test bed's registry.
func StartBuildkitd(t testing.TB, root string, httpRegistries ...string) *Buildkitd {
	t.Helper()
	// A short path: unix socket paths are limited to about 100 bytes.
	sock := fmt.Sprintf("/run/buildkit/phpbuild-test-%d-%d.sock", os.Getpid(), time.Now().UnixNano()%1e6)
	b := startBuildkitd(t, root, "unix://"+sock, "", nil, httpRegistries)
	t.Cleanup(func() { os.Remove(sock) })
	return b
}

// startBuildkitd starts buildkitd listening at host, with extra appended
// to its config, probed with dial.
func startBuildkitd(t testing.TB, root, host, extra string, dial []bkclient.ClientOpt, httpRegistries []string) *Buildkitd {
	t.Helper()
	BuildkitHost(t) // the test bed's own must be up: its config is the template
	conf, err := os.ReadFile(filepath.Join(envOr("PHPBUILD_TESTBED_DIR", "/var/lib/phpbuild-testbed"), "buildkitd.toml"))
	if err != nil {
		t.Fatalf("reading the test bed's buildkitd config: %v", err)
	}
	dir := t.TempDir()
	own := root == ""
	if own {
		// Not under t.TempDir: a killed buildkitd can leave mounts there
		// that only its next start cleans up.
		if root, err = os.MkdirTemp("", "phpbuild-test-buildkitd-"); err != nil {
			t.Fatal(err)
		}
	}
	b := &Buildkitd{Host: host, Root: root, conf: filepath.Join(dir, "buildkitd.toml"), log: filepath.Join(dir, "buildkitd.log"), dial: dial}
	c := rootLine.ReplaceAllString(string(conf), fmt.Sprintf("root = %q", root))
	c = addressLine.ReplaceAllString(c, fmt.Sprintf("  address = [%q]", b.Host)+extra)
	for _, r := range httpRegistries {
		c += fmt.Sprintf("\n[registry.%q]\n  http = true\n  insecure = true\n", r)
	}
	if err := os.WriteFile(b.conf, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Start(t)
	b.remove = func() {
		b.Stop()
		// A killed buildkitd leaves its running steps behind (runc puts
		// them in sessions of their own); a step whose output pipe is gone
		// may spin for the rest of the test run.
		killContainersOf(root)
		if own {
			unmountUnder(root)
			os.RemoveAll(root) // best effort, see above
		}
	}
	t.Cleanup(b.Remove)
	return b
}

// Remove stops buildkitd and deletes the state dir StartBuildkitd made;
// the test's cleanup does it too, at the latest.
func (b *Buildkitd) Remove() {
	b.removeOnce.Do(b.remove)
}

// Stop stops buildkitd gracefully (SIGTERM, so it unmounts its
// snapshots), or kills it after 15 s.
func (b *Buildkitd) Stop() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	b.cmd = nil
}

// Start runs buildkitd (again, after Kill) and waits until it answers.
func (b *Buildkitd) Start(t testing.TB) {
	t.Helper()
	logf, err := os.OpenFile(b.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	b.cmd = exec.Command(buildkitdBinary(), "--config", b.conf)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting buildkitd: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := bkclient.New(ctx, b.Host, b.dial...)
		if err == nil {
			_, err = c.ListWorkers(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(b.log)
			t.Fatalf("private buildkitd did not come up: %v\n%s", err, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill stops buildkitd at once (SIGKILL to its process group), as a crash
// would, and waits for it.
func (b *Buildkitd) Kill() {
	if b.cmd == nil || b.cmd.Process == nil {
		return
	}
	syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	b.cmd.Wait()
	b.cmd = nil
}

// killContainersOf SIGKILLs the processes of the containers a buildkitd
// with state dir root started: runc names each container's cgroup after
// its id, and keeps its state in root/runc-overlayfs/executor/ID.
func killContainersOf(root string) {
	ids, err := os.ReadDir(filepath.Join(root, "runc-overlayfs", "executor"))
	if err != nil || len(ids) == 0 {
		return
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cg, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cgroup"))
		if err != nil {
			continue
		}
		for _, id := range ids {
			if id.IsDir() && strings.Contains(string(cg), "/buildkit/"+id.Name()+"\n") {
				syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first: a killed
// buildkitd leaves its running steps' rootfs mounted.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			points = append(points, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
