package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	mib = 1 << 20

	// fpmReserve is kept back from the memory limit for the nginx workers
	// and the php-fpm master, which do not scale with the pool.
	fpmReserve = 64 * mib

	minChildren = 2
	maxChildren = 64

	// workersPerCPU bounds the pool by CPU as well as memory: a PHP request
	// spends much of its time waiting on a database or an API, so several
	// workers per CPU keep the CPU busy and leave a free worker for the
	// health check under load, while many more only queue for the CPU and
	// make a graceful stop wait on every one of them (64 idle workers took
	// 6.5 s to stop, 2 took 0.5 s).
	workersPerCPU = 8

	// defaultPHPMemoryLimit is PHP's own default, so sizing matches what a
	// worker may really use when the image does not set memory_limit.
	defaultPHPMemoryLimit = "128M"

	// cgroupV1Unlimited: v1 reports "no limit" as a page-rounded
	// LONG_MAX (9223372036854771712), never a sentinel string.
	cgroupV1Unlimited = 1 << 60
)

// settings is everything the launcher needs, read once from the
// environment at start.
type settings struct {
	Port        int
	ConfigDir   string
	RunDir      string
	PHPFPM      string
	Nginx       string
	StopTimeout time.Duration
	Workers     workerSizing
	// Env is the children's environment: the launcher's own, plus the
	// release's env snapshot.
	Env []string
}

// system names the files worker sizing reads, so tests can point them at a
// temporary directory.
type system struct {
	CgroupV2Max   string
	CgroupV1Limit string
	Meminfo       string
	// CgroupV2CPU is cpu.max ("QUOTA PERIOD" or "max PERIOD");
	// CgroupV1Quota and CgroupV1Period are cgroup v1's CFS pair.
	CgroupV2CPU    string
	CgroupV1Quota  string
	CgroupV1Period string
	// CPUs is the number of CPUs the process may run on (its affinity,
	// which a cpuset limit narrows).
	CPUs int
}

var hostSystem = system{
	CgroupV2Max:    "/sys/fs/cgroup/memory.max",
	CgroupV1Limit:  "/sys/fs/cgroup/memory/memory.limit_in_bytes",
	Meminfo:        "/proc/meminfo",
	CgroupV2CPU:    "/sys/fs/cgroup/cpu.max",
	CgroupV1Quota:  "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
	CgroupV1Period: "/sys/fs/cgroup/cpu/cpu.cfs_period_us",
	CPUs:           runtime.NumCPU(),
}

// workerSizing records how the php-fpm pool size was chosen, so the start
// line can explain it.
type workerSizing struct {
	Children  int
	Override  bool   // PHP_FPM_MAX_CHILDREN decided, nothing was measured
	Memory    int64  // bytes the pool was sized against
	Source    string // where Memory came from
	PHPLimit  string // memory_limit as given
	SizedWith string // memory_limit used for the division when it differs (-1)
	CPUs      float64
	CPUSource string // where CPUs came from
}

func (w workerSizing) String() string {
	if w.Override {
		return fmt.Sprintf("PHP_FPM_MAX_CHILDREN=%d → %d php-fpm workers", w.Children, w.Children)
	}
	limit := w.PHPLimit
	if w.SizedWith != "" {
		limit += " (sized as " + w.SizedWith + ")"
	}
	return fmt.Sprintf("memory limit %d MiB (%s), memory_limit %s, %s CPUs (%s) → %d php-fpm workers",
		w.Memory/mib, w.Source, limit, strconv.FormatFloat(w.CPUs, 'f', -1, 64), w.CPUSource, w.Children)
}

// loadSettings reads the launcher's environment; getenv is os.Getenv
// outside tests.
func loadSettings(getenv func(string) string, sys system) (settings, error) {
	s := settings{
		ConfigDir: envOr(getenv, "PHPBUILD_CONFIG_DIR", "/etc/phpbuild"),
		RunDir:    envOr(getenv, "PHPBUILD_RUN_DIR", "/run/phpbuild"),
		PHPFPM:    envOr(getenv, "PHPBUILD_PHP_FPM", "/usr/local/sbin/php-fpm"),
		Nginx:     envOr(getenv, "PHPBUILD_NGINX", "/usr/sbin/nginx"),
	}
	var err error
	if s.Port, err = parsePort(envOr(getenv, "PORT", "8080")); err != nil {
		return settings{}, err
	}
	if s.StopTimeout, err = parseStopTimeout(envOr(getenv, "PHPBUILD_STOP_TIMEOUT", "8s") /* inside Docker's default 10 s before SIGKILL */); err != nil {
		return settings{}, err
	}
	if s.Workers, err = sizeWorkers(getenv("PHP_FPM_MAX_CHILDREN"), envOr(getenv, "PHP_MEMORY_LIMIT", defaultPHPMemoryLimit), sys); err != nil {
		return settings{}, err
	}
	return s, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

func parsePort(v string) (int, error) {
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("PORT must be a number from 1 to 65535, got %q", v)
	}
	return p, nil
}

