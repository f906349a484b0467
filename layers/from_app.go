package layers

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/filecache"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/phalcon"
	"github.com/phpbuild/phpbuild/runtimes"
)

// AppPath is where the app lives in every image.
const AppPath = "/app"

// DefaultHealthPath is the route the launcher's health check requests.
const DefaultHealthPath = "/health"

// composerFiles ship with the vendor layer, whose inputs they are.
var composerFiles = []string{"composer.json", "composer.lock"}

// nodeFiles are the node build's inputs; only its output ships.
var nodeFiles = []string{"package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", ".npmrc", ".yarnrc", ".yarnrc.yml"}

// ForApp returns the layers of app on runtime rt, in image order, leaving
// out the layers the app has no inputs for.
func ForApp(app *detect.App, rt *runtimes.Runtime) ([]Layer, error) {
	ls := []Layer{NewRuntime(rt)}
	vendor := NewVendor(app, rt)
	if vendor != nil {
		ls = append(ls, vendor)
	}
	appLayer, err := NewApp(app)
	if err != nil {
		return nil, err
	}
	a, err := NewAssets(app)
	if err != nil {
		return nil, err
	}
	if a != nil {
		ls = append(ls, a)
	}
	v, err := NewVolt(app, rt)
	if err != nil {
		return nil, err
	}
	if v != nil {
		ls = append(ls, v)
	}
	c, err := NewConfig(app, rt, v)
	if err != nil {
		return nil, err
	}
	ls = append(ls, c)
	if v != nil {
		appLayer.leaveToVolt(v)
	}
	if vendor != nil {
		scripts, err := ComposerScripts(app.Dir)
		if err != nil {
			return nil, err
		}
		if len(scripts) > 0 {
			// The scripts run over the app's files: the autoloader is
			// dumped with them, in the app layer, as before there was an
			// autoload layer.
			appLayer.Vendor, appLayer.Scripts = vendor, scripts
		} else {
			al, err := newAutoload(app, vendor, appLayer.Files)
			if err != nil {
				return nil, err
			}
			// Right over the vendor dir it completes.
			ls = slices.Insert(ls, slices.Index(ls, Layer(vendor))+1, Layer(al))
		}
	}
	return append(ls, appLayer), nil
}

// leaveToVolt takes out of the app layer the templates the volt layer
// ships, and any committed file at a path the volt layer writes: a compiled
// template made on another machine, which would sit over the fresh one with
// the wrong time.
func (a *App) leaveToVolt(v *Volt) {
	templates := map[string]bool{}
	for _, t := range v.Templates() {
		templates[t] = true
	}
	compiled := v.Compiled()
	a.Files = slices.DeleteFunc(a.Files, func(f string) bool {
		if templates[f] {
			return true
		}
		if _, ok := compiled[path.Join(a.AppPath, f)]; ok {
			a.Stale = append(a.Stale, f)
			return true
		}
		return false
	})
}

// NewRuntime is the run image's layers.
func NewRuntime(rt *runtimes.Runtime) *Runtime {
	return &Runtime{RunDigest: rt.RunDigest, Base: rt.Base, PHPMinor: rt.PHPMinor, Phalcon: rt.Phalcon, Extensions: rt.Extensions, AptSource: rt.AptSource}
}

// NewVendor is composer's install, or nil for an app without composer.json.
func NewVendor(app *detect.App, rt *runtimes.Runtime) *Vendor {
	if app.Composer == nil {
		return nil
	}
	v := &Vendor{Dir: app.Dir, PHPMinor: rt.PHPMinor, Extensions: rt.Extensions}
	v.Flags = []string{"--no-dev", "--prefer-dist", "--optimize-autoloader"}
	if app.Project.Build.ClassmapAuthoritative {
		v.Flags = append(v.Flags, "--classmap-authoritative")
	}
	if app.Composer.Lock == nil {
		v.Flags = append(v.Flags, "--resolve-without-lock")
	}
	for _, f := range app.Files {
		if !isEnvFile(f) && (isComposerFile(f) || inAny(f, app.Composer.PathRepos)) {
			v.Files = append(v.Files, f)
		}
	}
	if wt := app.Composer.WorkTree; wt != nil {
		v.Root, v.AppInRoot = wt.Root, wt.App
		for _, f := range wt.Files {
			if !isEnvFile(f) {
				v.Outside = append(v.Outside, f)
			}
		}
	}
	return v
}

