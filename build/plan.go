package build

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/runtimes"
)

// Plan is what a build of the app will do, as data. Its JSON form is what
// `phpbuild plan --json` prints; fields are only ever added to it.
type Plan struct {
	App      PlanApp     `json:"app"`
	Runtime  PlanRuntime `json:"runtime"`
	Layers   []PlanLayer `json:"layers"`
	Warnings []string    `json:"warnings"`
}

// PlanApp is what detection found, as the build uses it.
type PlanApp struct {
	Path     string    `json:"path"` // where the app lives in the image
	WebRoot  string    `json:"webRoot"`
	Phalcon  bool      `json:"phalcon"`
	Volt     PlanVolt  `json:"volt"`
	Node     *PlanNode `json:"node"`
	Writable []string  `json:"writable"`
	EnvFiles []string  `json:"envFiles"`
	// Processes are the process types and schedules the image carries,
	// each with where it was declared.
	Processes *processes.Table `json:"processes"`
}

// PlanVolt is how the templates are precompiled: the view dirs, and, for
// a Phalcon runtime, the compiler's options and DI service names with where
// each was found (project.toml, FILE:LINE of the app's PHP, or Phalcon).
type PlanVolt struct {
	Dirs     []string          `json:"dirs"`
	Options  []PlanOption      `json:"options,omitempty"`
	Services []phalcon.Service `json:"services,omitempty"`
	// Ignored are service names found in the app's PHP that project.toml's
	// volt.ignore_services removes.
	Ignored []string `json:"ignored,omitempty"`
	// Extensions are the functions and filters the app's PHP adds to the
	// compiler, which the precompiler adds too.
	Extensions []PlanExtension `json:"extensions,omitempty"`
}

// PlanExtension is one Volt function or filter and where the app adds it.
type PlanExtension struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

