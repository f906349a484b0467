package detect_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/project"
)

func resolve(t *testing.T, toml, procfile string) (*processes.Table, []string, error) {
	t.Helper()
	desc, err := project.Parse("/app/project.toml", []byte(toml))
	if err != nil {
		return nil, nil, err
	}
	var data []byte
	if procfile != "" {
		data = []byte(procfile)
	}
	return detect.ResolveProcesses(desc, "/app/Procfile", data)
}

func TestResolveMergesProcfileAndProject(t *testing.T) {
	got, warnings, err := resolve(t, `
[processes.worker]
command = ["php", "cli.php", "queue:work", "--queue=high"]
replicas = 3
stop_signal = "quit"
stop_timeout = "1m"
health = "test -f /tmp/ready"

[processes.mailer]
command = "php cli.php mail:send"
replicas = 0

[schedule.report]
cron = "30 2 * * 1-5"
command = "php cli.php report"
timeout = "10m"

[schedule.cache-warm]
cron = "@every 30s"
command = ["php", "cli.php", "cache:warm"]
concurrency = "allow"
`, "web: vendor/bin/heroku-php-apache2 public/\r\nworker: php cli.php queue:work\nclock: php cli.php clock\n\n# release phase\nrelease: php cli.php migrate --force\n")
	if err != nil {
		t.Fatal(err)
	}
	want := &processes.Table{
		Release: "php cli.php migrate --force",
		Processes: []processes.Process{
			{Name: "clock", Command: processes.Shell("php cli.php clock"), Replicas: 1, StopSignal: "SIGTERM",
				StopTimeout: processes.Duration(30 * time.Second), StartPeriod: processes.Duration(5 * time.Second), Source: "Procfile:3"},
			{Name: "mailer", Command: processes.Shell("php cli.php mail:send"), Replicas: 0, StopSignal: "SIGTERM",
				StopTimeout: processes.Duration(30 * time.Second), StartPeriod: processes.Duration(5 * time.Second), Source: "project.toml:9"},
			{Name: "worker", Command: []string{"php", "cli.php", "queue:work", "--queue=high"}, Replicas: 3, StopSignal: "SIGQUIT",
				StopTimeout: processes.Duration(time.Minute), Health: processes.Shell("test -f /tmp/ready"),
				StartPeriod: processes.Duration(5 * time.Second), Source: "project.toml:2"},
		},
		Schedules: []processes.Schedule{
			{Name: "cache-warm", Cron: "@every 30s", Command: []string{"php", "cli.php", "cache:warm"}, Concurrency: "allow", Source: "project.toml:18"},
			{Name: "report", Cron: "30 2 * * 1-5", Command: processes.Shell("php cli.php report"), Timeout: processes.Duration(10 * time.Minute),
				Concurrency: "forbid", Source: "project.toml:13"},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "Procfile:1: web: phpbuild serves web") || !strings.Contains(warnings[1], "processes.worker replaces the Procfile's worker (Procfile:2)") {
		t.Errorf("warnings: %q", warnings)
	}
	// The image carries no sources, and reads back the same.
	back, err := processes.Parse("label", got.ImageJSON())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got.ImageJSON()), "project.toml") {
		t.Errorf("image JSON holds sources: %s", got.ImageJSON())
	}
	for i := range got.Processes {
		got.Processes[i].Source = ""
	}
	for i := range got.Schedules {
		got.Schedules[i].Source = ""
	}
	if d := cmp.Diff(got, back); d != "" {
		t.Errorf("image JSON round trip (-want +got):\n%s", d)
	}
}

func TestResolveRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, toml, procfile string
		want                 string // the whole one-line error
	}{
		{name: "web process", toml: "[processes.web]\ncommand = \"php -S 0:8080\"\n",
			want: "/app/project.toml:1: processes.web: web is phpbuild's web server (nginx and php-fpm), which every release runs; give the process another name"},
		{name: "empty command", toml: "[processes.worker]\ncommand = \"  \"\n",
			want: "/app/project.toml:2: processes.worker.command: empty command"},
		{name: "no command", toml: "[processes.worker]\nreplicas = 2\n",
			want: "/app/project.toml:1: processes.worker.command: missing: a string run by sh -c, or a list of words"},
		{name: "negative replicas", toml: "[processes.worker]\ncommand = \"x\"\nreplicas = -1\n",
			want: "/app/project.toml:3: processes.worker.replicas: -1: want 0 to 100"},
		{name: "bad signal", toml: "[processes.worker]\ncommand = \"x\"\nstop_signal = \"SIGFOO\"\n",
			want: `/app/project.toml:3: processes.worker.stop_signal: "SIGFOO" is not a signal a process can be asked to stop with (SIGTERM, SIGINT, SIGQUIT, SIGUSR1, …)`},
		{name: "bad duration", toml: "[processes.worker]\ncommand = \"x\"\nstop_timeout = \"soon\"\n",
			want: `/app/project.toml:3: processes.worker.stop_timeout: "soon" is not a duration like "30s"`},
		{name: "upper-case name", toml: "[processes.Worker]\ncommand = \"x\"\n",
			want: `/app/project.toml:1: processes.Worker: "Worker" cannot name a process: lower-case letters, digits, '-' and '_', at most 32 characters, starting and ending with a letter or digit`},
		{name: "unknown key", toml: "[processes.worker]\ncommand = \"x\"\nreplica = 2\n",
			want: "/app/project.toml:3: processes.worker.replica: unknown key"},
		{name: "bad cron", toml: "[schedule.report]\ncron = \"61 * * * *\"\ncommand = \"x\"\n",
			want: `/app/project.toml:2: schedule.report.cron: "61 * * * *": end of range (61) above maximum (59): 61`},
		{name: "cron never fires", toml: "[schedule.report]\ncron = \"0 0 30 2 *\"\ncommand = \"x\"\n",
			want: `/app/project.toml:2: schedule.report.cron: "0 0 30 2 *": never fires: no time matches it`},
		{name: "cron missing", toml: "[schedule.report]\ncommand = \"x\"\n",
			want: `/app/project.toml:1: schedule.report.cron: missing: five cron fields ("*/5 * * * *"), a descriptor ("@hourly") or an interval ("@every 30s")`},
		{name: "concurrency", toml: "[schedule.report]\ncron = \"@hourly\"\ncommand = \"x\"\nconcurrency = \"replace\"\n",
			want: `/app/project.toml:4: schedule.report.concurrency: "replace": want "forbid" (skip a run while the previous one runs) or "allow"`},
		{name: "procfile web elsewhere", procfile: "web: php -S 0.0.0.0:$PORT -t public\n",
			want: `/app/Procfile:1: web: "php -S 0.0.0.0:$PORT -t public" is not a web server phpbuild can stand in for: its images serve web with nginx and php-fpm (the launcher); remove the web line, or keep heroku-php-nginx or heroku-php-apache2, and run other servers as a process type with another name`},
		{name: "procfile twice", procfile: "worker: a\n\nworker: b\n",
			want: "/app/Procfile:3: worker: declared twice (first on line 1)"},
		{name: "procfile empty command", procfile: "worker:\n",
			want: "/app/Procfile:1: worker: empty command"},
		{name: "procfile schedule name", procfile: "schedule: php cli.php schedule:run\n",
			want: "/app/Procfile:1: schedule: schedule names the scheduler that runs [schedule.*] jobs; give the process another name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := resolve(t, tc.toml, tc.procfile)
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("got %v, want a *badinput.Error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestProcfileSkipsWhatHerokuSkips(t *testing.T) {
	got, warnings, err := resolve(t, "", "worker: php a.php\nnot a process line\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Processes) != 1 || len(warnings) != 1 || warnings[0] != filepath.FromSlash("/app/Procfile")+":2: not a `name: command` line; skipped, as Heroku skips it" {
		t.Errorf("processes %v, warnings %q", got.Processes, warnings)
	}
}

// TestExampleProjectProcesses keeps the commented project.toml at the
// repo's root a valid example of [processes] and [schedule].
func TestExampleProjectProcesses(t *testing.T) {
	desc, err := project.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := detect.ResolveProcesses(desc, "../Procfile", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Processes) != 1 || got.Processes[0].Replicas != 2 || len(got.Schedules) != 1 || got.Schedules[0].Timeout.D() != 10*time.Minute {
		t.Errorf("the example's processes: %+v", got)
	}
}
