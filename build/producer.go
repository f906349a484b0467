package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/tonistiigi/fsutil"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// A producer makes one kind of layer. A layer that a program makes
// (composer, npm, Volt's compiler) has a BuildKit step; one that phpbuild
// writes in Go has none. The steps of one build are solved together,
// concurrently, before any layer is written.
type producer interface {
	// step is the LLB whose output the layer is made from, nil when the
	// layer runs no program.
	step() (*llb.State, error)
	// layer writes the layer's tar; out is the dir the step's output was
	// exported to (a tarOutput's: the tar file), "" without a step.
	layer(out string, epoch time.Time) (v1.Layer, error)
}

// tarOutput is a producer whose step's output is exported as one tar file
// rather than as a dir of files: on a fresh runner, writing a vendor dir's
// thousands of files to disk and reading them back was the longest part
// of a lock change.
type tarOutput interface {
	tarOutput()
}

var (
	_ producer = (*vendorProducer)(nil)
	_ producer = (*assetsProducer)(nil)
	_ producer = (*voltProducer)(nil)
	_ producer = (*configProducer)(nil)
	_ producer = (*appProducer)(nil)
	_ producer = (*autoloadProducer)(nil)
)

// stepImages are the images the steps of one build run in, each named once
// so that the steps share its LLB op.
type stepImages struct {
	// node runs the assets step: the CLI image plus node and npm; for a
	// runtime without a node image, the build image (PHP, composer and
	// node).
	node llb.State
	// composer is the run image plus composer: the vendor and volt steps
	// then pull no node.
	composer llb.State
	// cli has PHP's CLI, curl, unzip and composer alone, on the base
	// image: a lock change or a class added on a fresh runner pulls no
	// php-fpm, nginx, extensions or git. Composer installs on it told the
	// run image's platform (platform, see withLockedPlatform); without a
	// CLI image in the runtime, or for a lock that needs git, it is the
	// composer image. An app without a lock is resolved on the composer
	// image too: composer update would write the told platform into the
	// lock it makes.
	cli      llb.State
	platform []byte
}

func newStepImages(app *detect.App, rt *runtimes.Runtime) (stepImages, error) {
	imgs := stepImages{
		node:     llb.Image(rt.BuildImage, llb.WithCustomName("build image "+rt.BuildImage)),
		composer: llb.Image(rt.ComposerImage, llb.WithCustomName("composer image "+rt.ComposerImage)),
	}
	if rt.NodeImage != "" {
		imgs.node = llb.Image(rt.NodeImage, llb.WithCustomName("node image "+rt.NodeImage))
	}
	imgs.cli = imgs.composer
	if rt.CLIImage == "" || needsGit(app) {
		return imgs, nil
	}
	platform, err := platformConfig(rt)
	if err != nil {
		return stepImages{}, err
	}
	imgs.cli = llb.Image(rt.CLIImage, llb.WithCustomName("CLI image "+rt.CLIImage))
	imgs.platform = platform
	return imgs, nil
}

// needsGit reports whether composer must clone a locked package.
func needsGit(app *detect.App) bool {
	if app.Composer == nil || app.Composer.Lock == nil {
		return false
	}
	for _, p := range app.Composer.Lock.Packages {
		if p.SourceOnly {
			return true
		}
	}
	return false
}

// platformConfig is the platform that makes the CLI image look like the
// run image to composer: the run image's extensions and libraries at their
// versions, the CLI image's others hidden (false). See withLockedPlatform.
func platformConfig(rt *runtimes.Runtime) ([]byte, error) {
	platform := map[string]any{}
	for n, v := range rt.Platform {
		platform[n] = v
	}
	for _, n := range rt.PlatformHidden {
		platform[n] = false
	}
	b, err := json.Marshal(platform)
	if err != nil {
		return nil, err
	}
	if bytes.ContainsRune(b, '\'') {
		return nil, fmt.Errorf("runtime %s: a platform package's name or version has a quote: %s", rt.CLIImage, b)
	}
	return b, nil
}

