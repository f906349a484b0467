package project

import (
	"fmt"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/phpbuild/phpbuild/badinput"
)

// FileName is the descriptor's name in the app's root directory.
const FileName = "project.toml"

// Descriptor is project.toml. Every field is optional; the zero value means
// "detect it" or "use phpbuild's default".
type Descriptor struct {
	Project Meta                   `toml:"_"`
	IO      IO                     `toml:"io"`
	PHP     PHP                    `toml:"php"`
	Phalcon Phalcon                `toml:"phalcon"`
	Volt    Volt                   `toml:"volt"`
	Build   Build                  `toml:"build"`
	Nginx   Nginx                  `toml:"nginx"`
	Env     map[string]Environment `toml:"environments"`
	// Processes and Schedule are the app's process types besides web and
	// its scheduled jobs; package processes checks and completes them.
	Processes map[string]Process  `toml:"processes"`
	Schedule  map[string]Schedule `toml:"schedule"`
	// path is where the descriptor was read from; empty when absent.
	path string
	data []byte
}

// Path is the file the descriptor was read from, or "" when the app has none.
func (d *Descriptor) Path() string { return d.path }

// Line is the line of project.toml that sets the dotted key (TOML syntax:
// php.minors."8.3"), or of its nearest written table; 0 when unknown.
func (d *Descriptor) Line(key string) int {
	return lineOf(d.data, toml.Key(splitKey(key)))
}

// FieldError reports a problem with the value of a dotted key, naming the
// file and the key's line.
func (d *Descriptor) FieldError(key string, format string, args ...any) *badinput.Error {
	return &badinput.Error{File: d.path, Line: d.Line(key), Field: key, Err: fmt.Errorf(format, args...)}
}

// Meta is the [_] table of the buildpacks project descriptor.
type Meta struct {
	SchemaVersion    string    `toml:"schema-version"`
	ID               string    `toml:"id"`
	Name             string    `toml:"name"`
	Version          string    `toml:"version"`
	Authors          []string  `toml:"authors"`
	DocumentationURL string    `toml:"documentation-url"`
	SourceURL        string    `toml:"source-url"`
	Licenses         []License `toml:"licenses"`
	Keywords         []string  `toml:"keywords"`
}

// License is one [[_.licenses]] entry.
type License struct {
	Type string `toml:"type"`
	URI  string `toml:"uri"`
}

// IO holds [io.buildpacks]. Other io.* namespaces belong to other tools and
// are ignored, as are pack's builder, group, pre and post.
type IO struct {
	Buildpacks Buildpacks `toml:"buildpacks"`
}

// Buildpacks is the part of [io.buildpacks] that applies to phpbuild.
type Buildpacks struct {
	Include []string      `toml:"include"`
	Exclude []string      `toml:"exclude"`
	Build   BuildpacksEnv `toml:"build"`
}

// BuildpacksEnv is [io.buildpacks.build].
type BuildpacksEnv struct {
	Env []EnvVar `toml:"env"`
}

// EnvVar is one [[io.buildpacks.build.env]] entry: set in every build step.
type EnvVar struct {
	Name  string `toml:"name"`
	Value string `toml:"value"`
}

// PHP is [php].
type PHP struct {
	// Version is a composer constraint intersected with composer's own.
	Version string `toml:"version"`
	// Extensions are loaded in addition to composer's ext-* requirements.
	Extensions []string `toml:"extensions"`
	// Sources builds extensions the catalog does not ship, from source:
	// name -> local path, https URL (with sha256) or OCI reference.
	Sources map[string]ExtensionSource `toml:"sources"`
	// Minors adds PHP minors from an extra apt source.
	Minors map[string]Minor `toml:"minors"`
	// INI overrides php.ini settings of the production config. Dotted names
	// may be written bare (opcache.jit = "off"); Load flattens them into INI.
	RawINI map[string]any    `toml:"ini"`
	INI    map[string]string `toml:"-"`
	// FPM overrides the php-fpm pool.
	FPM FPM `toml:"fpm"`
}

// ExtensionSource is where an extension's PECL-style source comes from.
type ExtensionSource struct {
	Source string `toml:"source"`
	SHA256 string `toml:"sha256"`
}

