package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/tonistiigi/fsutil"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// LayerEvent reports one layer of an image being reused or built.
type LayerEvent struct {
	Name     string        `json:"name"`
	Key      string        `json:"key"`
	Digest   string        `json:"digest"`
	Size     int64         `json:"size"` // compressed bytes
	Reused   bool          `json:"reused"`
	Duration time.Duration `json:"duration"`
}

// Image is an assembled app image, before any output.
type Image struct {
	Image  v1.Image
	Digest v1.Hash
	Commit *git.Commit
	Plan   *Plan
	Layers []LayerEvent
	// Tags are the tags the image gets: the commit's SHA (unless the tree
	// was dirty) and its semver.
	Tags []string
	tmp  string
}

// Close removes the files the image's new layers are read from; the image
// cannot be written after it.
func (i *Image) Close() error {
	if i.tmp == "" {
		return nil
	}
	return os.RemoveAll(i.tmp)
}

// produced is what the BuildKit steps exported, per layer name, each a dir
// rooted at the app path.
type produced map[string]string

// Assemble builds the image of the commit checked out in dir: detection,
// resolution against the built runtimes, each layer reused from the cache
// image when its key is unchanged or produced in BuildKit, then assembly
// onto the run image. Nothing is pushed.
func Assemble(ctx context.Context, dir string, opts ...Option) (*Image, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	commit, app, rt, err := prepare(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	plan, err := NewPlan(ctx, app, rt)
	if err != nil {
		return nil, err
	}
	ls, err := layers.ForApp(app, rt)
	if err != nil {
		return nil, err
	}
	img := &Image{Commit: commit, Plan: plan, Tags: imageTags(commit)}

	prev, err := o.cacheImage(ctx, commit)
	if err != nil {
		return nil, err
	}
	reuse := map[string]v1.Layer{}
	var toBuild []layers.Layer
	keys := map[string]string{}
	for i, l := range ls {
		keys[l.Name()] = plan.Layers[i].Key
		if l.Name() == "runtime" {
			continue
		}
		if prev != nil {
			if pl, ok := prev.layer(l.Name(), plan.Layers[i].Key); ok {
				reuse[l.Name()] = pl
				continue
			}
		}
		toBuild = append(toBuild, l)
	}

	tmp, err := os.MkdirTemp("", "phpbuild-build-")
	if err != nil {
		return nil, err
	}
	img.tmp = tmp
	ok := false
	defer func() {
		if !ok {
			img.Close()
		}
	}()
	start := time.Now()
	out, err := o.produce(ctx, app, rt, ls, toBuild, keys, prev, tmp)
	if err != nil {
		return nil, err
	}
	stepTime := time.Since(start)

	runRef, err := name.ParseReference(rt.RunImage)
	if err != nil {
		return nil, fmt.Errorf("runtime manifest: run image %q: %w", rt.RunImage, err)
	}
	base, err := remote.Image(runRef, o.remoteWith(ctx)...)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading run image %s: %w", rt.RunImage, err))
	}
	epoch := commit.Time
	var added []added
	for i, l := range ls {
		if l.Name() == "runtime" {
			continue
		}
		ev := LayerEvent{Name: l.Name(), Key: plan.Layers[i].Key}
		t0 := time.Now()
		layer, found := reuse[l.Name()]
		if found {
			ev.Reused = true
		} else {
			if layer, err = makeLayer(l, app, out, epoch); err != nil {
				return nil, fmt.Errorf("writing the %s layer: %w", l.Name(), err)
			}
			ev.Duration = time.Since(t0) + stepTime
		}
		d, err := layer.Digest()
		if err != nil {
			return nil, fmt.Errorf("digesting the %s layer: %w", l.Name(), err)
		}
		if ev.Size, err = layer.Size(); err != nil {
			return nil, err
		}
		ev.Digest = d.String()
		img.Layers = append(img.Layers, ev)
		if o.onLayer != nil {
			o.onLayer(ev)
		}
		added = append(added, struct {
			layer v1.Layer
			ev    LayerEvent
		}{layer, ev})
	}
	for _, l := range ls {
		if v, ok := l.(*layers.Volt); ok {
			if err := checkVolt(v, added); err != nil {
				return nil, err
			}
		}
	}
	cfgLayer := configOf(ls)
	if img.Image, err = assemble(base, added, imageMeta{commit: commit, plan: plan, env: cfgLayer.Env(), source: o.sourceURL, runImage: rt.RunImage}); err != nil {
		return nil, err
	}
	if img.Digest, err = img.Image.Digest(); err != nil {
		return nil, err
	}
	ok = true
	return img, nil
}

