package release

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/project"
)

// Environment is one [environments.NAME] of project.toml with every
// default applied.
type Environment struct {
	Name   string
	Target string // "docker" or "swarm"
	// Host is the docker daemon: "" means DOCKER_HOST or the local socket.
	Host     string
	App      string
	Port     int
	Image    name.Repository
	EnvFiles []string // absolute
	Secrets  []string
	Health   Health
	Drain    time.Duration
	Keep     int
	Volumes  map[string]string
	Hooks    project.Hooks
	// Watch, when set, watches the front proxy's error rate after a
	// release's switch and rolls back a release that fails too often.
	Watch *Watch
	// MaintenancePage is the HTML file (absolute) the front proxy answers
	// with in maintenance mode; "" is a plain page.
	MaintenancePage string
	// ReadOnly runs the app's containers with a read-only root
	// filesystem: tmpfs on /tmp, the run dir and the image's writable dirs
	// that no volume holds.
	ReadOnly bool

	desc *project.Descriptor
}

// Health is how a new container proves it serves.
type Health struct {
	Path     string // "" means the image's own (PHPBUILD_HEALTH_PATH)
	Status   int
	Timeout  time.Duration
	Interval time.Duration
	// DockerInterval is how often docker checks a running container (its
	// HEALTHCHECK, which status shows): each check is an exec, about
	// 50 ms of the host's CPU. The release's own wait does not use it.
	DockerInterval time.Duration
	Deadline       time.Duration
	StartPeriod    time.Duration
	// Smoke are asked of the new container once it is healthy, before it
	// gets traffic; each within Timeout.
	Smoke []SmokeCheck
}

// Defaults for what project.toml leaves out.
const (
	DefaultPort  = 8080
	DefaultKeep  = 5
	defaultDrain = 10 * time.Second
	// defaultDockerInterval is docker's own default, and what hand-written
	// images usually set.
	defaultDockerInterval = 30 * time.Second
)

var appName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// EnvironmentNames are the environments of dir's project.toml, sorted.
func EnvironmentNames(dir string) ([]string, error) {
	desc, err := project.Load(dir)
	if err != nil {
		return nil, err
	}
	return environmentNames(desc), nil
}