// parseStopTimeout takes a Go duration ("25s") or, as orchestrators
// usually spell grace periods, bare seconds ("25").
func parseStopTimeout(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("PHPBUILD_STOP_TIMEOUT must be a duration like 25s, got %q", v)
	}
	return d, nil
}

// parsePHPSize reads php.ini's size shorthand (128M, 1G, 512K, plain
// bytes). -1, PHP's "no limit", is returned as -1.
func parsePHPSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	if s == "-1" {
		return -1, nil
	}
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("memory_limit must be like 128M, 1G or -1, got %q", v)
	}
	return n * mult, nil
}

// sizeWorkers picks pm.max_children: as many as can each reach
// memory_limit without the container being OOM-killed, and no more than
// workersPerCPU per CPU the container may use:
//
//	min((memory - 64 MiB) / memory_limit, ceil(CPUs × 8)), within 2…64
func sizeWorkers(override, phpLimit string, sys system) (workerSizing, error) {
	if override != "" {
		n, err := strconv.Atoi(strings.TrimSpace(override))
		if err != nil || n < 1 {
			return workerSizing{}, fmt.Errorf("PHP_FPM_MAX_CHILDREN must be a positive number, got %q", override)
		}
		return workerSizing{Children: n, Override: true}, nil
	}
	w := workerSizing{PHPLimit: phpLimit}
	per, err := parsePHPSize(phpLimit)
	if err != nil {
		return workerSizing{}, fmt.Errorf("reading PHP_MEMORY_LIMIT: %w", err)
	}
	if per < 0 {
		// An unlimited worker has no size to divide by; PHP's default is
		// the most honest guess of what one really uses.
		w.SizedWith = defaultPHPMemoryLimit
		per, _ = parsePHPSize(defaultPHPMemoryLimit)
	}
	if w.Memory, w.Source, err = memoryLimit(sys); err != nil {
		return workerSizing{}, err
	}
	if w.CPUs, w.CPUSource, err = cpuLimit(sys); err != nil {
		return workerSizing{}, err
	}
	n := min((w.Memory-fpmReserve)/per, int64(math.Ceil(w.CPUs*workersPerCPU)))
	w.Children = int(min(max(n, minChildren), maxChildren))
	return w, nil
}

// cpuLimit returns the CPUs the container may use: its CFS quota when one
// is set and is below the CPUs it may run on.
func cpuLimit(sys system) (float64, string, error) {
	cpus, source := float64(max(sys.CPUs, 1)), "host"
	quota, period, cg, err := cfsQuota(sys)
	if err != nil {
		return 0, "", err
	}
	if quota > 0 && period > 0 && float64(quota)/float64(period) < cpus {
		cpus, source = float64(quota)/float64(period), cg
	}
	// Two decimals are all a quota means in practice (--cpus 1.5).
	return math.Round(cpus*100) / 100, source, nil
}

// cfsQuota reads the CFS bandwidth limit; quota -1 means none.
func cfsQuota(sys system) (quota, period int64, source string, err error) {
	if b, err := os.ReadFile(sys.CgroupV2CPU); err == nil {
		f := strings.Fields(string(b))
		if len(f) != 2 {
			return 0, 0, "", fmt.Errorf("reading %s: unexpected value %q", sys.CgroupV2CPU, strings.TrimSpace(string(b)))
		}
		if f[0] == "max" {
			return -1, 0, "", nil
		}
		q, err1 := strconv.ParseInt(f[0], 10, 64)
		p, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, "", fmt.Errorf("reading %s: unexpected value %q", sys.CgroupV2CPU, strings.TrimSpace(string(b)))
		}
		return q, p, "cgroup v2", nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, 0, "", fmt.Errorf("reading cgroup CPU limit: %w", err)
	}
	var v [2]int64
	for i, path := range []string{sys.CgroupV1Quota, sys.CgroupV1Period} {
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return -1, 0, "", nil
		}
		if err != nil {
			return 0, 0, "", fmt.Errorf("reading cgroup CPU limit: %w", err)
		}
		if v[i], err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
			return 0, 0, "", fmt.Errorf("reading %s: unexpected value %q", path, strings.TrimSpace(string(b)))
		}
	}
	return v[0], v[1], "cgroup v1", nil
}

// memoryLimit returns the container's memory limit, or the host's memory
// when the cgroup sets none.
func memoryLimit(sys system) (int64, string, error) {
	for _, c := range []struct {
		path, source string
		unlimited    func(string) bool
	}{
		{sys.CgroupV2Max, "cgroup v2", func(v string) bool { return v == "max" }},
		{sys.CgroupV1Limit, "cgroup v1", func(v string) bool {
			n, err := strconv.ParseInt(v, 10, 64)
			return err == nil && n >= cgroupV1Unlimited
		}},
	} {
		b, err := os.ReadFile(c.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, "", fmt.Errorf("reading cgroup memory limit: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if c.unlimited(v) {
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, "", fmt.Errorf("reading %s: unexpected value %q", c.path, v)
		}
		return n, c.source, nil
	}
	n, err := memTotal(sys.Meminfo)
	if err != nil {
		return 0, "", err
	}
	return n, "host memory, no cgroup limit", nil
}

func memTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading host memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       16303412 kB
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("reading %s: unexpected MemTotal %q", path, fields[1])
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	return 0, fmt.Errorf("reading %s: no MemTotal line", path)
}

