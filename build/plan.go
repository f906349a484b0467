package build

import (
	"context"
	"fmt"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/layers"
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
}

// PlanVolt lists the Volt view dirs.
type PlanVolt struct {
	Dirs []string `json:"dirs"`
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
	// RunImage, BuildImage and ComposerImage are repo@digest of the built runtime, when the
	// plan was resolved against a runtime repo.
	RunImage      string `json:"runImage,omitempty"`
	BuildImage    string `json:"buildImage,omitempty"`
	ComposerImage string `json:"composerImage,omitempty"`
}

// PlanLayer is one layer and its key.
type PlanLayer struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// PlanDir detects the app in dir, resolves its runtime and keys its layers.
func PlanDir(ctx context.Context, dir string, opts ...Option) (*Plan, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	app, err := detect.Detect(ctx, dir)
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

// NewPlan keys the layers of app on rt.
func NewPlan(ctx context.Context, app *detect.App, rt *runtimes.Runtime) (*Plan, error) {
	p := &Plan{
		App: PlanApp{
			Path:     layers.AppPath,
			WebRoot:  app.WebRoot,
			Phalcon:  app.Phalcon.Used,
			Volt:     PlanVolt{Dirs: app.Volt.Dirs},
			Writable: app.Writable,
			EnvFiles: app.EnvFiles,
		},
		Runtime: PlanRuntime{
			PHPMinor:      rt.PHPMinor,
			PHP:           rt.PHP,
			Extensions:    rt.Extensions,
			Base:          rt.Base,
			RunImage:      rt.RunImage,
			BuildImage:    rt.BuildImage,
			ComposerImage: rt.ComposerImage,
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
	ls, err := layers.ForApp(app, rt)
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		if a, ok := l.(*layers.App); ok {
			for _, f := range a.Secrets {
				p.Warnings = append(p.Warnings, f+": holds a private key; left out of the image (remove it from git, and rotate it if it was ever pushed)")
			}
		}
		key, err := l.Key(ctx)
		if badinput.Is(err) {
			return nil, err // names the file already
		}
		if err != nil {
			return nil, fmt.Errorf("keying the %s layer: %w", l.Name(), err)
		}
		p.Layers = append(p.Layers, PlanLayer{Name: l.Name(), Key: key.String()})
	}
	return p, nil
}
