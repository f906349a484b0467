package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePHPSize(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "128M", want: 128 << 20},
		{in: "128m", want: 128 << 20},
		{in: "1G", want: 1 << 30},
		{in: "512K", want: 512 << 10},
		{in: "1073741824", want: 1 << 30},
		{in: "-1", want: -1},
		{in: "", wantErr: true},
		{in: "M", wantErr: true},
		{in: "12X", wantErr: true},
		{in: "0", wantErr: true},
		{in: "-5M", wantErr: true},
		{in: "1.5G", wantErr: true},
		{in: "99999999999G", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePHPSize(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parsePHPSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parsePHPSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// fakeSystem writes the given cgroup and meminfo contents; an empty string
// leaves that file absent. The host has 32 CPUs and no CPU limit, so only
// memory decides.
func fakeSystem(t *testing.T, v2, v1, meminfo string) system {
	return fakeCPUSystem(t, v2, v1, meminfo, 32, "", "", "")
}

// fakeCPUSystem is fakeSystem with the CPUs and the cgroup CPU files
// (cpu.max; cpu.cfs_quota_us and cpu.cfs_period_us) given.
func fakeCPUSystem(t *testing.T, v2, v1, meminfo string, cpus int, cpuMax, quota, period string) system {
	t.Helper()
	dir := t.TempDir()
	sys := system{
		CgroupV2Max:    filepath.Join(dir, "memory.max"),
		CgroupV1Limit:  filepath.Join(dir, "memory.limit_in_bytes"),
		Meminfo:        filepath.Join(dir, "meminfo"),
		CgroupV2CPU:    filepath.Join(dir, "cpu.max"),
		CgroupV1Quota:  filepath.Join(dir, "cpu.cfs_quota_us"),
		CgroupV1Period: filepath.Join(dir, "cpu.cfs_period_us"),
		CPUs:           cpus,
	}
	for path, content := range map[string]string{sys.CgroupV2Max: v2, sys.CgroupV1Limit: v1, sys.Meminfo: meminfo,
		sys.CgroupV2CPU: cpuMax, sys.CgroupV1Quota: quota, sys.CgroupV1Period: period} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sys
}

const meminfo8G = "MemTotal:        8388608 kB\nMemFree:         1000000 kB\n"

func TestSizeWorkers(t *testing.T) {
	for _, tc := range []struct {
		name               string
		v2, v1, meminfo    string
		override, phpLimit string
		want               int
		wantSource         string
		wantErr            string
	}{
		{name: "v2 limit", v2: "536870912\n", phpLimit: "128M", want: 3, wantSource: "cgroup v2"},
		{name: "v2 limit 1G workers", v2: "4294967296\n", phpLimit: "1G", want: 3, wantSource: "cgroup v2"},
		{name: "v2 max falls back to host", v2: "max\n", v1: "1073741824", meminfo: meminfo8G, phpLimit: "128M", want: 63, wantSource: "host memory, no cgroup limit"},
		{name: "v1 limit", v1: "1073741824\n", phpLimit: "256M", want: 3, wantSource: "cgroup v1"},
		{name: "v1 huge is unlimited", v1: "9223372036854771712\n", meminfo: meminfo8G, phpLimit: "512M", want: 15, wantSource: "host memory, no cgroup limit"},
		{name: "no cgroup files", meminfo: meminfo8G, phpLimit: "1G", want: 7, wantSource: "host memory, no cgroup limit"},
		{name: "clamped low", v2: "134217728", phpLimit: "128M", want: 2, wantSource: "cgroup v2"},
		{name: "limit below reserve", v2: "16777216", phpLimit: "128M", want: 2, wantSource: "cgroup v2"},
		{name: "clamped high", v2: "68719476736", phpLimit: "32M", want: 64, wantSource: "cgroup v2"},
		{name: "host capped", meminfo: "MemTotal: 268435456 kB\n", phpLimit: "128M", want: 64, wantSource: "host memory, no cgroup limit"},
		{name: "php unlimited sized as 128M", v2: "1073741824", phpLimit: "-1", want: 7, wantSource: "cgroup v2"},
		{name: "override", v2: "garbage", override: "10", phpLimit: "bad", want: 10},
		{name: "override zero", override: "0", phpLimit: "128M", wantErr: "PHP_FPM_MAX_CHILDREN"},
		{name: "override not a number", override: "lots", phpLimit: "128M", wantErr: "PHP_FPM_MAX_CHILDREN"},
		{name: "bad php limit", v2: "1073741824", phpLimit: "lots", wantErr: "PHP_MEMORY_LIMIT"},
		{name: "bad v2 value", v2: "12abc", phpLimit: "128M", wantErr: "memory.max"},
		{name: "no meminfo", phpLimit: "128M", wantErr: "host memory"},
		{name: "meminfo without total", meminfo: "MemFree: 1 kB\n", phpLimit: "128M", wantErr: "MemTotal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := fakeSystem(t, tc.v2, tc.v1, tc.meminfo)
			got, err := sizeWorkers(tc.override, tc.phpLimit, sys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("sizeWorkers() error = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Children != tc.want || got.Source != tc.wantSource {
				t.Fatalf("sizeWorkers() = %d workers from %q, want %d from %q", got.Children, got.Source, tc.want, tc.wantSource)
			}
		})
	}
}

// TestSizeWorkersCPUAndMemory: the pool follows both limits, as docker run
// --memory M --cpus C sets them, on cgroup v2 and v1.
func TestSizeWorkersCPUAndMemory(t *testing.T) {
	const mem256, mem512, mem2G = "268435456", "536870912", "2147483648"
	for _, tc := range []struct {
		name     string
		v2, v1   string
		cpus     int
		cpuMax   string // cgroup v2
		quota    string // cgroup v1, with a 100000 µs period
		phpLimit string
		want     int
	}{
		// Memory decides: (limit − 64 MiB) / memory_limit.
		{name: "v2 256M 4cpu", v2: mem256, cpus: 8, cpuMax: "400000 100000", phpLimit: "128M", want: 2},
		{name: "v2 512M 4cpu", v2: mem512, cpus: 8, cpuMax: "400000 100000", phpLimit: "128M", want: 3},
		{name: "v1 512M 2cpu", v1: mem512, cpus: 8, quota: "200000", phpLimit: "128M", want: 3},
		// CPU decides: ceil(CPUs × 8).
		{name: "v2 2G 1cpu", v2: mem2G, cpus: 8, cpuMax: "100000 100000", phpLimit: "128M", want: 8},
		{name: "v2 2G 2cpu", v2: mem2G, cpus: 8, cpuMax: "200000 100000", phpLimit: "64M", want: 16},
		{name: "v2 2G 4cpu", v2: mem2G, cpus: 8, cpuMax: "400000 100000", phpLimit: "32M", want: 32},
		{name: "v1 2G 1cpu", v1: mem2G, cpus: 8, quota: "100000", phpLimit: "128M", want: 8},
		{name: "v1 2G 2cpu", v1: mem2G, cpus: 8, quota: "200000", phpLimit: "64M", want: 16},
		{name: "v1 2G 4cpu", v1: mem2G, cpus: 8, quota: "400000", phpLimit: "32M", want: 32},
		// Memory decides again: 2 GiB of 128M workers is 15.
		{name: "v2 2G 4cpu 128M", v2: mem2G, cpus: 8, cpuMax: "400000 100000", phpLimit: "128M", want: 15},
		{name: "v2 a quarter cpu", v2: mem2G, cpus: 8, cpuMax: "25000 100000", phpLimit: "128M", want: 2},
		{name: "v2 1.5 cpus", v2: mem2G, cpus: 8, cpuMax: "150000 100000", phpLimit: "128M", want: 12},
		// No quota: the CPUs it may run on (a cpuset narrows them).
		{name: "v2 no quota", v2: mem2G, cpus: 2, cpuMax: "max 100000", phpLimit: "64M", want: 16},
		{name: "v1 no quota", v1: mem2G, cpus: 1, quota: "-1", phpLimit: "128M", want: 8},
		{name: "quota above the cpus", v2: mem2G, cpus: 2, cpuMax: "800000 100000", phpLimit: "64M", want: 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			period := ""
			if tc.quota != "" {
				period = "100000"
			}
			sys := fakeCPUSystem(t, tc.v2, tc.v1, meminfo8G, tc.cpus, tc.cpuMax, tc.quota, period)
			got, err := sizeWorkers("", tc.phpLimit, sys)
			if err != nil {
				t.Fatal(err)
			}
			if got.Children != tc.want {
				t.Fatalf("sizeWorkers() = %d workers (%v), want %d", got.Children, got, tc.want)
			}
		})
	}
	for _, bad := range []struct{ cpuMax, quota, want string }{
		{cpuMax: "lots", want: "cpu.max"},
		{cpuMax: "x 100000", want: "cpu.max"},
		{quota: "many", want: "cpu.cfs_quota_us"},
	} {
		period := ""
		if bad.quota != "" {
			period = "100000"
		}
		sys := fakeCPUSystem(t, mem2G, "", "", 2, bad.cpuMax, bad.quota, period)
		if _, err := sizeWorkers("", "128M", sys); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("cpu.max %q, quota %q: error %v, want one naming %s", bad.cpuMax, bad.quota, err, bad.want)
		}
	}
}

