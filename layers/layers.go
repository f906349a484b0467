package layers

import (
	"context"
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
	// Files are the composer files and every file of path repositories.
	Files      []string
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

// Volt is every template precompiled by Phalcon's own compiler.
type Volt struct {
	Dir     string
	Files   []string // *.volt, and the bootstrap file when there is one
	Options phalcon.VoltOptions
	Phalcon string
	// AppPath is where the app lives in the image: compiled file names
	// embed the template's absolute path.
	AppPath string
}

// Config is the generated nginx, php-fpm and php.ini configuration.
type Config struct {
	// Settings is everything the templates are rendered from.
	Settings ConfigSettings
}

// ConfigSettings decide the rendered config files.
type ConfigSettings struct {
	AppPath    string            `json:"appPath"`
	WebRoot    string            `json:"webRoot"`
	HealthPath string            `json:"healthPath"`
	INI        map[string]string `json:"ini"`
	FPM        map[string]string `json:"fpm"`
	Nginx      map[string]string `json:"nginx"`
	RealIPFrom []string          `json:"realIPFrom"`
	// Denied are app-relative paths nginx never serves.
	Denied []string `json:"denied"`
}

// App is the app's own files, always the last layer.
type App struct {
	Dir      string
	Files    []string
	Writable []string
	AppPath  string
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