// NewAssets is the node build's output, or nil for an app without a build
// script.
func NewAssets(app *detect.App) (*Assets, error) {
	if app.Node == nil {
		return nil, nil
	}
	cfg := app.Project.Build.Assets
	a := &Assets{Dir: app.Dir, PackageManager: app.Node.PackageManager, BuildScript: app.Node.BuildScript, Node: cfg.Node, Output: cfg.Output}
	var sources *Selector
	if len(cfg.Sources) > 0 {
		var err error
		if sources, err = NewSelector(cfg.Sources); err != nil {
			return nil, app.Project.FieldError("build.assets.sources", "%v", err)
		}
	}
	for _, f := range app.Files {
		switch {
		case isNodeFile(f):
		case isEnvFile(f) || inAny(f, cfg.Output):
			continue
		case sources != nil:
			if !sources.Match(f) {
				continue
			}
		case !isAssetSource(app, f):
			continue
		}
		a.Files = append(a.Files, f)
	}
	return a, nil
}

// isAssetSource is the default asset-source rule: every file that is not
// PHP or a composer or project file, so a PHP-only change never rebuilds
// assets.
func isAssetSource(app *detect.App, f string) bool {
	if strings.HasSuffix(f, ".php") || isComposerFile(f) || f == "project.toml" {
		return false
	}
	return app.Composer == nil || !inAny(f, app.Composer.PathRepos)
}

// NewVolt is the precompiled templates, or nil for an app without Phalcon,
// without templates, or whose compiled path is outside the app.
func NewVolt(app *detect.App, rt *runtimes.Runtime) (*Volt, error) {
	if rt.Phalcon == "" || len(app.Volt.Dirs) == 0 {
		return nil, nil
	}
	read, err := phalcon.ReadVolt(app, AppPath)
	if err != nil {
		return nil, err
	}
	if read.Outside {
		return nil, nil
	}
	v := &Volt{Dir: app.Dir, Phalcon: rt.Phalcon, AppPath: AppPath, Options: read.Options,
		FactoryDefault: read.FactoryDefault, Services: read.Names(), Extensions: read.Extensions, Read: read}
	for _, f := range app.Files {
		if (strings.HasSuffix(f, ".volt") && inAny(f, app.Volt.Dirs)) || (v.Options.Bootstrap != "" && f == v.Options.Bootstrap) {
			v.Files = append(v.Files, f)
		}
	}
	return v, nil
}

// NewConfig is the nginx, php-fpm and php.ini configuration of app on rt.
// A project.toml value that could not be rendered is a *badinput.Error
// naming its field.
func NewConfig(app *detect.App, rt *runtimes.Runtime, volt *Volt) (*Config, error) {
	p := app.Project
	s := ConfigSettings{
		Recipe:          configRecipe(),
		PHPMinor:        rt.PHPMinor,
		AppPath:         AppPath,
		WebRoot:         app.WebRoot,
		FrontController: configDefaults.FrontController,
		HealthPath:      p.Build.HealthPath,
		INI:             maps.Clone(p.PHP.INI),
		RealIPFrom:      p.Nginx.RealIPFrom,
	}
	// web/app.php is the front controller of Symfony 2 and 3 layouts.
	if !slices.Contains(app.Files, path.Join(app.WebRoot, "index.php")) && slices.Contains(app.Files, path.Join(app.WebRoot, "app.php")) {
		s.FrontController = "app.php"
	}
	if s.HealthPath == "" {
		s.HealthPath, s.HealthScript = DefaultHealthPath, HealthScript
	}
	for _, k := range slices.Sorted(maps.Keys(s.INI)) {
		if err := checkINI(k, s.INI[k]); err != nil {
			return nil, p.FieldError("php.ini."+k, "%v", err)
		}
	}
	s.FPM = map[string]string{}
	if n := p.PHP.FPM.MaxChildren; n > 0 {
		s.FPM["pm.max_children"] = strconv.Itoa(n)
	}
	for _, t := range []struct{ key, directive, value string }{
		{"php.fpm.process_control_timeout", "process_control_timeout", p.PHP.FPM.ProcessControlTimeout},
		{"php.fpm.request_terminate_timeout", "request_terminate_timeout", p.PHP.FPM.RequestTerminateTimout},
	} {
		if t.value == "" {
			continue
		}
		if !fpmTimeRE.MatchString(t.value) {
			return nil, p.FieldError(t.key, "%q is not a php-fpm time like 30s, 5m or 30", t.value)
		}
		s.FPM[t.directive] = t.value
	}
	if c := p.PHP.FPM.CatchWorkersOutput; c != nil && !*c {
		// php-fpm's master reads a byte from every worker's stderr pipe at
		// the end of each request; without the pipes, PHP's messages reach
		// the log through nginx (FastCGI stderr) instead.
		s.FPM["catch_workers_output"] = "no"
		if s.INI == nil {
			s.INI = map[string]string{}
		}
		if _, set := s.INI["fastcgi.logging"]; !set {
			s.INI["fastcgi.logging"] = "1"
		}
	}
	s.Nginx = map[string]string{}
	if v := p.Nginx.ClientMaxBodySize; v != "" {
		if _, err := phpSizeOf(v); err != nil {
			return nil, p.FieldError("nginx.client_max_body_size", "%v", err)
		}
		s.Nginx["client_max_body_size"] = v
	}
	if v := p.Nginx.StaticMaxAge; v != "" {
		if _, err := parseNginxTime(v); err != nil {
			return nil, p.FieldError("nginx.static_max_age", "%v", err)
		}
		s.Nginx["static_max_age"] = v
	}
	for _, r := range p.Nginx.RealIPFrom {
		if err := checkRealIPFrom(r); err != nil {
			return nil, p.FieldError("nginx.real_ip_from", "%v", err)
		}
	}
	for _, w := range p.Build.Writable {
		if err := checkSafePath("dir", path.Clean(w)); err != nil {
			return nil, p.FieldError("build.writable", "%v", err)
		}
	}
	denied := append([]string{}, app.Writable...)
	if p.Volt.Path != "" {
		if err := checkSafePath("dir", path.Clean(p.Volt.Path)); err != nil {
			return nil, p.FieldError("volt.path", "%v", err)
		}
	}
	if volt != nil && volt.Options.Path != "" {
		// The compiled dir is PHP that must only run through the engine.
		// Without a trailing slash the path is a file name prefix.
		dir := volt.Options.Path
		if !strings.HasSuffix(dir, "/") {
			dir = path.Dir(dir)
		}
		if rel, ok := strings.CutPrefix(path.Clean(dir), AppPath+"/"); ok && !slices.Contains(denied, rel) {
			denied = append(denied, rel)
		}
	}
	s.Denied = sorted(denied)
	if !app.Processes.Empty() {
		s.Processes = app.Processes.ImageJSON()
	}
	s.Writable = writableTree(app.Writable, app.Files)
	return &Config{Settings: s}, nil
}

