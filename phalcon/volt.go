package phalcon

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/project"
)

// VoltOptions are the options Volt's compiler gets from the app; they decide
// the compiled files' names and content, so the volt layer's key covers them.
type VoltOptions struct {
	// Path is the compiled path as PHP builds file names from it (see
	// CompiledFile): an absolute path in the image, "" to compile next to
	// each template.
	Path       string `json:"path"`
	Separator  string `json:"separator"`
	Extension  string `json:"extension"`
	Prefix     string `json:"prefix"`
	Autoescape bool   `json:"autoescape,omitempty"`
	// Bootstrap is an app-relative PHP file that registers functions and
	// filters with $compiler in scope.
	Bootstrap string `json:"bootstrap"`
}

// Phalcon's own defaults (Phalcon\Mvc\View\Engine\Volt\Compiler).
const (
	DefaultSeparator = "%%"
	DefaultExtension = ".php"
)

// Volt is how the app sets Volt up at run time, read from project.toml and
// the app's PHP, and so how the precompiler must compile.
type Volt struct {
	Options VoltOptions `json:"options"`
	// Sources says where each option came from, by its project.toml name:
	// "project.toml volt.path", "app/config/services.php:31" or "Phalcon's default".
	Sources map[string]string `json:"sources"`
	// Always is the app's always option: Phalcon then compiles on every
	// request, and precompiled files are never used.
	Always bool `json:"always"`
	// FactoryDefault is true when the compiler's container starts from
	// Phalcon's FactoryDefault, as the app's does.
	FactoryDefault bool `json:"factoryDefault"`
	// Services are the names the compiler's container has, sorted: Volt
	// compiles a.b to $this->a->b for a service a, to $a->b otherwise.
	Services []Service `json:"services"`
	// Ignored are names found in the app's PHP that project.toml removes.
	Ignored []string `json:"ignored,omitempty"`
	// Extensions are the functions and filters the app adds to the
	// compiler in its PHP, in the order found.
	Extensions []Extension `json:"extensions,omitempty"`
	// Outside is set when the compiled path is outside the app: nothing is
	// precompiled, Phalcon compiles at run time.
	Outside  bool     `json:"-"`
	Warnings []string `json:"-"`
}

// Service is one DI service name and where it was found.
type Service struct {
	Name   string `json:"name"`
	Source string `json:"source"`
}

// Names lists the service names the compiler's container must be given:
// all of them, or those beyond FactoryDefault's own when it starts from one.
func (v *Volt) Names() []string {
	var out []string
	for _, s := range v.Services {
		if !v.FactoryDefault || s.Source != factorySource {
			out = append(out, s.Name)
		}
	}
	return out
}

// factoryDefaultServices are the services Phalcon 5's
// Phalcon\Di\FactoryDefault registers (phalcon/di/factorydefault.zep).
var factoryDefaultServices = []string{
	"annotations", "assets", "cookies", "crypt", "dispatcher", "escaper", "eventsManager", "filter",
	"flash", "flashSession", "helper", "modelsManager", "modelsMetadata", "queueFactory", "request",
	"response", "router", "security", "settings", "tag", "transactionManager", "url",
}

const factorySource = "Phalcon\\Di\\FactoryDefault"

// ReadVolt reads how app configures Volt: project.toml's [volt] first, then
// what the app's PHP passes to setOptions/setOption and registers on its
// DI container, then Phalcon's defaults. appPath is where the app lives in
// the image.
func ReadVolt(app *detect.App, appPath string) (*Volt, error) {
	sc, err := Scan(app.Dir, app.Files, appPath, app.WebRoot)
	if err != nil {
		return nil, err
	}
	v := readVolt(app.Project.Volt, sc, appPath)
	exts, warnings, err := scanExtensions(app.Dir, app.Files)
	if err != nil {
		return nil, err
	}
	v.Extensions = exts
	v.Warnings = append(v.Warnings, warnings...)
	return v, nil
}