// Minor is a PHP minor from an apt source the default catalog lacks.
type Minor struct {
	Base      string `toml:"base"`       // image reference of the Debian base
	AptSource string `toml:"apt_source"` // one-line "deb ..." source
	AptKey    string `toml:"apt_key"`    // path, in the app, of the source's signing key
}

// FPM is [php.fpm].
type FPM struct {
	MaxChildren            int    `toml:"max_children"` // 0: sized by the launcher from the memory limit
	ProcessControlTimeout  string `toml:"process_control_timeout"`
	RequestTerminateTimout string `toml:"request_terminate_timeout"`
	// CatchWorkersOutput false sends the workers' stdout and stderr to
	// /dev/null, and PHP's messages through nginx; nil is true.
	CatchWorkersOutput *bool `toml:"catch_workers_output"`
}

// Phalcon is [phalcon].
type Phalcon struct {
	Version string `toml:"version"` // a composer constraint
	Source  string `toml:"source"`  // overrides the catalog's source tarball
	SHA256  string `toml:"sha256"`
}

// Volt is [volt]: the options the app gives Phalcon's Volt compiler.
type Volt struct {
	Dirs      []string `toml:"dirs"`      // view dirs; detected when empty
	Path      string   `toml:"path"`      // compiled templates dir
	Separator string   `toml:"separator"` // Phalcon's default "%%"
	Extension string   `toml:"extension"` // Phalcon's default ".php"
	Prefix    string   `toml:"prefix"`
	Bootstrap string   `toml:"bootstrap"` // PHP file that registers custom functions and filters
	// Services are DI service names the compiler's container answers has()
	// for, added to those found in the app's PHP; IgnoreServices removes
	// names. Volt compiles a.b to $this->a only when a is a service.
	Services       []string `toml:"services"`
	IgnoreServices []string `toml:"ignore_services"`
	// Autoescape is Volt's autoescape option; nil: as the app's PHP sets it.
	Autoescape *bool `toml:"autoescape"`
}

// Build is [build].
type Build struct {
	WebRoot string `toml:"web_root"`
	// Writable dirs are added to the detected ones, or replace them when
	// DetectWritable is false.
	Writable []string `toml:"writable"`
	// DetectWritable is nil when unset, which means true: the conventional
	// dirs (var/, storage/, …) that the app holds are writable too.
	DetectWritable        *bool `toml:"detect_writable"`
	ClassmapAuthoritative bool  `toml:"classmap_authoritative"`
	// AllowMissingLock lets composer resolve at build time when composer.lock
	// is absent; builds are then not reproducible.
	AllowMissingLock bool   `toml:"allow_missing_lock"`
	HealthPath       string `toml:"health_path"`
	Assets           Assets `toml:"assets"`
}

// Assets is [build.assets].
type Assets struct {
	// Sources are the globs whose content decides the assets layer; by default
	// every file that is not PHP, vendor/, node_modules/ or .git/.
	Sources []string `toml:"sources"`
	// Output are the dirs the build writes that ship; by default what the
	// build created or changed under the web root.
	Output []string `toml:"output"`
	Node   string   `toml:"node"` // Node.js major; the build image's when empty
}

// Nginx is [nginx].
type Nginx struct {
	ClientMaxBodySize string   `toml:"client_max_body_size"`
	RealIPFrom        []string `toml:"real_ip_from"`
	StaticMaxAge      string   `toml:"static_max_age"`
}

// Environment is one [environments.NAME] table; `phpbuild release` reads it.
type Environment struct {
	Target       string            `toml:"target"` // "docker" (default) or "swarm"
	Host         string            `toml:"host"`   // DOCKER_HOST form; ssh://user@host
	App          string            `toml:"app"`
	Port         int               `toml:"port"`
	Image        string            `toml:"image"`
	EnvFiles     []string          `toml:"env_files"`
	Secrets      []string          `toml:"secrets"` // names read from the releasing process's env
	Health       Health            `toml:"health"`
	Watch        *Watch            `toml:"watch"`
	DrainTimeout string            `toml:"drain_timeout"`
	Keep         int               `toml:"keep"`
	Volumes      map[string]string `toml:"volumes"` // volume name -> path in the container
	// MaintenancePage is an HTML file in the repo, answered in
	// maintenance mode.
	MaintenancePage string `toml:"maintenance_page"`
	// ReadOnly is whether the app's containers run with a read-only root
	// filesystem (nil: yes).
	ReadOnly *bool `toml:"read_only"`
	Hooks    Hooks `toml:"hooks"`
	// Durations are the durations set above, parsed by Load and keyed as
	// in project.toml: "drain_timeout", "health.timeout", … A key left
	// out is absent.
	Durations map[string]time.Duration `toml:"-"`
}

