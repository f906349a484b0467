package project_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/project"
)

// The commented example at the repository root documents every key; parsing
// it here keeps it in step with what Load accepts.
func TestLoadExampleDescriptor(t *testing.T) {
	d, err := project.Load("..")
	if err != nil {
		t.Fatalf("Load(..): %v", err)
	}
	if got, want := d.Path(), filepath.Join("..", project.FileName); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	staging, ok := d.Env["staging"]
	if !ok {
		t.Fatalf("Env has no staging: %v", d.Env)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"schema version", d.Project.SchemaVersion, "0.2"},
		{"license", d.Project.Licenses, []project.License{{Type: "MIT"}}},
		{"exclude", d.IO.Buildpacks.Exclude, []string{"tests/", "docs/", "*.md", "phpunit.xml*"}},
		{"build env", d.IO.Buildpacks.Build.Env, []project.EnvVar{{Name: "COMPOSER_MEMORY_LIMIT", Value: "-1"}}},
		{"php version", d.PHP.Version, ">=8.2"},
		{"ini bare dotted name", d.PHP.INI["opcache.jit"], "off"},
		{"ini number", d.PHP.INI["opcache.memory_consumption"], "192"},
		{"ini boolean", d.PHP.INI["display_errors"], "Off"},
		{"ini string", d.PHP.INI["memory_limit"], "256M"},
		{"fpm", d.PHP.FPM.RequestTerminateTimout, "60s"},
		{"source", d.PHP.Sources["myext"].Source, "https://downloads.example.com/myext-1.2.0.tgz"},
		{"minor", d.PHP.Minors["8.3"].AptKey, "deploy/php-apt.gpg"},
		{"phalcon", d.Phalcon.Version, "^5.9"},
		{"volt dirs", d.Volt.Dirs, []string{"app/views"}},
		{"volt separator", d.Volt.Separator, "%%"},
		{"web root", d.Build.WebRoot, "public"},
		{"writable", d.Build.Writable, []string{"var", "storage"}},
		{"detect writable", d.Build.DetectWritable, ptr(true)},
		{"classmap", d.Build.ClassmapAuthoritative, true},
		{"assets node", d.Build.Assets.Node, "20"},
		{"nginx", d.Nginx.RealIPFrom, []string{"10.0.0.0/8"}},
		{"port", staging.Port, 8080},
		{"secrets", staging.Secrets, []string{"DB_PASSWORD", "APP_KEY"}},
		{"health deadline", staging.Health.Deadline, "60s"},
		{"durations", staging.Durations, map[string]time.Duration{"drain_timeout": 30 * time.Second,
			"health.timeout": 2 * time.Second, "health.interval": time.Second, "health.docker_interval": 30 * time.Second, "health.deadline": time.Minute, "health.start_period": 5 * time.Second, "watch.duration": time.Minute}},
		{"watch", *staging.Watch.MaxErrorRate, 0.05},
		{"read only", *staging.ReadOnly, true},
		{"maintenance page", staging.MaintenancePage, "deploy/maintenance.html"},
		{"health status", staging.Health.Status, 200},
		{"volumes", staging.Volumes, map[string]string{"shop-uploads": "/app/public/uploads"}},
		{"hook", staging.Hooks.PreRelease, "php bin/migrate.php"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestEnvironmentDurations: Load hands over the durations it checked,
// parsed; a key left out is absent, so that "0s" and unset differ.
func TestEnvironmentDurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		toml string
		want map[string]time.Duration
	}{
		{"none set", "[environments.prod]\n", nil},
		{"zero is set", "[environments.prod]\ndrain_timeout = \"0s\"\n", map[string]time.Duration{"drain_timeout": 0}},
		{"health", "[environments.prod.health]\ninterval = \"250ms\"\ndocker_interval = \"2m\"\nstart_period = \"1m30s\"\n",
			map[string]time.Duration{"health.interval": 250 * time.Millisecond, "health.docker_interval": 2 * time.Minute, "health.start_period": 90 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := project.Parse("project.toml", []byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d.Env["prod"].Durations); diff != "" {
				t.Errorf("durations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		toml    string
		wantINI map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"bare dotted names", "[php.ini]\nopcache.jit = \"off\"\nopcache.enable = true\n", map[string]string{"opcache.jit": "off", "opcache.enable": "On"}},
		{"quoted dotted name", "[php.ini]\n\"opcache.jit\" = \"tracing\"\n", map[string]string{"opcache.jit": "tracing"}},
		{"sub-table", "[php.ini.session]\ngc_maxlifetime = 1440\n", map[string]string{"session.gc_maxlifetime": "1440"}},
		{"float and false", "[php.ini]\nprecision = 1.5\nexpose_php = false\n", map[string]string{"precision": "1.5", "expose_php": "Off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := project.Parse("project.toml", []byte(tc.toml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.wantINI, d.PHP.INI); diff != "" {
				t.Errorf("INI (-want +got):\n%s", diff)
			}
			if d.Path() != "project.toml" {
				t.Errorf("Path() = %q, want project.toml", d.Path())
			}
		})
	}
}

// where is the part of a *badinput.Error a user reads to find the mistake.
type where struct {
	File  string
	Line  int
	Field string
}

func TestParseErrors(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		toml string
		want where
		msg  string // a part of the message
		bug  string // non-empty: a known bug; the case is skipped
	}{
		// Unknown keys, at several depths.
		{
			name: "unknown top-level table",
			toml: "[build]\nweb_root = \"public\"\n\n[nope]\nx = 1\n",
			want: where{"project.toml", 4, "nope"}, msg: "unknown key",
		},
		{
			name: "unknown key in php",
			toml: "[php]\nversion = \"^8.2\"\nfoo = 1\n",
			want: where{"project.toml", 3, "php.foo"}, msg: "unknown key",
		},
		{
			name: "unknown key in environment health",
			toml: "[environments.x]\nport = 80\n\n[environments.x.health]\npath = \"/\"\nbogus = true\n",
			want: where{"project.toml", 6, "environments.x.health.bogus"}, msg: "unknown key",
		},
		{
			name: "unknown dotted key",
			toml: "[php]\nfpm.max_childs = 3\n",
			want: where{"project.toml", 2, "php.fpm.max_childs"}, msg: "unknown key",
		},
		{
			name: "unknown key in array of tables",
			toml: "[_]\nid = \"x\"\n\n[[_.licenses]]\ntype = \"MIT\"\nurl = \"https://x\"\n",
			want: where{"project.toml", 6, "_.licenses.url"}, msg: "unknown key",
		},
		{
			name: "unknown key in io.buildpacks",
			toml: "[io.buildpacks]\nexclud = [\"tests/\"]\n",
			want: where{"project.toml", 2, "io.buildpacks.exclud"}, msg: "unknown key",
		},
		{
			name: "unknown key named like a key of the parent table",
			toml: "[php]\nversion = \"^8.2\"\n\n[php.fpm]\nversion = \"x\"\n",
			want: where{"project.toml", 5, "php.fpm.version"}, msg: "unknown key",
			bug: "lineOf matches tables by string prefix: the [php] version line (2) is reported for php.fpm.version (5)",
		},

		// Validation errors.
		{
			name: "absolute web root",
			toml: "[build]\nweb_root = \"/srv/www\"\n",
			want: where{"project.toml", 2, "build.web_root"}, msg: "relative",
		},
		{
			name: "web root outside the app",
			toml: "[build]\nweb_root = \"../public\"\n",
			want: where{"project.toml", 2, "build.web_root"}, msg: "inside the app",
		},
		{
			name: "dot-dot in writable",
			toml: "[build]\nclassmap_authoritative = true\nwritable = [\"var\", \"cache/../../tmp\"]\n",
			want: where{"project.toml", 3, "build.writable"}, msg: "cache/../../tmp",
		},
		{
			name: "absolute volt dir",
			toml: "[volt]\ndirs = [\"/views\"]\n",
			want: where{"project.toml", 2, "volt.dirs"}, msg: "relative",
		},
		{
			name: "volt bootstrap outside the app",
			toml: "[volt]\nbootstrap = \"../volt.php\"\n",
			want: where{"project.toml", 2, "volt.bootstrap"}, msg: "inside the app",
		},
		{
			name: "health path without slash",
			toml: "[build]\nhealth_path = \"health\"\n",
			want: where{"project.toml", 2, "build.health_path"}, msg: "must start with /",
		},
		{
			name: "https source with a short sha256",
			toml: "[php.sources.myext]\nsource = \"https://example.com/myext.tgz\"\nsha256 = \"abc\"\n",
			want: where{"project.toml", 3, "php.sources.myext.sha256"}, msg: "sha256",
		},
		{
			name: "https source without sha256",
			toml: "[php.sources.myext]\nsource = \"https://example.com/myext.tgz\"\n",
			want: where{"project.toml", 1, "php.sources.myext.sha256"}, msg: "sha256",
		},
		{
			name: "plain http source",
			toml: "[php.sources.myext]\nsource = \"http://example.com/myext.tgz\"\nsha256 = \"" + sha + "\"\n",
			want: where{"project.toml", 2, "php.sources.myext.source"}, msg: "plain http",
		},
		{
			name: "source without source",
			toml: "[php.sources.myext]\nsha256 = \"" + sha + "\"\n",
			want: where{"project.toml", 1, "php.sources.myext.source"}, msg: "missing",
		},
		{
			name: "phalcon https source without sha256",
			toml: "[phalcon]\nversion = \"^5.9\"\nsource = \"https://example.com/phalcon.tgz\"\n",
			want: where{"project.toml", 1, "phalcon.sha256"}, msg: "sha256",
		},
		{
			name: "minor that is not a minor",
			toml: "[php.minors.latest]\nbase = \"debian\"\napt_source = \"deb x\"\n",
			want: where{"project.toml", 0, "php.minors"}, msg: `"latest" is not a PHP minor`,
		},
		{
			name: "minor without apt_source",
			toml: "[php]\nversion = \"^8.3\"\n\n[php.minors.\"8.3\"]\nbase = \"debian\"\n",
			want: where{"project.toml", 4, `php.minors."8.3"`}, msg: "needs base and apt_source",
			bug: `the field "php.minors.8.3" is split on every dot, so lineOf looks for key "3" and finds no line (0) for [php.minors."8.3"] on line 4`,
		},
		{
			name: "negative max_children",
			toml: "[php.fpm]\nmax_children = -1\n",
			want: where{"project.toml", 2, "php.fpm.max_children"}, msg: "negative",
		},
		{
			name: "bad duration",
			toml: "[environments.prod]\nport = 80\n\n[environments.prod.health]\ndeadline = \"a minute\"\n",
			want: where{"project.toml", 5, "environments.prod.health.deadline"}, msg: "not a duration",
		},
		{
			name: "docker_interval under docker's minimum",
			toml: "[environments.prod]\nport = 80\n\n[environments.prod.health]\ndocker_interval = \"0s\"\n",
			want: where{"project.toml", 5, "environments.prod.health.docker_interval"}, msg: "too short",
		},
		{
			name: "negative duration",
			toml: "[environments.prod]\ndrain_timeout = \"-5s\"\n",
			want: where{"project.toml", 2, "environments.prod.drain_timeout"}, msg: "not a duration",
		},
		{
			name: "watch without a rate",
			toml: "[environments.prod]\n\n[environments.prod.watch]\nduration = \"30s\"\n",
			want: where{"project.toml", 3, "environments.prod.watch.max_error_rate"}, msg: "missing",
		},
		{
			name: "watch rate as a percentage",
			toml: "[environments.prod.watch]\nduration = \"30s\"\nmax_error_rate = 5\n",
			want: where{"project.toml", 3, "environments.prod.watch.max_error_rate"}, msg: "not a fraction",
		},
		{
			name: "watch without a duration",
			toml: "[environments.prod.watch]\nmax_error_rate = 0.05\n",
			want: where{"project.toml", 1, "environments.prod.watch.duration"}, msg: "missing",
		},
		{
			name: "bad target",
			toml: "[environments.prod]\nhost = \"ssh://x\"\ntarget = \"k8s\"\n",
			want: where{"project.toml", 3, "environments.prod.target"}, msg: `"k8s"`,
		},
		{
			name: "port out of range",
			toml: "[environments.prod]\nport = 70000\n",
			want: where{"project.toml", 2, "environments.prod.port"}, msg: "not a TCP port",
		},
		{
			name: "port out of range in an environment whose name extends another's",
			toml: "[environments.staging]\nport = 80\n\n[environments.staging-eu]\nport = 70000\n",
			want: where{"project.toml", 5, "environments.staging-eu.port"}, msg: "not a TCP port",
			bug: "lineOf matches tables by string prefix: [environments.staging] port (line 2) is reported for environments.staging-eu.port (line 5)",
		},
		{
			name: "bad http status",
			toml: "[environments.prod.health]\nstatus = 99\n",
			want: where{"project.toml", 2, "environments.prod.health.status"}, msg: "HTTP status",
		},
		{
			name: "negative keep",
			toml: "[environments.prod]\nkeep = -1\n",
			want: where{"project.toml", 2, "environments.prod.keep"}, msg: "negative",
		},
		{
			name: "bad secret name",
			toml: "[environments.prod]\nsecrets = [\"DB-PASSWORD\"]\n",
			want: where{"project.toml", 2, "environments.prod.secrets"}, msg: "DB-PASSWORD",
		},
		{
			name: "include and exclude both set",
			toml: "[io.buildpacks]\ninclude = [\"src/\"]\nexclude = [\"tests/\"]\n",
			want: where{"project.toml", 2, "io.buildpacks.include"}, msg: "cannot both be set",
		},
		{
			name: "bad pattern",
			toml: "[io.buildpacks]\nexclude = [\"[\"]\n",
			want: where{"project.toml", 1, "io.buildpacks"}, msg: "pattern",
		},
		{
			name: "bad env var name",
			toml: "[io.buildpacks]\nexclude = [\"tests/\"]\n\n[[io.buildpacks.build.env]]\nname = \"1BAD\"\nvalue = \"x\"\n",
			want: where{"project.toml", 4, "io.buildpacks.build.env"}, msg: `"1BAD" is not a valid variable name`,
		},
		{
			name: "ini value that is a list",
			toml: "[php.ini]\nmemory_limit = \"1G\"\ndisable_functions = [\"exec\"]\n",
			want: where{"project.toml", 1, "php.ini"}, msg: "disable_functions",
		},

		// Syntax errors.
		{
			name: "unterminated string",
			toml: "[build]\nweb_root = \"public\n",
			want: where{"project.toml", 2, "build.web_root"}, msg: "",
		},
		{
			name: "missing value",
			toml: "[php]\nversion = \"^8.2\"\nextensions =\n",
			want: where{"project.toml", 3, "php.extensions"}, msg: "expected value",
		},
		{
			name: "duplicate key",
			toml: "[php]\nversion = \"^8.2\"\nversion = \"^8.3\"\n",
			want: where{"project.toml", 3, "php.version"}, msg: "already",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Logf("regression test for a fixed bug: %s", tc.bug)
			}
			got := parseError(t, tc.toml)
			if diff := cmp.Diff(tc.want, where{got.File, got.Line, got.Field}); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", got, tc.msg)
			}
		})
	}
}

