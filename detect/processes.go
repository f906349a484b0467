package detect

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/project"
)

// processName is a name that fits in container, Swarm service and log
// prefixes: APP-ENV-NAME-ID-N.
var processName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9_-]{0,30}[a-z0-9])?$`)

// reserved are names with a meaning of their own: web is phpbuild's web
// server, schedule the scheduler's container and log name, release the
// Procfile's release phase.
var reserved = map[string]string{
	"web":      "web is phpbuild's web server (nginx and php-fpm), which every release runs; give the process another name",
	"schedule": "schedule names the scheduler that runs [schedule.*] jobs; give the process another name",
	"release":  "release is the Procfile's release phase (the pre_release hook); give the process another name",
}

// maxReplicas bounds a typo (replicas = 1000) before it reaches a host.
const maxReplicas = 100

// ResolveProcesses merges desc's [processes] and [schedule] tables with the
// Procfile (procfile is its content, nil when the app has none; file names
// it), checks them and applies the defaults. project.toml wins over the
// Procfile for a process both name. Input the user must fix is a
// *badinput.Error naming the file, line and field.
func ResolveProcesses(desc *project.Descriptor, file string, procfile []byte) (*processes.Table, []string, error) {
	t := &processes.Table{}
	var warnings []string
	byName := map[string]int{}
	if procfile != nil {
		entries, w, err := readProcfile(file, procfile)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, w...)
		for _, e := range entries {
			switch e.name {
			case "web":
				w, err := checkWeb(file, e)
				if err != nil {
					return nil, nil, err
				}
				warnings = append(warnings, w)
				continue
			case "release":
				t.Release = e.cmd
				continue
			}
			if err := checkName(e.name); err != nil {
				return nil, nil, &badinput.Error{File: file, Line: e.line, Field: e.name, Err: err}
			}
			byName[e.name] = len(t.Processes)
			t.Processes = append(t.Processes, processes.Process{Name: e.name, Command: processes.Shell(e.cmd), Replicas: 1,
				StopSignal: processes.DefaultStopSignal, StopTimeout: processes.Duration(processes.DefaultStopTimeout), StartPeriod: processes.Duration(processes.DefaultStartPeriod),
				Source: fmt.Sprintf("%s:%d", filepath.Base(file), e.line)})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(desc.Processes)) {
		p, err := resolveProcess(desc, name, desc.Processes[name])
		if err != nil {
			return nil, nil, err
		}
		if i, ok := byName[name]; ok {
			warnings = append(warnings, fmt.Sprintf("%s: processes.%s replaces the Procfile's %s (%s)", p.Source, name, name, t.Processes[i].Source))
			t.Processes[i] = p
			continue
		}
		t.Processes = append(t.Processes, p)
	}
	sort.Slice(t.Processes, func(i, j int) bool { return t.Processes[i].Name < t.Processes[j].Name })
	for _, name := range slices.Sorted(maps.Keys(desc.Schedule)) {
		s, err := resolveSchedule(desc, name, desc.Schedule[name])
		if err != nil {
			return nil, nil, err
		}
		t.Schedules = append(t.Schedules, s)
	}
	return t, warnings, nil
}

func checkName(name string) error {
	if why, ok := reserved[name]; ok {
		return errors.New(why)
	}
	if !processName.MatchString(name) {
		return fmt.Errorf("%q cannot name a process: lower-case letters, digits, '-' and '_', at most 32 characters, starting and ending with a letter or digit", name)
	}
	return nil
}

func resolveProcess(desc *project.Descriptor, name string, in project.Process) (processes.Process, error) {
	key := "processes." + name
	fail := fieldFail(desc, key)
	if err := checkName(name); err != nil {
		return processes.Process{}, fail("", "%v", err)
	}
	p := processes.Process{Name: name, Replicas: 1, StopSignal: processes.DefaultStopSignal, StopTimeout: processes.Duration(processes.DefaultStopTimeout),
		StartPeriod: processes.Duration(processes.DefaultStartPeriod), Source: source(desc, key)}
	var err error
	if p.Command, err = command(in.Command, true); err != nil {
		return processes.Process{}, fail("command", "%v", err)
	}
	if in.Replicas != nil {
		if *in.Replicas < 0 || *in.Replicas > maxReplicas {
			return processes.Process{}, fail("replicas", "%d: want 0 to %d", *in.Replicas, maxReplicas)
		}
		p.Replicas = *in.Replicas
	}
	if in.StopSignal != "" {
		if p.StopSignal, err = signalName(in.StopSignal); err != nil {
			return processes.Process{}, fail("stop_signal", "%v", err)
		}
	}
	if in.StopTimeout != "" {
		d, err := duration(in.StopTimeout, false)
		if err != nil {
			return processes.Process{}, fail("stop_timeout", "%v", err)
		}
		p.StopTimeout = processes.Duration(d)
	}
	if in.StartPeriod != "" {
		d, err := duration(in.StartPeriod, true)
		if err != nil {
			return processes.Process{}, fail("start_period", "%v", err)
		}
		p.StartPeriod = processes.Duration(d)
	}
	if in.Health.Set {
		if p.Health, err = command(in.Health, true); err != nil {
			return processes.Process{}, fail("health", "%v", err)
		}
	}
	return p, nil
}

func resolveSchedule(desc *project.Descriptor, name string, in project.Schedule) (processes.Schedule, error) {
	key := "schedule." + name
	fail := fieldFail(desc, key)
	if !processName.MatchString(name) {
		return processes.Schedule{}, fail("", "%q cannot name a schedule: lower-case letters, digits, '-' and '_', at most 32 characters", name)
	}
	s := processes.Schedule{Name: name, Cron: strings.TrimSpace(in.Cron), Concurrency: processes.ConcurrencyForbid, Source: source(desc, key)}
	if s.Cron == "" {
		return processes.Schedule{}, fail("cron", "missing: five cron fields (\"*/5 * * * *\"), a descriptor (\"@hourly\") or an interval (\"@every 30s\")")
	}
	if _, err := processes.ParseCron(s.Cron); err != nil {
		return processes.Schedule{}, fail("cron", "%q: %v", s.Cron, err)
	}
	var err error
	if s.Command, err = command(in.Command, true); err != nil {
		return processes.Schedule{}, fail("command", "%v", err)
	}
	if in.Timeout != "" {
		d, err := duration(in.Timeout, true)
		if err != nil {
			return processes.Schedule{}, fail("timeout", "%v", err)
		}
		s.Timeout = processes.Duration(d)
	}
	switch in.Concurrency {
	case "", processes.ConcurrencyForbid:
	case processes.ConcurrencyAllow:
		s.Concurrency = processes.ConcurrencyAllow
	default:
		return processes.Schedule{}, fail("concurrency", "%q: want \"forbid\" (skip a run while the previous one runs) or \"allow\"", in.Concurrency)
	}
	return s, nil
}

// fieldFail reports a bad value of field of the table key (the table
// itself when field is "").
func fieldFail(desc *project.Descriptor, key string) func(field, format string, args ...any) error {
	return func(field, format string, args ...any) error {
		k := key
		if field != "" {
			k += "." + field
		}
		return desc.FieldError(k, format, args...)
	}
}

// command is a string command's sh -c argv, or a list's words.
func command(c project.Command, required bool) ([]string, error) {
	switch {
	case c.Shell != "":
		if strings.TrimSpace(c.Shell) == "" {
			return nil, errors.New("empty command")
		}
		return processes.Shell(c.Shell), nil
	case len(c.Argv) > 0:
		if c.Argv[0] == "" {
			return nil, errors.New("the list's first word, the program, is empty")
		}
		return slices.Clone(c.Argv), nil
	case required || c.Set:
		if c.Set {
			return nil, errors.New("empty command")
		}
		return nil, errors.New("missing: a string run by sh -c, or a list of words")
	}
	return nil, nil
}

// signalName is a signal's SIGNAME, from "TERM", "sigterm" or "SIGTERM".
func signalName(s string) (string, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	if unix.SignalNum(n) == 0 || n == "SIGKILL" || n == "SIGSTOP" {
		return "", fmt.Errorf("%q is not a signal a process can be asked to stop with (SIGTERM, SIGINT, SIGQUIT, SIGUSR1, …)", s)
	}
	return n, nil
}

func duration(s string, zeroOK bool) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q is not a duration like \"30s\"", s)
	}
	return d, nil
}

func source(desc *project.Descriptor, key string) string {
	if desc.Path() == "" {
		return project.FileName
	}
	return fmt.Sprintf("%s:%d", filepath.Base(desc.Path()), desc.Line(key))
}