func TestWorkerSizingLine(t *testing.T) {
	sys := fakeCPUSystem(t, "536870912", "", "", 4, "150000 100000", "", "")
	w, err := sizeWorkers("", "128M", sys)
	if err != nil {
		t.Fatal(err)
	}
	want := "memory limit 512 MiB (cgroup v2), memory_limit 128M, 1.5 CPUs (cgroup v2) → 3 php-fpm workers"
	if got := w.String(); got != want {
		t.Fatalf("line = %q\nwant   %q", got, want)
	}
}

func TestLoadSettings(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{"PHP_FPM_MAX_CHILDREN": "4"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	sys := fakeSystem(t, "", "", "")

	s, err := loadSettings(env(), sys)
	if err != nil {
		t.Fatal(err)
	}
	if s.Port != 8080 || s.RunDir != "/run/phpbuild" || s.ConfigDir != "/etc/phpbuild" ||
		s.PHPFPM != "/usr/local/sbin/php-fpm" || s.Nginx != "/usr/sbin/nginx" || s.StopTimeout != 8*time.Second {
		t.Fatalf("defaults = %+v", s)
	}

	for _, tc := range []struct {
		name, key, value string
		wantErr          bool
		check            func(settings) bool
	}{
		{name: "port", key: "PORT", value: "9000", check: func(s settings) bool { return s.Port == 9000 }},
		{name: "port max", key: "PORT", value: "65535", check: func(s settings) bool { return s.Port == 65535 }},
		{name: "port zero", key: "PORT", value: "0", wantErr: true},
		{name: "port too big", key: "PORT", value: "65536", wantErr: true},
		{name: "port negative", key: "PORT", value: "-80", wantErr: true},
		{name: "port not a number", key: "PORT", value: "http", wantErr: true},
		{name: "timeout seconds", key: "PHPBUILD_STOP_TIMEOUT", value: "10", check: func(s settings) bool { return s.StopTimeout == 10*time.Second }},
		{name: "timeout duration", key: "PHPBUILD_STOP_TIMEOUT", value: "1500ms", check: func(s settings) bool { return s.StopTimeout == 1500*time.Millisecond }},
		{name: "timeout bad", key: "PHPBUILD_STOP_TIMEOUT", value: "soon", wantErr: true},
		{name: "run dir", key: "PHPBUILD_RUN_DIR", value: "/tmp/x", check: func(s settings) bool { return s.RunDir == "/tmp/x" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadSettings(env(tc.key, tc.value), sys)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), tc.key) {
					t.Fatalf("loadSettings(%s=%s) error = %v, want one naming %s", tc.key, tc.value, err, tc.key)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("loadSettings(%s=%s) = %+v, %v", tc.key, tc.value, s, err)
			}
		})
	}
}

