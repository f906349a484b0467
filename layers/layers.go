package layers

import (
	"context"
	"encoding/json"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/phpbuild/phpbuild/phalcon"
)

// Runtime is the run image's own layers, reused as they are.
type Runtime struct {
	// RunDigest is the run image's digest when a built runtime is known.
	RunDigest string
	// Without a built runtime, the key is over what will decide it.
	Base       string
	PHPMinor   string
	Phalcon    string
	Extensions []string
	AptSource  string
}

// Vendor is composer's install of the locked packages.
type Vendor struct {
	Dir string
	// Files are the composer files and every file of path repositories
	// inside the app dir.
	Files []string
	// Root is the git work tree holding the app when path repositories lie
	// outside the app dir (a monorepo's packages), "" otherwise. AppInRoot
	// is the app dir and Outside are those repositories' files, both
	// relative to Root.
	Root       string
	AppInRoot  string
	Outside    []string
	PHPMinor   string
	Extensions []string
	Flags      []string
}

// Assets is the output of the app's node build.
type Assets struct {
	Dir            string
	PackageManager string
	BuildScript    string
	// Files are package.json, the lockfile and the asset sources.
	Files  []string
	Node   string
	Output []string
}

// Volt is every template precompiled by Phalcon's own compiler, shipped
// with the templates themselves: both come from one build, so their times
// agree whatever commit reuses the layer, and Phalcon never finds a template
// newer than its compiled file.
type Volt struct {
	Dir     string
	Files   []string // *.volt, and the bootstrap file when there is one
	Options phalcon.VoltOptions
	// FactoryDefault and Services are the compiler's DI container, as the
	// app's answers has(): they decide what a.b compiles to.
	FactoryDefault bool
	Services       []string
	// Extensions are the functions and filters the app's PHP adds to the
	// compiler, with their definitions.
	Extensions []phalcon.Extension
	Phalcon    string
	// AppPath is where the app lives in the image: compiled file names
	// embed the template's absolute path.
	AppPath string
	// Read is how the app configures Volt, with where each setting came
	// from, for the plan.
	Read *phalcon.Volt
}

// Templates are the app-relative *.volt files the layer ships.
func (l *Volt) Templates() []string {
	var out []string
	for _, f := range l.Files {
		if strings.HasSuffix(f, ".volt") {
			out = append(out, f)
		}
	}
	return out
}

// Compiled maps each path in the image where Phalcon may look for a
// compiled template (the normal name and the {% extends %} parent's) to
// the app-relative template it compiles.
func (l *Volt) Compiled() map[string]string {
	out := map[string]string{}
	for _, t := range l.Templates() {
		abs := path.Join(l.AppPath, t)
		out[phalcon.CompiledFile(l.Options, abs, false)] = t
		out[phalcon.CompiledFile(l.Options, abs, true)] = t
	}
	return out
}

// Config is the generated nginx, php-fpm and php.ini configuration.
type Config struct {
	// Settings is everything the templates are rendered from.
	Settings ConfigSettings
}

// ConfigSettings decide the rendered config files and the image env they
// rely on: nothing else reaches them, so the key is over exactly these.
type ConfigSettings struct {
	// Recipe digests phpbuild's templates and defaults, so that a phpbuild
	// whose templates differ never reuses this config layer.
	Recipe string `json:"recipe"`
	// PHPMinor names the /etc/php/<minor> dirs the php.ini settings go to.
	PHPMinor string `json:"phpMinor"`
	AppPath  string `json:"appPath"`
	// WebRoot is app-relative; "." is the app itself.
	WebRoot string `json:"webRoot"`
	// FrontController is the web-root script every unknown path goes to.
	FrontController string `json:"frontController"`
	HealthPath      string `json:"healthPath"`
	// HealthScript answers HealthPath; empty when the app answers it
	// itself, through its front controller.
	HealthScript string `json:"healthScript"`
	// INI are php.ini settings replacing or adding to phpbuild's;
	// memory_limit goes to the PHP_MEMORY_LIMIT env instead.
	INI map[string]string `json:"ini"`
	// FPM are php-fpm directives; pm.max_children goes to the
	// PHP_FPM_MAX_CHILDREN env instead.
	FPM map[string]string `json:"fpm"`
	// Nginx holds client_max_body_size and static_max_age when set.
	Nginx      map[string]string `json:"nginx"`
	RealIPFrom []string          `json:"realIPFrom"`
	// Denied are app-relative paths nginx never serves.
	Denied []string `json:"denied"`
	// Processes is the process table's JSON (processes.Table.ImageJSON),
	// for `launcher process` and `launcher schedule`; none when the app
	// runs web alone.
	Processes json.RawMessage `json:"processes,omitempty"`
	// Writable are the app's writable dirs and the dirs under them that
	// hold tracked files, app-relative, parents first: the launcher makes
	// them again on the empty tmpfs a read-only release mounts there.
	Writable []string `json:"writable,omitempty"`
}