// NewApp is the app's files after the default excludes and project.toml's
// [io.buildpacks] include or exclude.
func NewApp(app *detect.App) (*App, error) {
	bp := app.Project.IO.Buildpacks
	include, err := NewSelector(bp.Include)
	if err != nil {
		return nil, app.Project.FieldError("io.buildpacks.include", "%v", err)
	}
	exclude, err := NewSelector(bp.Exclude)
	if err != nil {
		return nil, app.Project.FieldError("io.buildpacks.exclude", "%v", err)
	}
	var pathRepos []string
	if app.Composer != nil {
		pathRepos = app.Composer.PathRepos
	}
	a := &App{Dir: app.Dir, Writable: app.Writable, AppPath: AppPath}
	var files []string
	for _, f := range app.Files {
		switch {
		case isEnvFile(f), isComposerFile(f), isNodeFile(f), f == "project.toml", inAny(f, pathRepos):
			continue
		case len(bp.Include) > 0 && !include.Match(f):
			continue
		case exclude.Match(f):
			continue
		}
		files = append(files, f)
	}
	// The first read of every file: on every core.
	secret, err := par.Map(context.Background(), files, func(f string) (bool, error) {
		return holdsPrivateKey(filepath.Join(app.Dir, filepath.FromSlash(f))), nil
	})
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		if secret[i] {
			a.Secrets = append(a.Secrets, f)
		} else {
			a.Files = append(a.Files, f)
		}
	}
	return a, nil
}

// privateKeySizeLimit bounds the scan: key files are small, and reading
// every large asset on each plan would cost more than it finds.
const privateKeySizeLimit = 64 << 10

// holdsPrivateKey reports a PEM or OpenSSH private key in a small file: a
// committed deploy key must never ship in an image.
func holdsPrivateKey(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > privateKeySizeLimit {
		return false
	}
	b, err := filecache.Read(p, fi)
	if err != nil {
		return false
	}
	i := bytes.Index(b, []byte("-----BEGIN "))
	return i >= 0 && bytes.Contains(b[i:], []byte("PRIVATE KEY-----"))
}

func isComposerFile(f string) bool { return slices.Contains(composerFiles, f) }
func isNodeFile(f string) bool     { return slices.Contains(nodeFiles, f) }

// isEnvFile matches .env and .env.* anywhere: they hold secrets and must
// never reach a build step or an image.
func isEnvFile(f string) bool {
	base := path.Base(f)
	return base == ".env" || strings.HasPrefix(base, ".env.")
}

// inAny reports whether f is inside one of dirs. A dir may be a glob, as
// composer allows for path repositories ("packages/*").
func inAny(f string, dirs []string) bool {
	for _, d := range dirs {
		if under(f, d) {
			return true
		}
		if strings.ContainsAny(d, "*?[") {
			n := strings.Count(path.Clean(d), "/") + 1
			parts := strings.Split(f, "/")
			if len(parts) > n {
				if ok, _ := path.Match(path.Clean(d), strings.Join(parts[:n], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}