// A value of the wrong TOML type must name the key and its line.
func TestParseWrongTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		toml string
		want where
	}{
		{"string port", "[environments.x]\nhost = \"ssh://h\"\nport = \"80\"\n", where{"project.toml", 3, "environments.x.port"}},
		{"string writable", "[build]\nweb_root = \"public\"\nwritable = \"var\"\n", where{"project.toml", 3, "build.writable"}},
		{"integer php version", "[php]\nversion = 8\n", where{"project.toml", 2, "php.version"}},
		{"table for a string", "[phalcon]\nversion = { min = \"5\" }\n", where{"project.toml", 2, "phalcon.version"}},
		{"string for a boolean", "[build]\nclassmap_authoritative = \"yes\"\n", where{"project.toml", 2, "build.classmap_authoritative"}},
		{"string detect_writable", "[build]\nwritable = [\"var\"]\ndetect_writable = \"no\"\n", where{"project.toml", 3, "build.detect_writable"}},
		{"list of integers for strings", "[php]\nextensions = [1, 2]\n", where{"project.toml", 2, "php.extensions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseError(t, tc.toml)
			if diff := cmp.Diff(tc.want, where{got.File, got.Line, got.Field}); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
		})
	}
}

// detect_writable defaults to true, so unset must be told from false.
func TestParseDetectWritable(t *testing.T) {
	for _, tc := range []struct {
		toml string
		want *bool
	}{
		{"", nil},
		{"[build]\nwritable = [\"var\"]\n", nil},
		{"[build]\ndetect_writable = false\n", ptr(false)},
		{"[build]\ndetect_writable = true\n", ptr(true)},
	} {
		d, err := project.Parse("project.toml", []byte(tc.toml))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.toml, err)
		}
		if diff := cmp.Diff(tc.want, d.Build.DetectWritable); diff != "" {
			t.Errorf("Parse(%q): DetectWritable (-want +got):\n%s", tc.toml, diff)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// parseError parses src as project.toml and returns the *badinput.Error it
// must fail with.
func parseError(t *testing.T, src string) *badinput.Error {
	t.Helper()
	d, err := project.Parse("project.toml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded (%+v); want an error", d)
	}
	var be *badinput.Error
	if !errors.As(err, &be) {
		t.Fatalf("Parse error %v (%T) is not a *badinput.Error", err, err)
	}
	return be
}

func TestLoadFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string // "" when Load must succeed
	}{
		{
			name:  "missing file",
			setup: func(t *testing.T, dir string) {},
		},
		{
			name: "regular file",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, project.FileName), "[php]\nversion = \"^8.2\"\n")
			},
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, project.FileName), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is a directory",
		},
		{
			name: "symlink loop",
			setup: func(t *testing.T, dir string) {
				symlink(t, project.FileName, filepath.Join(dir, project.FileName))
			},
			wantErr: "too many levels of symbolic links",
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, dir string) {
				symlink(t, "elsewhere.toml", filepath.Join(dir, project.FileName))
			},
			wantErr: "no such file",
		},
		{
			name: "invalid descriptor",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, project.FileName), "[nope]\n")
			},
			wantErr: "unknown key",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			file := filepath.Join(dir, project.FileName)
			d, err := project.Load(dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				wantPath := file
				if _, err := os.Lstat(file); err != nil {
					wantPath = ""
				}
				if d.Path() != wantPath {
					t.Errorf("Path() = %q, want %q", d.Path(), wantPath)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded; want an error containing %q", tc.wantErr)
			}
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T) is not a *badinput.Error", err, err)
			}
			if be.File != file {
				t.Errorf("error names %q, want %q", be.File, file)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			// The file is named once, not again by the *fs.PathError.
			if n := strings.Count(err.Error(), file); n != 1 {
				t.Errorf("error %q names the file %d times, want once", err, n)
			}
		})
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	d, err := project.Load(t.TempDir())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if diff := cmp.Diff(project.Descriptor{}, *d, cmp.AllowUnexported(project.Descriptor{})); diff != "" {
		t.Errorf("descriptor of an app without project.toml (-want +got):\n%s", diff)
	}
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestKeysLeftToOtherTools: the descriptor spec gives [_.metadata] to the
// user and other io.* namespaces to other tools; pack's own keys are not
// phpbuild's to reject.
func TestKeysLeftToOtherTools(t *testing.T) {
	src := "[_]\nid = \"x\"\n[_.metadata]\nteam = \"ops\"\n[io.buildpacks]\nbuilder = \"paketobuildpacks/builder\"\n" +
		"[[io.buildpacks.group]]\nid = \"x\"\n[io.other-tool]\nfoo = 1\n"
	if _, err := project.Parse("project.toml", []byte(src)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if _, err := project.Parse("project.toml", []byte("[_]\nnope = 1\n")); err == nil {
		t.Fatal("an unknown key in [_] must still be an error")
	}
}

// TestSmokeChecks: [[environments.NAME.health.smoke]] is an array of
// tables whose texts may be a string or a list.
func TestSmokeChecks(t *testing.T) {
	d, err := project.Load("..")
	if err != nil {
		t.Fatalf("Load(..): %v", err)
	}
	want := []project.Smoke{
		{Path: "/", Status: 200, Contains: project.Texts{"Latest products"},
			NotContains: project.Texts{"Fatal error", "Volt directory can't be written"}, Host: "shop.example.com"},
		{Path: "/account", Status: 302},
	}
	if diff := cmp.Diff(want, d.Env["staging"].Health.Smoke); diff != "" {
		t.Errorf("the example's smoke checks (-want +got):\n%s", diff)
	}
	src := "[environments.x.health]\nsmoke = [{ path = \"/a\", not_contains = \"Oops\" }, { path = \"/b\", contains = [\"x\", \"y\"] }]\n"
	d, err = project.Parse("project.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want = []project.Smoke{{Path: "/a", NotContains: project.Texts{"Oops"}}, {Path: "/b", Contains: project.Texts{"x", "y"}}}
	if diff := cmp.Diff(want, d.Env["x"].Health.Smoke); diff != "" {
		t.Errorf("inline smoke checks (-want +got):\n%s", diff)
	}
}

func TestSmokeCheckErrors(t *testing.T) {
	const head = "[environments.staging]\nport = 80\n\n[environments.staging.health]\npath = \"/health\"\n\n"
	const first = "[[environments.staging.health.smoke]]\npath = \"/\"\n\n" // lines 7-8
	for _, tc := range []struct {
		name string
		toml string
		want where
		msg  string
	}{
		{"missing path", head + first + "[[environments.staging.health.smoke]]\nstatus = 200\n",
			where{"project.toml", 10, "environments.staging.health.smoke[2].path"}, "missing"},
		{"relative path", head + "[[environments.staging.health.smoke]]\npath = \"products\"\n",
			where{"project.toml", 8, "environments.staging.health.smoke[1].path"}, `"products" must start with /`},
		{"space in path", head + "[[environments.staging.health.smoke]]\npath = \"/a b\"\n",
			where{"project.toml", 8, "environments.staging.health.smoke[1].path"}, "space"},
		{"status too low", head + first + "[[environments.staging.health.smoke]]\npath = \"/x\"\nstatus = 99\n",
			where{"project.toml", 12, "environments.staging.health.smoke[2].status"}, "100-599"},
		{"status too high", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nstatus = 600\n",
			where{"project.toml", 9, "environments.staging.health.smoke[1].status"}, "not an HTTP status"},
		{"empty contains", head + "[[environments.staging.health.smoke]]\npath = \"/\"\ncontains = \"\"\n",
			where{"project.toml", 9, "environments.staging.health.smoke[1].contains"}, "empty"},
		{"empty text in not_contains", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nnot_contains = [\"Fatal\", \"\"]\n",
			where{"project.toml", 9, "environments.staging.health.smoke[1].not_contains"}, "empty"},
		{"empty list", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nnot_contains = []\n",
			where{"project.toml", 9, "environments.staging.health.smoke[1].not_contains"}, "empty"},
		{"bad host", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nhost = \"a b\"\n",
			where{"project.toml", 9, "environments.staging.health.smoke[1].host"}, "not a host name"},
		{"inline entry", "[environments.staging.health]\nsmoke = [{ status = 200 }]\n",
			where{"project.toml", 2, "environments.staging.health.smoke[1].path"}, "missing"},
		{"unknown key in the second entry", head + first + "[[environments.staging.health.smoke]]\npath = \"/x\"\ncontain = \"typo\"\n",
			where{"project.toml", 12, "environments.staging.health.smoke.contain"}, "unknown key"},
		{"number for a text", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nnot_contains = 5\n",
			where{"project.toml", 9, "environments.staging.health.smoke.not_contains"}, "want a string or a list of strings, not an integer"},
		{"numbers in a list", head + "[[environments.staging.health.smoke]]\npath = \"/\"\ncontains = [\"a\", 1]\n",
			where{"project.toml", 9, "environments.staging.health.smoke.contains"}, "a list holding an integer"},
		{"string status", head + "[[environments.staging.health.smoke]]\npath = \"/\"\nstatus = \"200\"\n",
			where{"project.toml", 9, "environments.staging.health.smoke.status"}, "want an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseError(t, tc.toml)
			if diff := cmp.Diff(tc.want, where{got.File, got.Line, got.Field}); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", got, tc.msg)
			}
		})
	}
}