func environmentNames(desc *project.Descriptor) []string {
	names := make([]string, 0, len(desc.Env))
	for n := range desc.Env {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LoadEnvironment reads environment name from dir's project.toml.
func LoadEnvironment(dir, envName string) (*Environment, error) {
	desc, err := project.Load(dir)
	if err != nil {
		return nil, err
	}
	e, ok := desc.Env[envName]
	if !ok {
		names := environmentNames(desc)
		known := "none is defined"
		if len(names) > 0 {
			known = "defined: " + strings.Join(names, ", ")
		}
		return nil, &badinput.Error{File: desc.Path(), Field: "environments." + envName, Err: fmt.Errorf("no such environment (%s)", known)}
	}
	prefix := "environments." + envName
	env := &Environment{Name: envName, Target: e.Target, Host: e.Host, App: e.App, Port: e.Port, Secrets: e.Secrets,
		Keep: e.Keep, Volumes: e.Volumes, Hooks: e.Hooks, ReadOnly: e.ReadOnly == nil || *e.ReadOnly, desc: desc}
	if env.Target == "" {
		env.Target = "docker"
	}
	if env.App == "" {
		env.App = strings.ToLower(filepath.Base(dir))
		if abs, err := filepath.Abs(dir); err == nil {
			env.App = strings.ToLower(filepath.Base(abs))
		}
	}
	if !appName.MatchString(env.App) {
		return nil, desc.FieldError(prefix+".app", "%q is not a usable name: lower-case letters, digits, '.', '_' and '-'", env.App)
	}
	if env.Port == 0 {
		env.Port = DefaultPort
	}
	if env.Keep == 0 {
		env.Keep = DefaultKeep
	}
	if e.Image == "" {
		return nil, desc.FieldError(prefix+".image", "missing: the repository phpbuild build pushes to, e.g. registry.example.com/team/app")
	}
	if env.Image, err = name.NewRepository(e.Image); err != nil {
		return nil, desc.FieldError(prefix+".image", "%v", err)
	}
	if e.MaintenancePage != "" {
		env.MaintenancePage = filepath.Join(dir, filepath.FromSlash(e.MaintenancePage))
	}
	for _, f := range e.EnvFiles {
		env.EnvFiles = append(env.EnvFiles, filepath.Join(dir, filepath.FromSlash(f)))
	}
	// project.Load checked the target, the secrets' names and the
	// durations; only defaults are left to apply.
	duration := func(key string, def time.Duration) time.Duration {
		if d, ok := e.Durations[key]; ok {
			return d
		}
		return def
	}
	env.Drain = duration("drain_timeout", defaultDrain)
	if w := e.Watch; w != nil {
		env.Watch = &Watch{Duration: duration("watch.duration", 0), MaxErrorRate: *w.MaxErrorRate, MinRequests: w.MinRequests}
	}
	h := e.Health
	env.Health = Health{Path: h.Path, Status: h.Status}
	if env.Health.Status == 0 {
		env.Health.Status = 200
	}
	for _, c := range h.Smoke {
		sc := SmokeCheck{Path: c.Path, Status: c.Status, Contains: c.Contains, NotContains: c.NotContains, Host: c.Host}
		if sc.Status == 0 {
			sc.Status = 200
		}
		env.Health.Smoke = append(env.Health.Smoke, sc)
	}
	env.Health.Timeout = duration("health.timeout", 2*time.Second)
	env.Health.Interval = duration("health.interval", time.Second)
	env.Health.DockerInterval = duration("health.docker_interval", defaultDockerInterval)
	env.Health.Deadline = duration("health.deadline", 60*time.Second)
	env.Health.StartPeriod = duration("health.start_period", 0)
	return env, nil
}

// Snapshot is an environment's configuration for one release: the env
// files merged (a later file wins) and the secrets, as the file the
// container reads. Its digest names it.
type Snapshot struct {
	Vars   []EnvVar
	Data   []byte
	Digest string // sha256:…
	// Secret names the keys whose values come from the process env; they
	// are never printed.
	Secret map[string]bool
}

// ErrMissingSecret is a secret project.toml names that the releasing
// process's environment does not have.
var ErrMissingSecret = errors.New("secret not set in the environment of phpbuild")

// ReadSnapshot builds the env snapshot of env; getenv reads secrets.
func ReadSnapshot(env *Environment, getenv func(string) (string, bool)) (*Snapshot, error) {
	byKey := map[string]EnvVar{}
	for _, f := range env.EnvFiles {
		vars, err := ReadEnvFile(f)
		if err != nil {
			return nil, err
		}
		for _, v := range vars {
			byKey[v.Key] = v
		}
	}
	s := &Snapshot{Secret: map[string]bool{}}
	for _, k := range env.Secrets {
		v, ok := getenv(k)
		if !ok {
			return nil, env.desc.FieldError("environments."+env.Name+".secrets", "%s: %w", k, ErrMissingSecret)
		}
		byKey[k] = EnvVar{Key: k, Value: v}
		s.Secret[k] = true
	}
	for _, v := range byKey {
		s.Vars = append(s.Vars, v)
	}
	slices.SortFunc(s.Vars, func(a, b EnvVar) int { return strings.Compare(a.Key, b.Key) })
	s.Data = FormatEnv(s.Vars)
	sum := sha256.Sum256(s.Data)
	s.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return s, nil
}

// Diff lists what changes from old to s, one line per key, values of
// secrets redacted.
func (s *Snapshot) Diff(old []EnvVar) []string {
	was := map[string]string{}
	for _, v := range old {
		was[v.Key] = v.Value
	}
	show := func(k, v string) string {
		if s.Secret[k] {
			return "(secret)"
		}
		return fmt.Sprintf("%q", v)
	}
	var out []string
	seen := map[string]bool{}
	for _, v := range s.Vars {
		seen[v.Key] = true
		o, ok := was[v.Key]
		switch {
		case !ok:
			out = append(out, "+ "+v.Key+"="+show(v.Key, v.Value))
		case o != v.Value:
			out = append(out, "~ "+v.Key+"="+show(v.Key, v.Value))
		}
	}
	for _, v := range old {
		if !seen[v.Key] {
			out = append(out, "- "+v.Key)
		}
	}
	return out
}

var lookupEnv = os.LookupEnv
