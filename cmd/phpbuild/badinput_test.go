package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/internal/apptest"
)

// TestMain lets tests run this binary's main() as a real process: exit codes
// and stderr are then exactly what a user sees.
func TestMain(m *testing.M) {
	if os.Getenv("PHPBUILD_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"phpbuild"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// runMain runs phpbuild as a process with args and returns stdout, stderr
// and the exit code.
func runMain(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PHPBUILD_TEST_RUN_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running phpbuild %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	return apptest.Write(t, files)
}

const index = "<?php echo 1;\n"

// TestBadInput runs phpbuild on input a user must fix: every case exits 2
// with one "phpbuild: FILE[:LINE]: ..." line naming the file, and never a
// panic or Go stack trace.
func TestBadInput(t *testing.T) {
	lock := func(pkgs string) string {
		return `{"packages": [` + pkgs + `], "platform": []}`
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string // {DIR} is replaced by the app dir; default: plan {DIR}
		want  []string // substrings of the first line
		multi bool     // the message may go on after its first line
	}{
		{name: "empty dir", files: map[string]string{}, want: []string{"not a PHP app"}},
		{name: "missing dir", args: []string{"plan", "{DIR}/nope"}, want: []string{"nope: no such file or directory"}},
		{name: "file instead of dir", files: map[string]string{"f": "x"}, args: []string{"detect", "{DIR}/f"}, want: []string{"f: not a directory"}},
		{name: "composer.json syntax", files: map[string]string{"composer.json": "{\n  \"require\": {\n    \"php\": \">=8.1\",\n  }\n}\n"}, want: []string{"composer.json:4: invalid JSON"}},
		{name: "composer.json empty", files: map[string]string{"composer.json": ""}, want: []string{"composer.json: empty file"}},
		{name: "composer.json top-level array", files: map[string]string{"composer.json": "[]"}, want: []string{"composer.json:1: want a JSON object"}},
		{name: "composer.json truncated", files: map[string]string{"composer.json": "{\n\"require\": {"}, want: []string{"composer.json:2: invalid JSON"}},
		{name: "composer.json require is a string", files: map[string]string{"composer.json": "{\n\"require\": \"php\"\n}"}, want: []string{"composer.json:2: require: want an object of strings, not a string"}},
		{name: "composer.json php is a number", files: map[string]string{"composer.json": "{\n\"require\": {\n\"php\": 8.1\n}\n}"}, want: []string{"composer.json:3: require.php: want a string, not a number"}},
		{name: "composer.json repositories is a string", files: map[string]string{"composer.json": `{"repositories": "x"}`}, want: []string{"composer.json:1: repositories: want a list or an object"}},
		{name: "composer.json path repo outside the app", files: map[string]string{"composer.json": `{"repositories": [{"type": "path", "url": "../lib"}]}`}, want: []string{"composer.json:1: repositories[0].url", "outside the app directory"}},
		{name: "composer.json config is a string", files: map[string]string{"composer.json": `{"config": "x"}`}, want: []string{"composer.json:1: config: want an object"}},
		{name: "composer.json is a directory", files: map[string]string{"composer.json": "<dir>", "index.php": index}, want: []string{"composer.json: is a directory"}},
		{name: "composer.json symlink loop", files: map[string]string{"composer.json": "->composer.json", "index.php": index}, want: []string{"composer.json", "symlink loop"}},
		{name: "composer.lock syntax", files: map[string]string{"composer.json": "{}", "composer.lock": "{\n\"packages\": [\n}"}, want: []string{"composer.lock:3: invalid JSON"}},
		{name: "composer.lock without packages", files: map[string]string{"composer.json": "{}", "composer.lock": "{}"}, want: []string{"composer.lock:1: packages: missing"}},
		{name: "composer.lock packages is an object", files: map[string]string{"composer.json": "{}", "composer.lock": `{"packages": {}}`}, want: []string{"composer.lock:1: packages: want a list"}},
		{name: "composer.lock package without name", files: map[string]string{"composer.json": "{}", "composer.lock": lock(`{"version": "1.0.0"}`)}, want: []string{"composer.lock:1: packages[0].name: missing"}},
		{name: "composer.lock package php is a list", files: map[string]string{"composer.json": "{}", "composer.lock": lock("\n" + `{"name": "a/b", "require": {"php": ["8"]}}`)}, want: []string{"composer.lock:2: packages[a/b].require.php: want a string"}},
		{name: "composer.lock without composer.json", files: map[string]string{"composer.lock": lock(""), "index.php": index}, want: []string{"composer.lock: found without composer.json"}},
		{name: "malformed php constraint", files: map[string]string{"composer.json": "{\"require\":\n{\"php\": \">=>8\"}}"}, want: []string{"composer.json:2: require.php", ">=>8"}},
		{name: "unsatisfiable php", files: map[string]string{"composer.json": "{\n  \"require\": {\n    \"php\": \"~8.3.0\"\n  }\n}\n"}, want: []string{"composer.json:3: require.php", "8.2", "8.4"}, multi: true},
		{name: "dev branch php", files: map[string]string{"composer.json": `{"require": {"php": "dev-master"}}`}, want: []string{"composer.json:1: require.php", "dev branch"}},
		{name: "unknown extension", files: map[string]string{"composer.json": `{"require": {"ext-nonesuch": "*"}}`}, want: []string{"composer.json:1: require.ext-nonesuch"}, multi: true},
		{name: "phalcon version that does not exist", files: map[string]string{"composer.json": `{"require": {"ext-phalcon": "^9"}}`}, want: []string{"composer.json:1: require.ext-phalcon"}, multi: true},
		{name: "project.toml syntax", files: map[string]string{"index.php": index, "project.toml": "[php]\nversion = \n"}, want: []string{"project.toml:2:"}},
		{name: "project.toml unknown key", files: map[string]string{"index.php": index, "project.toml": "[build]\nweb_rot = \"public\"\n"}, want: []string{"project.toml:2: build.web_rot: unknown key"}},
		{name: "project.toml wrong type", files: map[string]string{"index.php": index, "project.toml": "[build]\n\nwritable = \"var\"\n"}, want: []string{"project.toml:3: build.writable"}},
		{name: "project.toml absolute web root", files: map[string]string{"index.php": index, "project.toml": "[build]\nweb_root = \"/srv/www\"\n"}, want: []string{"project.toml:2: build.web_root: must be relative"}},
		{name: "project.toml web root missing", files: map[string]string{"index.php": index, "project.toml": "[build]\nweb_root = \"htdocs\"\n"}, want: []string{"project.toml:2: build.web_root", "not a directory"}},
		{name: "project.toml volt dir missing", files: map[string]string{"index.php": index, "project.toml": "[volt]\ndirs = [\"views\"]\n"}, want: []string{"project.toml:2: volt.dirs"}},
		{name: "project.toml volt bootstrap missing", files: map[string]string{"index.php": index, "project.toml": "[volt]\n\nbootstrap = \"app/volt.php\"\n"}, want: []string{"project.toml:3: volt.bootstrap", "not a file"}},
		{name: "project.toml bad duration", files: map[string]string{"index.php": index, "project.toml": "[environments.prod]\ndrain_timeout = \"soon\"\n"}, want: []string{"project.toml:2: environments.prod.drain_timeout"}},
		{name: "project.toml https source without sha256", files: map[string]string{"index.php": index, "project.toml": "[php.sources.x]\nsource = \"https://example.com/x.tgz\"\n"}, want: []string{"project.toml", "php.sources.x.sha256"}},
		{name: "project.toml include and exclude", files: map[string]string{"index.php": index, "project.toml": "[io.buildpacks]\ninclude = [\"a\"]\nexclude = [\"b\"]\n"}, want: []string{"project.toml:2: io.buildpacks.include"}},
		{name: "project.toml bad minor", files: map[string]string{"index.php": index, "project.toml": "[php.minors.eight]\nbase = \"x\"\napt_source = \"deb x\"\n"}, want: []string{"project.toml", "php.minors", "\"eight\""}},
		{name: "project.toml bad php constraint", files: map[string]string{"index.php": index, "project.toml": "[php]\nversion = \"^^8\"\n"}, want: []string{"project.toml:2: php.version"}},
		{name: "process named web", files: map[string]string{"index.php": index, "project.toml": "[processes.web]\ncommand = \"php -S 0:80\"\n"}, want: []string{"project.toml:1: processes.web: web is phpbuild's web server"}},
		{name: "process with negative replicas", files: map[string]string{"index.php": index, "project.toml": "[processes.worker]\ncommand = \"php w.php\"\nreplicas = -2\n"}, args: []string{"detect", "{DIR}"}, want: []string{"project.toml:3: processes.worker.replicas: -2"}},
		{name: "process with an empty command", files: map[string]string{"index.php": index, "project.toml": "[processes.worker]\ncommand = []\n"}, want: []string{"project.toml:2: processes.worker.command: empty command"}},
		{name: "schedule that never fires", files: map[string]string{"index.php": index, "project.toml": "[schedule.report]\ncron = \"0 0 30 2 *\"\ncommand = \"php r.php\"\n"}, want: []string{"project.toml:2: schedule.report.cron", "never fires"}},
		{name: "schedule unknown key", files: map[string]string{"index.php": index, "project.toml": "[schedule.report]\ncron = \"@hourly\"\ncommand = \"x\"\nconcurency = \"allow\"\n"}, want: []string{"project.toml:4: schedule.report.concurency: unknown key"}},
		{name: "Procfile web that is not phpbuild's", files: map[string]string{"index.php": index, "Procfile": "web: php -S 0.0.0.0:$PORT\n"}, want: []string{"Procfile:1: web:", "not a web server phpbuild can stand in for"}},
		{name: "project.toml dangling symlink", files: map[string]string{"index.php": index, "project.toml": "->nowhere.toml"}, want: []string{"project.toml: reading"}},
		{name: "package.json syntax", files: map[string]string{"index.php": index, "package.json": "{\n\"scripts\": {\n\"build\": \"x\",\n}}"}, want: []string{"package.json:4: invalid JSON"}},
		{name: "package.json scripts is a list", files: map[string]string{"index.php": index, "package.json": `{"scripts": ["build"]}`}, want: []string{"package.json:1: scripts: want an object"}},
		{name: "package.json unknown package manager", files: map[string]string{"index.php": index, "package.json": `{"scripts": {"build": "x"}, "packageManager": "bun@1"}`}, want: []string{"package.json:1: packageManager"}},
		{name: "symlink loop in the tree", files: map[string]string{"index.php": index, "src/a": "->b", "src/b": "->a"}, want: []string{"src/a: symlink loop"}},
		{name: "runtime build without --repo", args: []string{"runtime", "build", "--php", "8.2"}, want: []string{"--repo REGISTRY/REPO is required"}},
		{name: "runtime build without --php", args: []string{"runtime", "build", "--repo", "127.0.0.1:5000/rt"}, want: []string{"--php X.Y is required"}},
		{name: "runtime build unknown minor", files: map[string]string{"launcher": "x"}, args: []string{"runtime", "build", "--php", "8.3", "--repo", "127.0.0.1:5000/rt", "--launcher", "{DIR}/launcher"}, want: []string{"--php: PHP minor not in the catalog", "8.4, 8.2"}},
		{name: "runtime build plain http source", args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--ext", "foo@http://example.com/foo.tgz"}, want: []string{"plain http is not accepted"}},
		{name: "runtime build https source without sha256", args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--ext", "foo@https://example.com/foo.tgz"}, want: []string{"needs #sha256="}},
		{name: "runtime build bad extension name", args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--ext", "Foo-Bar"}, want: []string{"not an extension name"}},
		{name: "runtime build incompatible phalcon", files: map[string]string{"launcher": "x", "p.tgz": "x"}, args: []string{"runtime", "build", "--php", "8.4", "--phalcon", "5.8.0", "--phalcon-source", "{DIR}/p.tgz", "--repo", "127.0.0.1:5000/rt", "--launcher", "{DIR}/launcher"}, want: []string{"--phalcon: catalog: Phalcon 5.8.0 supports PHP >=8.0 <8.4, not 8.4"}},
		{name: "runtime build missing launcher", files: map[string]string{}, args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--launcher", "{DIR}/nope"}, want: []string{"nope: reading the launcher binary"}},
		{name: "runtime build bad progress", args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--progress", "fancy"}, want: []string{"--progress \"fancy\""}},
		{name: "runtime ls bad repo", args: []string{"runtime", "ls", "--repo", "Not A Repo"}, want: []string{"--repo \"Not A Repo\""}},
		{name: "composer.json nested too deep", files: map[string]string{"composer.json": `{"extra": ` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`}, want: []string{"composer.json:1: invalid JSON: nested deeper than 256 levels"}},
		{name: "project.toml table given a number", files: map[string]string{"index.php": index, "project.toml": "\nbuild = 3\n"}, want: []string{"project.toml:2: build:", "a table"}},
		{name: "project.toml bad extension name", files: map[string]string{"index.php": index, "project.toml": "[php]\nextensions = [\"foo bar\"]\n"}, want: []string{"project.toml:2: php.extensions", "not an extension name"}},
		{name: "project.toml bad source name", files: map[string]string{"index.php": index, "project.toml": "[php.sources.\"../../etc\"]\nsource = \"x\"\n"}, want: []string{"project.toml", "php.sources", "not an extension name"}},
		{name: "runtime build dir source with sha256", files: map[string]string{"launcher": "x", "ext/config.m4": "x"}, args: []string{"runtime", "build", "--php", "8.2", "--repo", "127.0.0.1:5000/rt", "--launcher", "{DIR}/launcher", "--ext", "hello@{DIR}/ext#sha256=" + strings.Repeat("a", 64)}, want: []string{"cannot be pinned by #sha256="}},
		{name: "maintenance page missing", files: map[string]string{"index.php": index, "project.toml": "[environments.prod]\nimage = \"127.0.0.1:5000/shop\"\nmaintenance_page = \"deploy/down.html\"\n"}, args: []string{"maintenance", "on", "{DIR}", "--env", "prod"}, want: []string{"project.toml:3: environments.prod.maintenance_page", "down.html: no such file or directory"}},
		{name: "maintenance neither on nor off", files: map[string]string{"index.php": index}, args: []string{"maintenance", "up", "{DIR}", "--env", "prod"}, want: []string{"say on or off"}},
		{name: "too many arguments", files: map[string]string{"index.php": index}, args: []string{"plan", "{DIR}", "{DIR}"}, want: []string{"at most one directory"}},
		{name: "unknown flag", files: map[string]string{"index.php": index}, args: []string{"plan", "--jsn", "{DIR}"}, want: []string{"unknown flag: --jsn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			args := tc.args
			if args == nil {
				args = []string{"plan", "{DIR}"}
			}
			for i := range args {
				args = append([]string{}, args...)
				args[i] = strings.ReplaceAll(args[i], "{DIR}", dir)
			}
			stdout, stderr, code := runMain(t, args...)
			checkBadInput(t, stdout, stderr, code, tc.want, tc.multi)
		})
	}
}

// checkBadInput asserts what every bad input gets: exit 2, nothing on
// stdout, one "phpbuild: ..." line holding each of want, no stack trace.
func checkBadInput(t *testing.T, stdout, stderr string, code int, want []string, multi bool) {
	t.Helper()
	if code != exitUserInput {
		t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitUserInput, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should be empty on error, got %q", stdout)
	}
	for _, bad := range []string{"panic", "goroutine ", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr has %q (a crash or stack trace):\n%s", bad, stderr)
		}
	}
	first, rest, _ := strings.Cut(strings.TrimSuffix(stderr, "\n"), "\n")
	if !strings.HasPrefix(first, "phpbuild: ") {
		t.Errorf("first line %q does not start with \"phpbuild: \"", first)
	}
	if rest != "" && !multi {
		t.Errorf("message is more than one line:\n%s", stderr)
	}
	for _, w := range want {
		if !strings.Contains(first, w) {
			t.Errorf("first line %q does not contain %q", first, w)
		}
	}
}

func TestExitCodes(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": index})
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"plan", dir}, exitOK},
		{[]string{"detect", "--json", dir}, exitOK},
		{[]string{"--version"}, exitOK},
		{[]string{"nonesuch"}, exitFailure},
	} {
		_, stderr, code := runMain(t, tc.args...)
		if code != tc.code {
			t.Errorf("phpbuild %v: exit %d, want %d; stderr: %s", tc.args, code, tc.code, stderr)
		}
	}
}
