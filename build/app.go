package build

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/layers"
)

// appProducer makes the app layer: the app's files, written in Go. For an
// app whose composer.json runs scripts with the autoloader's dump, the
// layer also holds that autoloader and whatever the scripts wrote, made in
// a BuildKit step as the autoload layer is.
type appProducer struct {
	l      *layers.App
	app    *detect.App
	key    string
	image  llb.State
	vendor vendorSource
}

func (p *appProducer) step() (*llb.State, error) {
	if p.l.Vendor == nil {
		return nil, nil
	}
	vendorDir, err := p.vendor.dir()
	if err != nil {
		return nil, err
	}
	// pre- and post-autoload-dump scripts run with the dump itself.
	var scripts []string
	if slices.Contains(p.l.Scripts, "post-install-cmd") {
		scripts = []string{"post-install-cmd"}
	}
	st := autoloadStep(p.image, composerInputs(p.app, p.l.Files), p.key, vendorDir, p.app.Project.Build.ClassmapAuthoritative, scripts, "app")
	return &st, nil
}

func (p *appProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	entries, err := layers.TreeEntries(p.app.Dir, p.l.Files, layers.AppPath)
	if err != nil {
		return nil, err
	}
	if out != "" {
		made, err := stepEntries(out, p.app.Dir, composerInputs(p.app, p.l.Files))
		if err != nil {
			return nil, err
		}
		entries = overlay(entries, made)
	}
	for _, w := range p.l.Writable {
		entries = overlay(entries, []layers.Entry{{Path: path.Join(layers.AppPath, w), Type: tar.TypeDir, Mode: 0o755}})
		entries = layers.Chown(entries, path.Join(layers.AppPath, w))
	}
	return layers.NewTar(entries, epoch)
}

// autoloadProducer makes the autoload layer: composer's dump-autoload over
// the app's files and the vendor dir, of which the layer keeps what the
// dump wrote (vendor/autoload.php, vendor/composer).
type autoloadProducer struct {
	l      *layers.Autoload
	key    string
	image  llb.State
	vendor vendorSource
}

func (p *autoloadProducer) step() (*llb.State, error) {
	// The commit's files never hold a top-level vendor/ (detect skips it):
	// the installed one is mounted over nothing of the app's.
	vendor, at, err := p.vendor.mount()
	if err != nil {
		return nil, err
	}
	st := autoloadMounted(p.image, p.l.Files, p.key, vendor, at, slices.Contains(p.l.Flags, "--classmap-authoritative"))
	return &st, nil
}

func (p *autoloadProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	made, err := stepEntries(out, p.l.Dir, p.l.Files)
	if err != nil {
		return nil, err
	}
	return layers.NewTar(made, epoch)
}

// vendorSource is where a step that runs over the vendor dir gets it: the
// vendor layer's step when this build makes it, otherwise an image holding
// the reused vendor layer (see vendorImage).
type vendorSource struct {
	step  *vendorProducer
	image string
}

// mount is where the vendor dir is, unmoved: a state and the dir in it.
func (v vendorSource) mount() (llb.State, string, error) {
	switch {
	case v.step != nil:
		st, err := v.step.step()
		if err != nil {
			return llb.State{}, "", err
		}
		return *st, "/vendor", nil
	case v.image != "":
		return llb.Image(v.image, llb.WithCustomName("vendor of "+v.image)), path.Join(layers.AppPath, "vendor"), nil
	}
	return llb.State{}, "", errors.New("composer's autoloader needs the vendor dir, which is neither built nor in a cache image")
}

func (v vendorSource) dir() (llb.State, error) {
	st, at, err := v.mount()
	if err != nil || at == "/vendor" {
		return st, err
	}
	return llb.Scratch().File(llb.Copy(st, at, "/vendor", &llb.CopyInfo{CreateDestPath: true})), nil
}

// composerInputs are the files a dump reads: files, composer.json and,
// when there is one, composer.lock.
func composerInputs(app *detect.App, files []string) []string {
	out := append(slices.Clone(files), "composer.json")
	if app.Composer.Lock != nil {
		out = append(out, "composer.lock")
	}
	return out
}

// autoloadStep dumps composer's autoloader over the app's files and the
// vendor dir, then runs the scripts composer runs after an install.
// vendorDir holds the vendor dir at /vendor.
func autoloadStep(img llb.State, appFiles []string, key string, vendorDir llb.State, classmapAuthoritative bool, scripts []string, layer string) llb.State {
	in := llb.Merge([]llb.State{source(appFiles, key), vendorDir}, llb.WithCustomName("app files + vendor"))
	name := layer + ": composer dump-autoload"
	out := runMount(img, in, autoloadScript(key, classmapAuthoritative, scripts), name, "composer")
	// The autoloader ships whole with the app layer, even where it equals
	// the one in the image vendorDir came from: the vendor layer has none.
	autoloader := llb.Scratch().
		File(llb.Copy(out, "/vendor/autoload.php", "/vendor/autoload.php", &llb.CopyInfo{CreateDestPath: true})).
		File(llb.Copy(out, "/vendor/composer", "/vendor/composer", &llb.CopyInfo{CreateDestPath: true}))
	return llb.Merge([]llb.State{llb.Diff(in, out), autoloader}, llb.WithCustomName(name+" (changes)"))
}

// autoloadMounted is autoloadStep for the autoload layer, with the vendor
// dir mounted where it is (at in vendor) over the app's files rather than
// copied and merged with them: on a fresh runner, the copy and the merge
// of a large vendor dir took longer than composer's dump.
func autoloadMounted(img llb.State, appFiles []string, key string, vendor llb.State, at string, classmapAuthoritative bool) llb.State {
	app := source(appFiles, key)
	name := "autoload: composer dump-autoload"
	run := stepRun(img, layers.AppPath, autoloadScript(key, classmapAuthoritative, nil), name, "composer")
	appOut := run.AddMount(layers.AppPath, app)
	vendorOut := run.AddMount(path.Join(layers.AppPath, "vendor"), vendor, llb.SourcePath(at))
	// A mount's output is its whole state: the dump's files are under at.
	autoloader := llb.Scratch().
		File(llb.Copy(vendorOut, path.Join(at, "autoload.php"), "/vendor/autoload.php", &llb.CopyInfo{CreateDestPath: true})).
		File(llb.Copy(vendorOut, path.Join(at, "composer"), "/vendor/composer", &llb.CopyInfo{CreateDestPath: true}))
	return llb.Merge([]llb.State{llb.Diff(app, appOut), autoloader}, llb.WithCustomName(name+" (changes)"))
}

// autoloadScript dumps composer's autoloader, then runs scripts. Composer
// names the autoloader's class after a random suffix (2.6 and later: the
// lock's content-hash), unless vendor/autoload.php names one already: it
// is named after the key, so that the same inputs give the same bytes
// with every composer, as a reused layer has them.
func autoloadScript(key string, classmapAuthoritative bool, scripts []string) string {
	sum := sha256.Sum256([]byte(key))
	suffix := hex.EncodeToString(sum[:16])
	script := "mkdir -p vendor && printf '<?php // ComposerAutoloaderInit" + suffix + "::getLoader();\\n' > vendor/autoload.php\n" +
		"composer dump-autoload --no-dev --optimize --no-interaction"
	if classmapAuthoritative {
		script += " --classmap-authoritative"
	}
	for _, s := range scripts {
		script += " && composer run-script --no-dev --no-interaction " + s
	}
	return script
}
