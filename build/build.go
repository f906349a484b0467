package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/classindex"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/layers"
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
	// Documents are the image's SBOM and provenance, which a registry
	// push attaches as referrers.
	Documents []attest.Document
	tmp       string
}

// Close removes the files the image's new layers are read from; the image
// cannot be written after it.
func (i *Image) Close() error {
	if i.tmp == "" {
		return nil
	}
	return os.RemoveAll(i.tmp)
}

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
	// The run image, the cache image and the SBOM are read or made while
	// the layers are keyed.
	baseF := par.Go(func() (v1.Image, error) { return o.runImage(ctx, rt) })
	prevF := o.prev
	sbomF := o.sbom(ctx, app, rt, prevF)
	defer o.warm(ctx, dir, commit, prevF, app, rt)()
	carried := carryIndex(ctx, app.Dir, commit, prevF)
	ls, err := layers.ForApp(app, rt)
	if err != nil {
		return nil, err
	}
	// The app layer written in Go needs no key: write it while the other
	// layers are keyed, on the other core.
	early := writeEarly(app, ls)
	defer early.wait()
	if s, _ := carried.Wait(); s != nil {
		for _, l := range ls {
			if al, ok := l.(*layers.Autoload); ok {
				al.Carry(*s)
			}
		}
	}
	plan, err := newPlan(ctx, app, rt, ls)
	if err != nil {
		return nil, err
	}
	img := &Image{Commit: commit, Plan: plan, Tags: imageTags(commit)}
	prev, err := prevF.Wait()
	if err != nil {
		return nil, err
	}

	keys := map[string]string{}
	reuse := map[string]v1.Layer{}
	// onto are the layers added to the run image, which is the runtime
	// layer; toMake are those not reused.
	var onto, toMake []layers.Layer
	for i, l := range ls {
		keys[l.Name()] = plan.Layers[i].Key
		if _, ok := l.(*layers.Runtime); ok {
			continue
		}
		onto = append(onto, l)
		if prev != nil {
			if pl, ok := prev.layer(l.Name(), plan.Layers[i].Key); ok {
				reuse[l.Name()] = pl
				continue
			}
		}
		toMake = append(toMake, l)
	}
	vendorImage := ""
	if vl, ok := reuse["vendor"]; ok && readsVendor(toMake) {
		if vendorImage, err = o.vendorImage(ctx, prev, vl); err != nil {
			return nil, err
		}
	}
	producers, err := newProducers(app, rt, toMake, keys, vendorImage)
	if err != nil {
		return nil, err
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
	out, err := o.solveSteps(ctx, app, producers, tmp)
	if err != nil {
		return nil, err
	}
	stepTime := time.Since(start)

	base, err := baseF.Wait()
	if err != nil {
		return nil, err
	}
	var addedLayers []added
	for _, l := range onto {
		ev := LayerEvent{Name: l.Name(), Key: keys[l.Name()]}
		t0 := time.Now()
		layer, found := reuse[l.Name()]
		switch {
		case found:
			ev.Reused = true
		case l == early.of:
			if layer, err = early.wait(); err != nil {
				return nil, fmt.Errorf("writing the %s layer: %w", l.Name(), err)
			}
			ev.Duration = time.Since(t0) + stepTime
		default:
			if layer, err = producers[l.Name()].layer(out[l.Name()], layers.Epoch); err != nil {
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
		a := added{layer: layer, ev: ev}
		if al, ok := l.(*layers.Autoload); ok {
			s, err := al.IndexSummary(ctx)
			if err != nil {
				return nil, err
			}
			a.index = &s
		}
		addedLayers = append(addedLayers, a)
	}
	for _, l := range ls {
		if v, ok := l.(*layers.Volt); ok {
			if err := checkVolt(v, addedLayers); err != nil {
				return nil, err
			}
		}
	}
	sbom, err := sbomF.Wait()
	if err != nil {
		return nil, err
	}
	plan.Warnings = append(plan.Warnings, sbom.warnings...)
	cfgLayer := configOf(ls)
	meta := imageMeta{commit: commit, plan: plan, env: cfgLayer.Env(), source: o.sourceURL, runImage: rt.RunImage, processes: cfgLayer.Settings.Processes, sbom: sbom.note}
	if img.Image, err = assemble(base, addedLayers, meta); err != nil {
		return nil, err
	}
	if img.Digest, err = img.Image.Digest(); err != nil {
		return nil, err
	}
	var index v1.ImageIndex
	if len(rt.Others) > 0 {
		if index, err = o.platformIndex(ctx, img.Image, rt, addedLayers, meta); err != nil {
			return nil, err
		}
		if img.Digest, err = index.Digest(); err != nil {
			return nil, err
		}
		if vl, ok := producedVendor(addedLayers); ok {
			if files, err := nativeCode(vl, 5); err != nil {
				return nil, fmt.Errorf("reading the vendor layer: %w", err)
			} else if len(files) > 0 {
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("vendor/ holds native code built for %s, which the other platforms' images cannot run: %s",
					rt.Native, strings.Join(files, ", ")))
			}
		}
	}
	if img.Documents, err = o.documents(img, rt, sbom.doc); err != nil {
		return nil, err
	}
	if prev != nil && o.target != nil && prev.ref.Context().String() == o.target.String() {
		// The push need not ask about blobs the target repo is known to
		// hold: the cache image's, and its SBOM when carried.
		known := prev.blobs()
		if sbom.known {
			for _, l := range attest.Blobs(img.Documents[:1]) {
				if h, err := l.Digest(); err == nil {
					known = append(known, h)
				}
			}
		}
		img.Image = withKnownBlobs{Image: img.Image, known: known}
	}
	if index != nil {
		img.Image = multiPlatform{Image: img.Image, index: index}
	}
	ok = true
	return img, nil
}

// runImage is the runtime's run image: its manifest and config as the
// runtime manifest embeds them, when they are the run image's, or else
// read from the registry.
func (o *options) runImage(ctx context.Context, rt *runtimes.Runtime) (v1.Image, error) {
	runRef, err := name.ParseReference(rt.RunImage)
	if err != nil {
		return nil, fmt.Errorf("runtime manifest: run image %q: %w", rt.RunImage, err)
	}
	if d, ok := runRef.(name.Digest); ok {
		if img, err := embeddedImage(d, rt.RunManifest, rt.RunConfig, o.remoteWith(ctx)); err == nil {
			return img, nil
		}
	}
	base, err := remote.Image(runRef, o.remoteWith(ctx)...)
	if err == nil {
		_, err = base.RawConfigFile()
	}
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading run image %s: %w", rt.RunImage, err))
	}
	return base, nil
}