// App is the app's own files, always the last layer.
type App struct {
	Dir      string
	Files    []string
	Writable []string
	AppPath  string
	// Secrets are files left out because they hold a private key.
	Secrets []string
	// Stale are committed compiled templates left out: the volt layer
	// writes their paths.
	Stale []string
	// Vendor is set for composer apps whose composer.json has Scripts
	// that run with the autoloader's dump: the app layer then carries the
	// autoloader, dumped with the scripts over the app's files and the
	// vendor dir, so it changes with the vendor layer too. Other composer
	// apps have an autoload layer.
	Vendor  *Vendor
	Scripts []string
}

var (
	_ Layer = (*Runtime)(nil)
	_ Layer = (*Vendor)(nil)
	_ Layer = (*Assets)(nil)
	_ Layer = (*Volt)(nil)
	_ Layer = (*Config)(nil)
	_ Layer = (*App)(nil)
)

func (*Runtime) Name() string { return "runtime" }
func (*Vendor) Name() string  { return "vendor" }
func (*Assets) Name() string  { return "assets" }
func (*Volt) Name() string    { return "volt" }
func (*Config) Name() string  { return "config" }
func (*App) Name() string     { return "app" }

func (l *Runtime) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	if l.RunDigest != "" {
		k.str("run", l.RunDigest)
		return k.sum(), nil
	}
	k.str("base", l.Base)
	k.str("php", l.PHPMinor)
	k.str("phalcon", l.Phalcon)
	k.json("extensions", sorted(l.Extensions))
	k.str("apt", l.AptSource)
	return k.sum(), nil
}

func (l *Vendor) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.str("php", l.PHPMinor)
	k.json("extensions", sorted(l.Extensions))
	k.json("flags", l.Flags)
	if err := k.files(ctx, l.Dir, l.Files); err != nil {
		return v1.Hash{}, err
	}
	if l.Root != "" {
		// Named from the work tree's top, never by its absolute path: two
		// clones of one commit get one key.
		k.str("appInRoot", l.AppInRoot)
		if err := k.files(ctx, l.Root, l.Outside); err != nil {
			return v1.Hash{}, err
		}
	}
	return k.sum(), nil
}

func (l *Assets) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.str("pm", l.PackageManager)
	k.str("script", l.BuildScript)
	k.str("node", l.Node)
	k.json("output", l.Output)
	if err := k.files(ctx, l.Dir, l.Files); err != nil {
		return v1.Hash{}, err
	}
	return k.sum(), nil
}

func (l *Volt) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.json("options", l.Options)
	k.json("container", struct {
		FactoryDefault bool     `json:"factoryDefault"`
		Services       []string `json:"services"`
	}{l.FactoryDefault, sorted(l.Services)})
	var exts []string
	for _, e := range l.Extensions {
		// Where it is written does not change what it compiles to.
		exts = append(exts, e.Kind+" "+e.Name+"\n"+codeWithoutAt(e))
	}
	k.json("extensions", exts)
	k.str("phalcon", l.Phalcon)
	k.str("appPath", l.AppPath)
	if err := k.files(ctx, l.Dir, l.Files); err != nil {
		return v1.Hash{}, err
	}
	return k.sum(), nil
}

func (l *Config) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.json("settings", l.Settings)
	return k.sum(), nil
}

func (l *App) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.str("appPath", l.AppPath)
	k.json("writable", sorted(l.Writable))
	if l.Vendor != nil {
		vk, err := l.Vendor.Key(ctx)
		if err != nil {
			return v1.Hash{}, err
		}
		k.str("vendor", vk.String())
	}
	if err := k.files(ctx, l.Dir, l.Files); err != nil {
		return v1.Hash{}, err
	}
	return k.sum(), nil
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// under reports whether slash-separated rel is dir or inside it.
func under(rel, dir string) bool {
	dir = path.Clean(dir)
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// codeWithoutAt is an extension's code without the comment naming where
// the app defines it: moving it to another line or file keeps the key.
func codeWithoutAt(e phalcon.Extension) string {
	return strings.Replace(e.Code, "    // "+e.At+"\n", "", 1)
}