// Watch is [environments.NAME.watch]: after the switch, the front proxy's
// error rate is watched for Duration, and a release whose rate passes
// MaxErrorRate (a fraction, 0.05 is 5%) over at least MinRequests requests
// is rolled back.
type Watch struct {
	Duration     string   `toml:"duration"`
	MaxErrorRate *float64 `toml:"max_error_rate"`
	MinRequests  int      `toml:"min_requests"`
}

// Health is [environments.NAME.health].
type Health struct {
	Path     string `toml:"path"`
	Status   int    `toml:"status"`
	Timeout  string `toml:"timeout"`
	Interval string `toml:"interval"`
	// DockerInterval is docker's HEALTHCHECK interval of a running
	// container, once the release has checked it.
	DockerInterval string `toml:"docker_interval"`
	Deadline       string `toml:"deadline"`
	StartPeriod    string `toml:"start_period"`
	// Smoke are pages asked of the new container once it is healthy and
	// before traffic reaches it: an app can answer its health route while
	// every page is an error.
	Smoke []Smoke `toml:"smoke"`
}

// Smoke is one [[environments.NAME.health.smoke]]: a GET that must answer
// Status (default 200, redirects not followed) with a body holding every
// Contains text and none of the NotContains ones.
type Smoke struct {
	Path        string `toml:"path"`
	Status      int    `toml:"status"`
	Contains    Texts  `toml:"contains"`
	NotContains Texts  `toml:"not_contains"`
	Host        string `toml:"host"` // the Host header; "" is the container's address
}

// Texts is a TOML string or list of strings; nil when unset.
type Texts []string

// UnmarshalTOML takes one string as a list of one.
func (t *Texts) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*t = Texts{v}
		return nil
	case []any:
		out := make(Texts, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("want a string or a list of strings, not a list holding %s", goKind(fmt.Sprintf("%T", e)))
			}
			out = append(out, s)
		}
		*t = out
		return nil
	}
	return fmt.Errorf("want a string or a list of strings, not %s", goKind(fmt.Sprintf("%T", v)))
}

// Hooks is [environments.NAME.hooks]: commands run in one-off containers.
type Hooks struct {
	Backup      string `toml:"backup"`
	PreRelease  string `toml:"pre_release"`
	PostRelease string `toml:"post_release"`
}

// Process is one [processes.NAME]: a long-running command (a queue
// consumer) that runs from the same image as web.
type Process struct {
	Command     Command `toml:"command"`
	Replicas    *int    `toml:"replicas"` // nil: 1
	StopSignal  string  `toml:"stop_signal"`
	StopTimeout string  `toml:"stop_timeout"`
	// Health is a command that exits 0 once the process is ready.
	Health      Command `toml:"health"`
	StartPeriod string  `toml:"start_period"`
}

// Schedule is one [schedule.NAME]: a command run on a cron schedule by the
// image's scheduler.
type Schedule struct {
	Cron        string  `toml:"cron"`
	Command     Command `toml:"command"`
	Timeout     string  `toml:"timeout"`
	Concurrency string  `toml:"concurrency"` // "forbid" (default) or "allow"
}

// Command is a TOML string, run by sh -c, or a list, run as it is.
type Command struct {
	Shell string
	Argv  []string
	Set   bool
}

// UnmarshalTOML takes a string or a list of strings.
func (c *Command) UnmarshalTOML(v any) error {
	c.Set = true
	if s, ok := v.(string); ok {
		c.Shell = s
		return nil
	}
	var t Texts
	if err := t.UnmarshalTOML(v); err != nil {
		return err
	}
	c.Argv = t
	return nil
}