func writeTemplates(t *testing.T, nginx, fpm string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"nginx.conf.tmpl": nginx, "php-fpm.conf.tmpl": fpm} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRenderConfig(t *testing.T) {
	conf := writeTemplates(t,
		"pid {{RUN_DIR}}/nginx.pid;\nhttp { server { listen {{ PORT }}; } }\n",
		"[www]\npm.max_children = {{FPM_MAX_CHILDREN}}\nlisten = {{RUN_DIR}}/fpm.sock\n")
	run := filepath.Join(t.TempDir(), "run", "phpbuild")
	s := settings{Port: 8080, ConfigDir: conf, RunDir: run, Workers: workerSizing{Children: 5}}
	if err := renderConfig(s); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"nginx.conf":   "pid " + run + "/nginx.pid;\nhttp { server { listen 8080; } }\n",
		"php-fpm.conf": "[www]\npm.max_children = 5\nlisten = " + run + "/fpm.sock\n",
	} {
		got, err := os.ReadFile(filepath.Join(run, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
		}
	}
	if fi, err := os.Stat(run); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run dir mode = %v, %v; want 0755", fi.Mode().Perm(), err)
	}
}

func TestRenderConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, nginx, fpm, want string
	}{
		{name: "unknown placeholder", nginx: "listen {{PORT}};\nroot {{WEB_ROOT}};\n", fpm: "x\n", want: "nginx.conf.tmpl:2: unknown placeholder {{WEB_ROOT}}"},
		{name: "template syntax", nginx: "x\n", fpm: "pm.max_children = {{ .Children }}\n", want: "php-fpm.conf.tmpl:1: unknown placeholder {{ .Children }}"},
		{name: "unclosed", nginx: "listen {{PORT;\n", fpm: "x\n", want: "nginx.conf.tmpl:1: unknown placeholder {{"},
		{name: "missing template", nginx: "x\n", want: "php-fpm.conf.tmpl: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			s := settings{Port: 8080, ConfigDir: writeTemplates(t, tc.nginx, tc.fpm), RunDir: run, Workers: workerSizing{Children: 2}}
			err := renderConfig(s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("renderConfig() error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if _, err := os.Stat(run); err == nil {
				t.Errorf("run dir written despite the error")
			}
		})
	}
}