// newProducers returns the producers of the layers in toMake, by name, each
// with its key. A step dumping composer's autoloader reads the vendor dir from
// the vendor layer's step when it is in toMake, else from the image
// vendorImage ("" when there is none).
func newProducers(app *detect.App, rt *runtimes.Runtime, toMake []layers.Layer, keys map[string]string, vendorImage string) (map[string]producer, error) {
	imgs, err := newStepImages(app, rt)
	if err != nil {
		return nil, err
	}
	ps := map[string]producer{}
	var vendor *vendorProducer
	for _, l := range toMake {
		if l, ok := l.(*layers.Vendor); ok {
			vendor = &vendorProducer{l: l, dir: app.Dir, lock: app.Composer.Lock != nil, key: keys[l.Name()], image: imgs.cli, platform: imgs.platform}
			if !vendor.lock {
				vendor.image, vendor.platform = imgs.composer, nil
			}
		}
	}
	for _, l := range toMake {
		key := keys[l.Name()]
		var p producer
		switch l := l.(type) {
		case *layers.Vendor:
			p = vendor
		case *layers.Assets:
			p = &assetsProducer{l: l, dir: app.Dir, webRoot: app.WebRoot, key: key, image: imgs.node}
		case *layers.Volt:
			p = &voltProducer{l: l, dir: app.Dir, key: key, image: imgs.composer}
		case *layers.Config:
			p = &configProducer{l: l}
		case *layers.App:
			p = &appProducer{l: l, app: app, key: key, image: imgs.composer, vendor: vendorSource{vendor, vendorImage}}
		case *layers.Autoload:
			p = &autoloadProducer{l: l, key: key, image: imgs.cli, vendor: vendorSource{vendor, vendorImage}}
		default:
			return nil, fmt.Errorf("no producer for the %s layer", l.Name())
		}
		ps[l.Name()] = p
	}
	return ps, nil
}

// solveSteps runs the steps of ps, concurrently, each exported to its own
// dir under tmp, and returns those dirs by layer name.
func (o *options) solveSteps(ctx context.Context, app *detect.App, ps map[string]producer, tmp string) (map[string]string, error) {
	states := map[string]llb.State{}
	for name, p := range ps {
		st, err := p.step()
		if err != nil {
			return nil, err
		}
		if st != nil {
			states[name] = *st
		}
	}
	out := map[string]string{}
	if len(states) == 0 {
		return out, nil
	}
	bk, err := buildkit.Connect(ctx, o.buildkitHost)
	if err != nil {
		return nil, err
	}
	defer bk.Close()
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
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 0, len(defs))
	for name, def := range defs {
		dir := filepath.Join(tmp, name)
		_, asTar := ps[name].(tarOutput)
		if asTar {
			dir += ".tar"
		}
		out[name] = dir
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each solve syncs through its own session: one FS each.
			locals, err := localsOf(def, app.Dir)
			if err == nil {
				err = o.solve(ctx, bk, def, locals, dir, asTar, app)
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
func (o *options) solve(ctx context.Context, bk *client.Client, def *llb.Definition, locals map[string]fsutil.FS, dir string, asTar bool, app *detect.App) error {
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
	if asTar {
		opt.Exports = []client.ExportEntry{{Type: client.ExporterTar, Output: func(map[string]string) (io.WriteCloser, error) {
			return os.Create(dir)
		}}}
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
	if buildkit.TLSRefused(err) {
		return buildkit.TLSError(o.buildkitHost, err)
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
	case strings.HasPrefix(f.Name, "vendor:"), strings.HasPrefix(f.Name, "app: composer"), strings.HasPrefix(f.Name, "autoload: composer"):
		file := "composer.lock"
		if app.Composer.Lock == nil {
			file = "composer.json"
		}
		_, what, _ := strings.Cut(f.Name, ": ")
		return &badinput.Error{File: filepath.Join(app.Dir, file), Err: fmt.Errorf("%s failed; last output:%s", what, f.Tail(15))}
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
