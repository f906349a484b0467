package build

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/layers"
)

// appProducer makes the app layer: the app's files and, for a composer
// app, the autoloader composer dumps over them and the vendor dir.
type appProducer struct {
	l     *layers.App
	app   *detect.App
	key   string
	image llb.State
	// vendor is the vendor layer's producer when this build makes it;
	// otherwise the vendor dir comes from prev.
	vendor *vendorProducer
	prev   *cacheImage
}

func (p *appProducer) step() (*llb.State, error) {
	if p.app.Composer == nil {
		return nil, nil
	}
	var vendorDir llb.State
	switch {
	case p.vendor != nil:
		st, err := p.vendor.step()
		if err != nil {
			return nil, err
		}
		vendorDir = *st
	case p.prev != nil:
		vendorDir = vendorFrom(p.prev.ref.String())
	default:
		return nil, errors.New("the app layer needs the vendor dir, which is neither built nor in a cache image")
	}
	files := append(slices.Clone(p.l.Files), "composer.json")
	if p.app.Composer.Lock != nil {
		files = append(files, "composer.lock")
	}
	scripts, err := composerScripts(p.app.Dir)
	if err != nil {
		return nil, err
	}
	st := autoloadStep(p.image, files, p.key, vendorDir, p.app.Project.Build.ClassmapAuthoritative, scripts)
	return &st, nil
}

func (p *appProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	entries, err := layers.TreeEntries(p.app.Dir, p.l.Files, layers.AppPath)
	if err != nil {
		return nil, err
	}
	if out != "" {
		made, err := stepEntries(out, p.app.Dir, append(slices.Clone(p.l.Files), "composer.json", "composer.lock"))
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

// autoloadStep dumps composer's autoloader over the app's files and the
// vendor dir, then runs the scripts composer runs after an install.
// vendorDir holds the vendor dir at /vendor.
func autoloadStep(img llb.State, appFiles []string, key string, vendorDir llb.State, classmapAuthoritative bool, scripts []string) llb.State {
	in := llb.Merge([]llb.State{source(appFiles, key), vendorDir}, llb.WithCustomName("app files + vendor"))
	script := "composer dump-autoload --no-dev --optimize --no-interaction"
	if classmapAuthoritative {
		script += " --classmap-authoritative"
	}
	for _, s := range scripts {
		script += " && composer run-script --no-dev --no-interaction " + s
	}
	name := "app: composer dump-autoload"
	out := runMount(img, in, script, name, "composer")
	// The autoloader ships whole with the app layer, even where it equals
	// the one in the image vendorDir came from: the vendor layer has none.
	autoloader := llb.Scratch().
		File(llb.Copy(out, "/vendor/autoload.php", "/vendor/autoload.php", &llb.CopyInfo{CreateDestPath: true})).
		File(llb.Copy(out, "/vendor/composer", "/vendor/composer", &llb.CopyInfo{CreateDestPath: true}))
	return llb.Merge([]llb.State{llb.Diff(in, out), autoloader}, llb.WithCustomName(name+" (changes)"))
}

// vendorFrom puts an image's vendor dir at /vendor, for the app step when
// the vendor layer is reused from it.
func vendorFrom(ref string) llb.State {
	img := llb.Image(ref, llb.WithCustomName("vendor of "+ref))
	return llb.Scratch().File(llb.Copy(img, path.Join(layers.AppPath, "vendor"), "/vendor", &llb.CopyInfo{CopyDirContentsOnly: false, AllowWildcard: false, CreateDestPath: true}))
}