func TestPrepareRunDir(t *testing.T) {
	run := t.TempDir()
	// What a killed run leaves: a socket file, pid files, and a dir whose
	// mode someone changed.
	for _, name := range []string{"php-fpm.sock", "php-fpm.pid", "nginx.pid", "nginx.conf"} {
		if err := os.WriteFile(filepath.Join(run, name), []byte("stale"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(run, "tmp"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(run, "tmp"), 0o777); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a second start finds everything in place
		if err := prepareRunDir(run); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]os.FileMode{
		"tmp": 0o700, "sessions": 0o700, "nginx": 0o755,
		"nginx/client_body": 0o755, "nginx/proxy": 0o755, "nginx/fastcgi": 0o755, "nginx/uwsgi": 0o755, "nginx/scgi": 0o755,
	} {
		fi, err := os.Stat(filepath.Join(run, name))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want a dir with mode %v", name, fi, err, want)
		}
	}
	for _, name := range []string{"php-fpm.sock", "php-fpm.pid", "nginx.pid"} {
		if _, err := os.Lstat(filepath.Join(run, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s not removed: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(run, "nginx.conf")); err != nil {
		t.Errorf("rendered config removed: %v", err)
	}
}

func TestPrepareRunDirRefusesAFileForADir(t *testing.T) {
	run := t.TempDir()
	if err := os.WriteFile(filepath.Join(run, "sessions"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := prepareRunDir(run)
	if err == nil || !strings.Contains(err.Error(), "sessions exists and is not a directory") {
		t.Fatalf("prepareRunDir() = %v, want an error naming sessions", err)
	}
}