func readVolt(cfg project.Volt, sc *Scanned, appPath string) *Volt {
	v := &Volt{
		Options: VoltOptions{Separator: DefaultSeparator, Extension: DefaultExtension},
		Sources: map[string]string{
			"path": "Phalcon's default", "separator": "Phalcon's default",
			"extension": "Phalcon's default", "prefix": "Phalcon's default",
		},
	}
	// The first place that sets an option wins; another value elsewhere is
	// worth a warning, since phpbuild cannot tell which one serves.
	firstAt := map[string]Option{}
	for _, o := range sc.Options {
		first, seen := firstAt[o.Key]
		if !seen {
			firstAt[o.Key] = o
			continue
		}
		if fmt.Sprint(first.Value) != fmt.Sprint(o.Value) {
			v.warn("%s sets Volt's %s to %q, %s to %q; precompiling with the first (set volt.%s in project.toml to choose)",
				first.At, o.Key, fmt.Sprint(first.Value), o.At, fmt.Sprint(o.Value), o.Key)
		}
	}
	setStr := func(key string, dst *string) {
		if o, ok := firstAt[key]; ok {
			if s, ok := o.Value.(string); ok {
				*dst = s
				v.Sources[key] = o.At
			}
		}
	}
	setStr("path", &v.Options.Path)
	setStr("separator", &v.Options.Separator)
	setStr("extension", &v.Options.Extension)
	setStr("prefix", &v.Options.Prefix)
	if o, ok := firstAt["autoescape"]; ok {
		if b, ok := o.Value.(bool); ok {
			v.Options.Autoescape = b
			v.Sources["autoescape"] = o.At
		}
	}
	if o, ok := firstAt["always"]; ok {
		if b, ok := o.Value.(bool); ok && b {
			v.Always = true
			v.warn("%s sets Volt's always option: Phalcon compiles every template on every request, so precompiled templates are not used (and a read-only container cannot serve them)", o.At)
		}
	}

	// project.toml wins.
	if cfg.Path != "" {
		v.Options.Path = path.Join(appPath, path.Clean(cfg.Path)) + "/"
		v.Sources["path"] = "project.toml volt.path"
	}
	for _, o := range []struct {
		key string
		val string
		dst *string
	}{{"separator", cfg.Separator, &v.Options.Separator}, {"extension", cfg.Extension, &v.Options.Extension}, {"prefix", cfg.Prefix, &v.Options.Prefix}} {
		if o.val != "" {
			*o.dst = o.val
			v.Sources[o.key] = "project.toml volt." + o.key
		}
	}
	if cfg.Autoescape != nil {
		v.Options.Autoescape = *cfg.Autoescape
		v.Sources["autoescape"] = "project.toml volt.autoescape"
	}
	if cfg.Bootstrap != "" {
		v.Options.Bootstrap = path.Clean(cfg.Bootstrap)
		v.Sources["bootstrap"] = "project.toml volt.bootstrap"
	}
	for _, u := range sc.Unread {
		if _, set := v.Sources[u.Name]; set && strings.HasPrefix(v.Sources[u.Name], "project.toml") {
			continue
		}
		switch u.Name {
		case "path", "separator", "extension", "prefix", "autoescape":
			v.warn("%s: Volt's %s option is set by an expression phpbuild cannot read; set volt.%s in project.toml to the value it has at run time",
				u.At, u.Name, u.Name)
		}
	}
	if p := v.Options.Path; p != "" {
		if !strings.HasPrefix(p, "/") {
			// php-fpm runs the front controller in its own dir.
			p = appPath + "/" + p
			v.Options.Path = p
		}
		if clean := path.Clean(p); clean != appPath && !strings.HasPrefix(clean, appPath+"/") {
			v.Outside = true
			v.warn("Volt's compiled path %s (%s) is outside the app (%s): templates are not precompiled and compile at run time; set volt.path in project.toml to a dir of the app",
				p, v.Sources["path"], appPath)
		}
	}

	// The compiler's container: the app's own, by name.
	switch sc.Container {
	case "FactoryDefault", "":
		v.FactoryDefault = true
		for _, n := range factoryDefaultServices {
			v.Services = append(v.Services, Service{Name: n, Source: factorySource})
		}
	}
	has := func(n string) bool {
		return slices.ContainsFunc(v.Services, func(s Service) bool { return s.Name == n })
	}
	for _, s := range sc.Services {
		if !has(s.Name) {
			v.Services = append(v.Services, Service{Name: s.Name, Source: s.At})
		}
	}
	for _, n := range cfg.Services {
		if !has(n) {
			v.Services = append(v.Services, Service{Name: n, Source: "project.toml volt.services"})
		}
	}
	v.Services = slices.DeleteFunc(v.Services, func(s Service) bool {
		if slices.Contains(cfg.IgnoreServices, s.Name) {
			v.Ignored = append(v.Ignored, s.Name)
			return true
		}
		return false
	})
	if len(v.Ignored) > 0 && v.FactoryDefault {
		// FactoryDefault's names are the real container's: the precompiler
		// starts from a plain one and adds the rest by name.
		v.FactoryDefault = false
	}
	sort.Slice(v.Services, func(i, j int) bool { return v.Services[i].Name < v.Services[j].Name })
	sort.Strings(v.Ignored)
	return v
}

func (v *Volt) warn(format string, args ...any) {
	v.Warnings = append(v.Warnings, fmt.Sprintf(format, args...))
}

// CompiledFile is where Phalcon's compiler writes, and its engine reads, the
// compiled form of template (an absolute, clean path, as realpath() gives
// it), as Compiler::compile() names it: the compiled path, the prefix, the
// template path lower-cased with "/", "\" and ":" replaced by the
// separator, then "<sep>e<sep>" for a template compiled as the parent of an
// {% extends %}, then the extension. The result is cleaned.
func CompiledFile(o VoltOptions, template string, extends bool) string {
	var name string
	if o.Path == "" {
		name = template
	} else {
		var b strings.Builder
		for i := 0; i < len(template); i++ {
			switch c := template[i]; c {
			case '/', '\\', ':':
				b.WriteString(o.Separator)
			default:
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				b.WriteByte(c)
			}
		}
		name = o.Path + o.Prefix + b.String()
	}
	if o.Path == "" {
		name = o.Prefix + name
	}
	if extends {
		name += o.Separator + "e" + o.Separator
	}
	return path.Clean(name + o.Extension)
}