// PlanOption is one Volt option and where its value came from.
type PlanOption struct {
	Name   string `json:"name"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

// PlanNode is the node asset build; nil when the app has none.
type PlanNode struct {
	PackageManager string `json:"packageManager"`
	Lockfile       string `json:"lockfile"`
	BuildScript    string `json:"buildScript"`
}

// PlanRuntime is the resolved runtime.
type PlanRuntime struct {
	PHPMinor   string   `json:"phpMinor"`
	PHP        string   `json:"php"`
	Phalcon    *string  `json:"phalcon"`
	Extensions []string `json:"extensions"`
	Base       string   `json:"base"`
	// RunImage, BuildImage, ComposerImage, CLIImage and NodeImage are
	// repo@digest of the built runtime, when the plan was resolved against
	// a runtime repo.
	RunImage      string `json:"runImage,omitempty"`
	BuildImage    string `json:"buildImage,omitempty"`
	ComposerImage string `json:"composerImage,omitempty"`
	CLIImage      string `json:"cliImage,omitempty"`
	NodeImage     string `json:"nodeImage,omitempty"`
}

// PlanLayer is one layer and its key.
type PlanLayer struct {
	Name string `json:"name"`
	Key  string `json:"key"`
	// Note says what makes the layer change, where that is not plain
	// from its name.
	Note string `json:"note,omitempty"`
}

// PlanDir detects the app in dir, resolves its runtime and keys its layers.
func PlanDir(ctx context.Context, dir string, opts ...Option) (*Plan, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	app, err := DetectDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	var rt *runtimes.Runtime
	if o.runtimeRepo != nil {
		entries, err := runtimes.ReadManifest(ctx, *o.runtimeRepo, o.remote...)
		if err != nil {
			return nil, err
		}
		rt, err = runtimes.ResolveBuilt(app, o.catalog, o.runtimeRepo.String(), entries)
		if err != nil {
			return nil, err
		}
	} else if rt, err = runtimes.Resolve(app, o.catalog); err != nil {
		return nil, err
	}
	return NewPlan(ctx, app, rt)
}

// DetectDir detects the app in dir as a build of it would: in a git work
// tree from the files git lists (tracked, and untracked ones not ignored),
// so ignored caches and empty dirs change nothing; elsewhere from the dir.
func DetectDir(ctx context.Context, dir string) (*detect.App, error) {
	var opts []detect.Option
	if commit, err := git.ReadCommit(ctx, dir); err == nil {
		opts = append(opts, detect.WithFiles(commit.Files))
	}
	return detect.Detect(ctx, dir, opts...)
}

// NewPlan keys the layers of app on rt.
func NewPlan(ctx context.Context, app *detect.App, rt *runtimes.Runtime) (*Plan, error) {
	ls, err := layers.ForApp(app, rt)
	if err != nil {
		return nil, err
	}
	return newPlan(ctx, app, rt, ls)
}

// newPlan keys ls, the layers of app on rt.
func newPlan(ctx context.Context, app *detect.App, rt *runtimes.Runtime, ls []layers.Layer) (*Plan, error) {
	p := &Plan{
		App: PlanApp{
			Path:      layers.AppPath,
			WebRoot:   app.WebRoot,
			Phalcon:   app.Phalcon.Used,
			Volt:      PlanVolt{Dirs: app.Volt.Dirs},
			Writable:  app.Writable,
			EnvFiles:  app.EnvFiles,
			Processes: app.Processes,
		},
		Runtime: PlanRuntime{
			PHPMinor:      rt.PHPMinor,
			PHP:           rt.PHP,
			Extensions:    rt.Extensions,
			Base:          rt.Base,
			RunImage:      rt.RunImage,
			BuildImage:    rt.BuildImage,
			ComposerImage: rt.ComposerImage,
			CLIImage:      rt.CLIImage,
			NodeImage:     rt.NodeImage,
		},
		Warnings: append(append([]string{}, app.Warnings...), rt.Warnings...),
	}
	if app.Node != nil {
		p.App.Node = &PlanNode{PackageManager: app.Node.PackageManager, Lockfile: app.Node.Lockfile, BuildScript: app.Node.BuildScript}
	}
	if rt.Phalcon != "" {
		v := rt.Phalcon
		p.Runtime.Phalcon = &v
	}
	for _, l := range ls {
		note := ""
		switch l := l.(type) {
		case *layers.Autoload:
			ix, err := l.IndexSummary(ctx)
			if err != nil {
				return nil, err
			}
			note = fmt.Sprintf("%s in %s; rebuilt when a class is added, removed, renamed or moved, or composer's files change, not for a code change", count(ix.Classes, "class", "classes"), count(ix.Files, "file", "files"))
		case *layers.App:
			if l.Vendor != nil {
				note = fmt.Sprintf("carries composer's autoloader: composer.json's %s scripts run with its dump and may write anywhere in the app, so every code change runs composer", strings.Join(l.Scripts, ", "))
			}
			for _, f := range l.Secrets {
				p.Warnings = append(p.Warnings, f+": holds a private key; left out of the image (remove it from git, and rotate it if it was ever pushed)")
			}
			for _, f := range l.Stale {
				p.Warnings = append(p.Warnings, f+": a compiled Volt template committed to git; left out of the image, where the volt layer compiles it afresh (remove it from git)")
			}
		case *layers.Volt:
			p.App.Volt.Options, p.App.Volt.Services, p.App.Volt.Ignored = planVolt(l.Read)
			for _, e := range l.Extensions {
				p.App.Volt.Extensions = append(p.App.Volt.Extensions, PlanExtension{Kind: e.Kind, Name: e.Name, Source: e.At})
			}
			p.Warnings = append(p.Warnings, l.Read.Warnings...)
			if w := hiddenVolt(l, app.Writable); w != "" {
				p.Warnings = append(p.Warnings, w)
			}
		}
		key, err := l.Key(ctx)
		if badinput.Is(err) {
			return nil, err // names the file already
		}
		if err != nil {
			return nil, fmt.Errorf("keying the %s layer: %w", l.Name(), err)
		}
		p.Layers = append(p.Layers, PlanLayer{Name: l.Name(), Key: key.String(), Note: note})
	}
	return p, nil
}

func planVolt(v *phalcon.Volt) ([]PlanOption, []phalcon.Service, []string) {
	o := v.Options
	opts := []PlanOption{
		{Name: "path", Value: o.Path, Source: v.Sources["path"]},
		{Name: "separator", Value: o.Separator, Source: v.Sources["separator"]},
		{Name: "extension", Value: o.Extension, Source: v.Sources["extension"]},
		{Name: "prefix", Value: o.Prefix, Source: v.Sources["prefix"]},
	}
	if src, ok := v.Sources["autoescape"]; ok {
		opts = append(opts, PlanOption{Name: "autoescape", Value: o.Autoescape, Source: src})
	}
	if src, ok := v.Sources["bootstrap"]; ok {
		opts = append(opts, PlanOption{Name: "bootstrap", Value: o.Bootstrap, Source: src})
	}
	return opts, v.Services, v.Ignored
}

// hiddenVolt warns when the compiled templates sit in a writable dir: a
// tmpfs or volume mounted there at run time hides them, and Phalcon then
// compiles into it on the first requests. (detect warns already when
// project.toml's volt.path says so.)
func hiddenVolt(v *layers.Volt, writable []string) string {
	if v.Options.Path == "" || strings.HasPrefix(v.Read.Sources["path"], "project.toml") {
		return ""
	}
	dir := v.Options.Path
	if !strings.HasSuffix(dir, "/") {
		dir = path.Dir(dir)
	}
	rel := strings.TrimPrefix(path.Clean(dir), v.AppPath+"/")
	for _, w := range writable {
		if rel == w || strings.HasPrefix(rel, w+"/") {
			return fmt.Sprintf("Volt compiles to %s (%s), inside the writable dir %s: a tmpfs or volume mounted at %s hides the precompiled templates, and Phalcon compiles them again into it at run time; mount writable storage below it, or list the dirs the app really writes in [build] writable with detect_writable = false",
				rel, v.Read.Sources["path"], w, w)
		}
	}
	return ""
}

// count is n with the noun that fits it.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