// producedVendor is the vendor layer when this build made it.
func producedVendor(as []added) (v1.Layer, bool) {
	for _, a := range as {
		if a.ev.Name == "vendor" && !a.ev.Reused {
			return a.layer, true
		}
	}
	return nil, false
}

type added = struct {
	layer v1.Layer
	ev    LayerEvent
	index *classindex.Summary // the autoload layer's
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
	o.prefetch(ctx)
	commit := o.commit
	if commit == nil {
		var err error
		if commit, err = git.ReadCommitEarly(ctx, dir, o.readEarly(ctx, dir)); err != nil {
			return nil, nil, nil, err
		}
	}
	if commit.Dirty && !o.allowDirty {
		return nil, nil, nil, badinput.New(dir, "the work tree has uncommitted changes (%s); commit them, or pass --allow-dirty for an image without a SHA tag",
			strings.Join(commit.DirtyFiles, ", "))
	}
	// The cache image is read while the app is detected.
	o.prev = par.Go(func() (*cacheImage, error) { return o.cacheImage(ctx, dir, commit) })
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
	entries, err := o.entries.Wait()
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

// earlyLayer is the app layer being written while the build keys the
// others; of is nil when the app layer needs a BuildKit step (composer
// scripts), which only the keys decide.
type earlyLayer struct {
	of    layers.Layer
	done  chan struct{}
	layer v1.Layer
	err   error
}

func writeEarly(app *detect.App, ls []layers.Layer) *earlyLayer {
	e := &earlyLayer{}
	for _, l := range ls {
		if al, ok := l.(*layers.App); ok && al.Vendor == nil {
			e.of, e.done = al, make(chan struct{})
			go func() {
				defer close(e.done)
				e.layer, e.err = (&appProducer{l: al, app: app}).layer("", layers.Epoch)
			}()
		}
	}
	return e
}

// wait returns the layer once written; nil when there is none.
func (e *earlyLayer) wait() (v1.Layer, error) {
	if e.done == nil {
		return nil, nil
	}
	<-e.done
	return e.layer, e.err
}
