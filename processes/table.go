package processes

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Label is the image config label holding the table's JSON, so a release
// needs nothing but the image to know what to run.
const Label = "dev.phpbuild.processes"

// FileName is the table's JSON file in the image's config dir, where
// `launcher process` and `launcher schedule` read it.
const FileName = "processes.json"

// Defaults for what project.toml and the Procfile leave out.
const (
	DefaultStopSignal  = "SIGTERM"
	DefaultStopTimeout = 30 * time.Second
	DefaultStartPeriod = 5 * time.Second
	ConcurrencyForbid  = "forbid"
	ConcurrencyAllow   = "allow"
)

// Table is an app's process types and schedules, every default applied.
type Table struct {
	Processes []Process  `json:"processes,omitempty"`
	Schedules []Schedule `json:"schedules,omitempty"`
	// Release is the Procfile's release: command, which becomes every
	// environment's pre_release hook that project.toml does not set.
	Release string `json:"release,omitempty"`
}

// Process is one process type: Replicas containers (or tasks) running
// Command from the release's image with its env snapshot.
type Process struct {
	Name string `json:"name"`
	// Command is the argv; a command written as a string is
	// ["/bin/sh", "-c", string].
	Command     []string `json:"command"`
	Replicas    int      `json:"replicas"`
	StopSignal  string   `json:"stopSignal"`
	StopTimeout Duration `json:"stopTimeout"`
	// Health is a command that exits 0 once the process is ready; nil means
	// the process counts as ready when it still runs after StartPeriod.
	Health      []string `json:"health,omitempty"`
	StartPeriod Duration `json:"startPeriod"`
	// Source is where it was declared (project.toml:12, Procfile:3); plan
	// shows it, the image does not carry it.
	Source string `json:"source,omitempty"`
}

// Schedule is one scheduled job of the image's scheduler.
type Schedule struct {
	Name    string   `json:"name"`
	Cron    string   `json:"cron"`
	Command []string `json:"command"`
	// Timeout kills a run that takes longer; 0 lets it run.
	Timeout Duration `json:"timeout,omitempty"`
	// Concurrency is "forbid" (a run is skipped while the previous one
	// still runs) or "allow".
	Concurrency string `json:"concurrency"`
	Source      string `json:"source,omitempty"`
}

// Empty reports whether the table has nothing to run or hand on.
func (t *Table) Empty() bool {
	return t == nil || (len(t.Processes) == 0 && len(t.Schedules) == 0 && t.Release == "")
}

// Process returns the process type called name.
func (t *Table) Process(name string) (Process, bool) {
	if t == nil {
		return Process{}, false
	}
	i := slices.IndexFunc(t.Processes, func(p Process) bool { return p.Name == name })
	if i < 0 {
		return Process{}, false
	}
	return t.Processes[i], true
}

// Names lists the process types, in order.
func (t *Table) Names() []string {
	var out []string
	if t != nil {
		for _, p := range t.Processes {
			out = append(out, p.Name)
		}
	}
	return out
}

// ImageJSON is the table as the image carries it: without the sources, so
// that moving a line in project.toml changes no layer.
func (t *Table) ImageJSON() []byte {
	c := Table{Release: t.Release}
	for _, p := range t.Processes {
		p.Source = ""
		c.Processes = append(c.Processes, p)
	}
	for _, s := range t.Schedules {
		s.Source = ""
		c.Schedules = append(c.Schedules, s)
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data; cannot fail
	}
	return b
}

// Parse reads a table as ImageJSON wrote it; from is what held it, for
// errors.
func Parse(from string, b []byte) (*Table, error) {
	var t Table
	if len(strings.TrimSpace(string(b))) == 0 {
		return &t, nil
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("reading the process table in %s: %w", from, err)
	}
	return &t, nil
}

// Shell is the argv of a command written as one string.
func Shell(cmd string) []string { return []string{"/bin/sh", "-c", cmd} }

// Display is a command as a user wrote it: the string of a shell command,
// the words of an argv.
func Display(argv []string) string {
	if len(argv) == 3 && argv[0] == "/bin/sh" && argv[1] == "-c" {
		return argv[2]
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>*?()[]{}#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// Duration is a time.Duration written as "30s" in JSON.
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes "30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "30s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