// templates are the config files rendered at start, template name to
// output name.
var templates = []struct{ in, out string }{
	{"nginx.conf.tmpl", "nginx.conf"},
	{"php-fpm.conf.tmpl", "php-fpm.conf"},
}

// placeholder matches anything that looks like one, known or not, so that
// a typo fails the start instead of reaching nginx as literal text.
var placeholder = regexp.MustCompile(`\{\{(.*?)\}\}`)

// renderConfig writes the runtime config files into s.RunDir.
func renderConfig(s settings) error {
	values := map[string]string{
		"PORT":             strconv.Itoa(s.Port),
		"FPM_MAX_CHILDREN": strconv.Itoa(s.Workers.Children),
		"RUN_DIR":          s.RunDir,
	}
	rendered := make([][]byte, len(templates))
	for i, t := range templates {
		path := filepath.Join(s.ConfigDir, t.in)
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading config template: %w", err)
		}
		if rendered[i], err = substitute(path, src, values); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.RunDir, 0o755); err != nil {
		return fmt.Errorf("creating run dir: %w", err)
	}
	for i, t := range templates {
		if err := os.WriteFile(filepath.Join(s.RunDir, t.out), rendered[i], 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", t.out, err)
		}
	}
	return nil
}

func substitute(name string, src []byte, values map[string]string) ([]byte, error) {
	var out bytes.Buffer
	for i, line := range bytes.SplitAfter(src, []byte("\n")) {
		var unknown []byte
		orig := line
		line = placeholder.ReplaceAllFunc(line, func(m []byte) []byte {
			key := strings.TrimSpace(string(m[2 : len(m)-2]))
			if v, ok := values[key]; ok {
				return []byte(v)
			}
			if unknown == nil {
				unknown = m
			}
			return m
		})
		if unknown == nil && bytes.Count(orig, []byte("{{")) > len(placeholder.FindAll(orig, -1)) {
			unknown = []byte("{{") // opened, never closed
		}
		if unknown != nil {
			return nil, fmt.Errorf("rendering %s:%d: unknown placeholder %s (known: {{PORT}}, {{FPM_MAX_CHILDREN}}, {{RUN_DIR}})", name, i+1, unknown)
		}
		out.Write(line)
	}
	return out.Bytes(), nil
}

// fpmSocket is where php-fpm listens, in the run dir; the php-fpm and nginx
// templates name it too.
const fpmSocket = "php-fpm.sock"

// runSubdirs are what PHP and nginx write to under the run dir: PHP's
// temporary files and sessions, private to the app user, and nginx's
// buffers. The php.ini and nginx templates name them.
var runSubdirs = []struct {
	name string
	mode os.FileMode
}{
	{"tmp", 0o700},
	{"sessions", 0o700},
	{"nginx", 0o755},
	{"nginx/client_body", 0o755},
	{"nginx/proxy", 0o755},
	{"nginx/fastcgi", 0o755},
	{"nginx/uwsgi", 0o755},
	{"nginx/scgi", 0o755},
}

// staleFiles are what a killed run leaves behind; a stale socket would
// look like a php-fpm that is up.
var staleFiles = []string{fpmSocket, "php-fpm.pid", "nginx.pid"}

// prepareRunDir makes the run dir ready for a fresh start of both servers.
func prepareRunDir(dir string) error {
	// `docker exec … launcher` (an old image without a subcommand, or a
	// mistake) must not take the running servers' socket and pid files.
	for _, name := range []string{"php-fpm.pid", "nginx.pid"} {
		if pid, ok := livePID(filepath.Join(dir, name)); ok && pid != os.Getpid() {
			return fmt.Errorf("%s names running process %d: a launcher is already serving from %s", name, pid, dir)
		}
	}
	for _, name := range staleFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing what a previous run left: %w", err)
		}
	}
	for _, d := range runSubdirs {
		p := filepath.Join(dir, d.name)
		if err := os.Mkdir(p, d.mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating run dir: %w", err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("creating run dir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("creating run dir: %s exists and is not a directory", p)
		}
		// Mkdir's mode passes through the umask, and a previous run's
		// dir keeps whatever mode it had.
		if fi.Mode().Perm() != d.mode {
			if err := os.Chmod(p, d.mode); err != nil {
				return fmt.Errorf("creating run dir: %w", err)
			}
		}
	}
	return nil
}

// livePID reads a pid file and reports whether that process exists.
func livePID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}