type added = struct {
	layer v1.Layer
	ev    LayerEvent
}

func configOf(ls []layers.Layer) *layers.Config {
	for _, l := range ls {
		if c, ok := l.(*layers.Config); ok {
			return c
		}
	}
	return &layers.Config{}
}

// prepare reads git, detects the app and resolves its built runtime.
func prepare(ctx context.Context, dir string, o *options) (*git.Commit, *detect.App, *runtimes.Runtime, error) {
	commit, err := git.ReadCommit(ctx, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if commit.Dirty && !o.allowDirty {
		return nil, nil, nil, badinput.New(dir, "the work tree has uncommitted changes (%s); commit them, or pass --allow-dirty for an image without a SHA tag",
			strings.Join(commit.DirtyFiles, ", "))
	}
	// Detection sees what the commit holds, as the image does: ignored
	// files and empty dirs in the work tree (caches, local builds) would
	// make the same commit detect, and build, differently on other machines.
	app, err := detect.Detect(ctx, dir, detect.WithFiles(commit.Files))
	if err != nil {
		return nil, nil, nil, err
	}
	if wt := workTree(app); wt != nil && len(wt.Dirty) > 0 {
		// Packages outside the app dir ship in vendor/: their changes are
		// the image's too.
		if !o.allowDirty {
			return nil, nil, nil, badinput.New(dir, "path repositories outside the app have uncommitted changes (%s); commit them, or pass --allow-dirty for an image without a SHA tag",
				strings.Join(wt.Dirty, ", "))
		}
		commit.Dirty = true
		commit.DirtyFiles = append(commit.DirtyFiles, wt.Dirty...)
	}
	if app.Composer != nil && app.Composer.Lock == nil && !app.Project.Build.AllowMissingLock {
		return nil, nil, nil, badinput.New(filepath.Join(app.Dir, "composer.json"),
			"no composer.lock next to it: run `composer update` and commit composer.lock, so every build installs the same packages (or set build.allow_missing_lock = true in project.toml)")
	}
	if o.runtimeRepo == nil {
		return nil, nil, nil, &badinput.Error{Field: "--runtimes", Err: errors.New("no runtime repo: pass --runtimes REPO or set PHPBUILD_RUNTIME_REPO (see `phpbuild runtime build`)")}
	}
	entries, err := runtimes.ReadManifest(ctx, *o.runtimeRepo, o.remote...)
	if err != nil {
		return nil, nil, nil, err
	}
	rt, err := runtimes.ResolveBuilt(app, o.catalog, o.runtimeRepo.String(), entries)
	if err != nil {
		return nil, nil, nil, err
	}
	return commit, app, rt, nil
}

func workTree(app *detect.App) *detect.WorkTree {
	if app.Composer == nil {
		return nil
	}
	return app.Composer.WorkTree
}

// imageTags: the SHA names the commit; the semver is for people. A dirty
// tree is not the commit, so it gets no SHA tag.
func imageTags(c *git.Commit) []string {
	if c.Dirty {
		v := c.Version
		if strings.Contains(v, "-") {
			v += ".dirty"
		} else {
			v += "-dirty"
		}
		return []string{v}
	}
	return []string{c.SHA, c.Version}
}

// produce runs the BuildKit steps of the layers in toBuild, concurrently,
// each exported to its own dir under tmp.
func (o *options) produce(ctx context.Context, app *detect.App, rt *runtimes.Runtime, all, toBuild []layers.Layer, keys map[string]string, prev *cacheImage, tmp string) (produced, error) {
	states := map[string]llb.State{}
	buildImg := llb.Image(rt.BuildImage, llb.WithCustomName("build image "+rt.BuildImage))
	// The vendor, volt and app steps need PHP and composer only: on a fresh
	// buildkitd a code change then pulls the composer image, not node.
	composerImg := llb.Image(rt.ComposerImage, llb.WithCustomName("composer image "+rt.ComposerImage))
	var vendorOut *llb.State
	for _, l := range all {
		if v, ok := l.(*layers.Vendor); ok && slices.Contains(toBuild, l) {
			st := vendorStep(composerImg, v, app.Composer.Lock != nil, keys["vendor"])
			vendorOut = &st
		}
	}
	for _, l := range toBuild {
		switch l := l.(type) {
		case *layers.Vendor:
			states["vendor"] = *vendorOut
		case *layers.Assets:
			outputs := l.Output
			if len(outputs) == 0 {
				outputs = []string{app.WebRoot}
			}
			states["assets"] = assetsStep(buildImg, l, outputs, keys["assets"])
		case *layers.Volt:
			st, err := voltStep(composerImg, l, keys["volt"])
			if err != nil {
				return nil, err
			}
			states["volt"] = st
		case *layers.App:
			if app.Composer == nil {
				continue
			}
			var vendorDir llb.State
			switch {
			case vendorOut != nil:
				vendorDir = *vendorOut
			case prev != nil:
				vendorDir = vendorFrom(prev.ref.String())
			default:
				return nil, errors.New("the app layer needs the vendor dir, which is neither built nor in a cache image")
			}
			files := append(slices.Clone(l.Files), "composer.json")
			if app.Composer.Lock != nil {
				files = append(files, "composer.lock")
			}
			scripts, err := composerScripts(app.Dir)
			if err != nil {
				return nil, err
			}
			states["app"] = autoloadStep(composerImg, files, keys["app"], vendorDir, app.Project.Build.ClassmapAuthoritative, scripts)
		}
	}
	if len(states) == 0 {
		return produced{}, nil
	}
	bk, err := buildkit.Connect(ctx, o.buildkitHost)
	if err != nil {
		return nil, err
	}
	defer bk.Close()
	out := produced{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0, len(states))
	// llb marshals shared ops in place (it sorts their mounts): marshal
	// every state here, one after the other, and solve concurrently.
	defs := map[string]*llb.Definition{}
	for name, st := range states {
		def, err := st.Marshal(ctx, localID)
		if err != nil {
			return nil, err
		}
		defs[name] = def
	}
	for name, def := range defs {
		dir := filepath.Join(tmp, name)
		out[name] = dir
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each solve syncs through its own session: one FS each.
			appFS, err := fsutil.NewFS(app.Dir)
			if err == nil {
				err = o.solve(ctx, bk, def, appFS, dir, app)
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s layer: %w", name, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		// A user error is the cause; the others may be its cancellations.
		for _, err := range errs {
			if badinput.Is(err) {
				return nil, errors.Unwrap(err)
			}
		}
		return nil, errs[0]
	}
	return out, nil
}

// solve runs one step and exports its output to dir.
func (o *options) solve(ctx context.Context, bk *client.Client, def *llb.Definition, appFS fsutil.FS, dir string, app *detect.App) error {
	locals := map[string]fsutil.FS{"app": appFS}
	if app.Composer != nil && app.Composer.WorkTree != nil {
		// The vendor step reads path repositories outside the app dir
		// from the work tree (see vendorInRepo).
		repoFS, err := fsutil.NewFS(app.Composer.WorkTree.Root)
		if err != nil {
			return err
		}
		locals["repo"] = repoFS
	}
	opt := client.SolveOpt{
		LocalMounts: locals,
		Session:     buildkit.Auth(),
		Exports:     []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: dir}},
	}
	tap, err := buildkit.Watch(o.progress, func(ch chan *client.SolveStatus) error {
		_, err := bk.Solve(ctx, def, opt, ch)
		return err
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if buildkit.Lost(err) {
		// buildkitd died or restarted mid-build: no step failed, the
		// connection did.
		return transient.Mark(fmt.Errorf("buildkitd at %s went away during the build (%v); nothing was pushed, build again once it is back", o.buildkitHost, firstLine(err.Error())))
	}
	return explainStep(tap, err, app)
}

var localID = llb.LocalUniqueID("phpbuild-app")

// explainStep names what the user must fix when a step failed on their
// input, and keeps network trouble transient.
func explainStep(tap *buildkit.StatusTap, err error, app *detect.App) error {
	f, ok := tap.Failed()
	if !ok {
		if buildkit.Unavailable(err) {
			return transient.Mark(err)
		}
		return err
	}
	logs := strings.Join(f.Logs, "\n")
	if networkTrouble(logs) {
		return transient.Mark(fmt.Errorf("step %q failed on the network: %s%s", f.Name, f.Error, f.Tail(15)))
	}
	for _, l := range f.Logs {
		if ce, ok := phalcon.ParseCompileError(l); ok {
			rel := strings.TrimPrefix(ce.Template, layers.AppPath+"/")
			return &badinput.Error{File: filepath.Join(app.Dir, filepath.FromSlash(rel)), Line: ce.Line, Err: fmt.Errorf("volt: %s", ce.Message)}
		}
	}
	switch {
	case strings.HasPrefix(f.Name, "vendor:"), strings.HasPrefix(f.Name, "app: composer"):
		file := "composer.lock"
		if app.Composer.Lock == nil {
			file = "composer.json"
		}
		return &badinput.Error{File: filepath.Join(app.Dir, file), Err: fmt.Errorf("%s failed; last output:%s", strings.TrimPrefix(strings.TrimPrefix(f.Name, "vendor: "), "app: "), f.Tail(15))}
	case strings.HasPrefix(f.Name, "assets:"):
		return &badinput.Error{File: filepath.Join(app.Dir, "package.json"), Field: "scripts.build", Err: fmt.Errorf("the asset build failed; last output:%s", f.Tail(15))}
	}
	return fmt.Errorf("step %q failed: %s%s", f.Name, f.Error, f.Tail(15))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func networkTrouble(logs string) bool {
	for _, s := range []string{"Could not resolve host", "curl error", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "network timeout", "Connection timed out"} {
		if strings.Contains(logs, s) {
			return true
		}
	}
	return false
}

// composerScripts lists the install events the app defines scripts for;
// the autoload-dump ones run with dump-autoload itself.
func composerScripts(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "composer.json"))
	if err != nil {
		return nil, err
	}
	var c struct {
		Scripts map[string]json.RawMessage `json:"scripts"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, badinput.New(filepath.Join(dir, "composer.json"), "%v", err)
	}
	var out []string
	for _, ev := range []string{"post-install-cmd"} {
		if _, ok := c.Scripts[ev]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// makeLayer writes a produced layer's tar.
func makeLayer(l layers.Layer, app *detect.App, out produced, epoch time.Time) (v1.Layer, error) {
	var entries []layers.Entry
	switch l := l.(type) {
	case *layers.Vendor:
		src, err := layers.TreeEntries(app.Dir, sourceComposerFiles(l.Files), layers.AppPath)
		if err != nil {
			return nil, err
		}
		made, err := stepEntries(out["vendor"], app.Dir, l.Files)
		if err != nil {
			return nil, err
		}
		entries = overlay(src, made)
	case *layers.Assets:
		made, err := stepEntries(out["assets"], app.Dir, l.Files)
		if err != nil {
			return nil, err
		}
		entries = made
	case *layers.Volt:
		made, err := stepEntries(out["volt"], app.Dir, l.Files)
		if err != nil {
			return nil, err
		}
		// Phalcon recompiles a template whose mtime is not older than its
		// compiled file. The templates ship here, with the epoch, and the
		// compiled files with the epoch + 1 s: one layer, one build, so a
		// later commit that reuses the layer cannot make them disagree.
		for i := range made {
			if made[i].Type == tar.TypeReg {
				made[i].ModTime = epoch.Add(time.Second)
			}
		}
		templates, err := layers.TreeEntries(app.Dir, l.Templates(), layers.AppPath)
		if err != nil {
			return nil, err
		}
		// A template the step touched still ships as committed, with the epoch.
		entries = overlay(made, templates)
	case *layers.Config:
		files, err := l.Files()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			entries = append(entries, layers.Entry{Path: f.Path, Type: tar.TypeReg, Mode: f.Mode, Data: f.Data})
		}
	case *layers.App:
		src, err := layers.TreeEntries(app.Dir, l.Files, layers.AppPath)
		if err != nil {
			return nil, err
		}
		entries = src
		if dir, ok := out["app"]; ok {
			made, err := stepEntries(dir, app.Dir, append(slices.Clone(l.Files), "composer.json", "composer.lock"))
			if err != nil {
				return nil, err
			}
			entries = overlay(entries, made)
		}
		for _, w := range l.Writable {
			entries = overlay(entries, []layers.Entry{{Path: path.Join(layers.AppPath, w), Type: tar.TypeDir, Mode: 0o755}})
			entries = layers.Chown(entries, path.Join(layers.AppPath, w))
		}
	default:
		return nil, fmt.Errorf("no producer for the %s layer", l.Name())
	}
	return layers.NewTar(entries, epoch)
}

// stepEntries lists what a step created or changed: its exported output
// without the input files it left as they were, and without directories
// that then hold nothing new. Whether overlayfs copied an input up (which
// varies with timestamps the image never shows) must not change a layer.
func stepEntries(outDir, srcDir string, inputs []string) ([]layers.Entry, error) {
	in := map[string]bool{}
	for _, f := range inputs {
		in[f] = true
	}
	made, err := layers.WalkEntries(outDir, layers.AppPath, func(rel string) bool {
		return in[rel] && sameFile(filepath.Join(outDir, rel), filepath.Join(srcDir, rel))
	})
	if err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, e := range made {
		if e.Type != tar.TypeDir {
			for d := path.Dir(e.Path); d != "/" && !keep[d]; d = path.Dir(d) {
				keep[d] = true
			}
		}
	}
	return slices.DeleteFunc(made, func(e layers.Entry) bool {
		if e.Type != tar.TypeDir || keep[e.Path] {
			return false
		}
		// An empty dir the step made is output; one that only held
		// unchanged inputs is not.
		rel := strings.TrimPrefix(e.Path, layers.AppPath+"/")
		fi, err := os.Lstat(filepath.Join(srcDir, filepath.FromSlash(rel)))
		return err == nil && fi.IsDir()
	}), nil
}

// sameFile reports whether a and b are both regular files with the same
// bytes, or symlinks to the same target.
func sameFile(a, b string) bool {
	fa, errA := os.Lstat(a)
	fb, errB := os.Lstat(b)
	if errA != nil || errB != nil || fa.Mode().Type() != fb.Mode().Type() {
		return false
	}
	if fa.Mode()&os.ModeSymlink != 0 {
		ta, _ := os.Readlink(a)
		tb, _ := os.Readlink(b)
		return ta == tb
	}
	if !fa.Mode().IsRegular() || fa.Size() != fb.Size() || fa.Mode()&0o111 != fb.Mode()&0o111 {
		return false
	}
	ba, errA := os.ReadFile(a)
	bb, errB := os.ReadFile(b)
	return errA == nil && errB == nil && bytes.Equal(ba, bb)
}

func sourceComposerFiles(files []string) []string {
	var out []string
	for _, f := range files {
		if f == "composer.json" || f == "composer.lock" {
			out = append(out, f)
		}
	}
	return out
}

// overlay returns base with top's entries replacing those at the same
// path, as a later layer would.
func overlay(base, top []layers.Entry) []layers.Entry {
	at := map[string]int{}
	out := slices.Clone(base)
	for i, e := range out {
		at[path.Clean(e.Path)] = i
	}
	for _, e := range top {
		if i, ok := at[path.Clean(e.Path)]; ok {
			out[i] = e
			continue
		}
		at[path.Clean(e.Path)] = len(out)
		out = append(out, e)
	}
	return out
}
