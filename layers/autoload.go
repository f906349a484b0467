package layers

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/classindex"
)

// Autoload is composer's optimized autoloader (vendor/autoload.php and
// vendor/composer), dumped over the vendor dir and the app's classes. It
// is its own layer so that a code change that declares no new class, the
// commonest commit, reuses it and needs no composer run: the app layer is
// then written in Go alone.
type Autoload struct {
	Dir     string
	AppPath string
	// Vendor is the vendor layer the autoloader covers.
	Vendor *Vendor
	// Scan are the app's files the class index is read from: composer
	// scans those under its autoload paths.
	Scan []string
	// index is the app's class index, read once (see ClassIndex).
	index *classindex.Index
	// summary is the index's Summary: read, or carried from an earlier
	// build (see Carry).
	summary *classindex.Summary
	// Flags are dump-autoload's flags beyond --no-dev --optimize.
	Flags []string
	// Files are what the dump may read of the app layer's files,
	// composer.json and composer.lock (see classindex.Reads).
	Files []string
}

var _ Layer = (*Autoload)(nil)

func (*Autoload) Name() string { return "autoload" }

// Key is over what composer's dump reads: the vendor dir (the vendor
// key, which covers composer.json and composer.lock), the class index and
// the flags. A method body changes none of them.
func (l *Autoload) Key(ctx context.Context) (v1.Hash, error) {
	k := newKey(l.Name())
	k.str("appPath", l.AppPath)
	// The image the dump runs on: PHP's CLI and composer on the base
	// image (the CLI image). A layer dumped on another never matches a
	// --no-cache build.
	k.str("step", autoloadStep)
	vk, err := l.Vendor.Key(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	k.str("vendor", vk.String())
	k.json("flags", l.Flags)
	ix, err := l.IndexSummary(ctx)
	if err != nil {
		return v1.Hash{}, err
	}
	k.str("classIndex", ix.Digest)
	return k.sum(), nil
}

// IndexSummary is the class index's Summary: carried (see Carry), or
// read.
func (l *Autoload) IndexSummary(ctx context.Context) (classindex.Summary, error) {
	if l.summary == nil {
		ix, err := l.ClassIndex(ctx)
		if err != nil {
			return classindex.Summary{}, err
		}
		s := ix.Summary()
		l.summary = &s
	}
	return *l.summary, nil
}

// Carry takes s, an earlier build's Summary that classindex.Same found
// unchanged, as this index's: the files are then not read.
func (l *Autoload) Carry(s classindex.Summary) { l.summary = &s }

// autoloadStep names how the layer is made; it changes when the step's
// image or command does.
const autoloadStep = "composer dump-autoload on the CLI image, the vendor dir mounted"

// ClassIndex is what composer's classmap is generated from (see
// internal/classindex), read on first use.
func (l *Autoload) ClassIndex(ctx context.Context) (*classindex.Index, error) {
	if l.index == nil {
		ix, err := classindex.Read(ctx, l.Dir, l.Scan)
		if err != nil {
			return nil, err
		}
		l.index = ix
	}
	return l.index, nil
}

// autoloadScripts are the composer events whose scripts run with the
// autoloader's dump (or, post-install-cmd, after it, as an install runs
// them): scripts may write anywhere in the app, so an app with any of
// them keeps its autoloader in the app layer, dumped with the app's files.
var autoloadScripts = []string{"pre-autoload-dump", "post-autoload-dump", "post-install-cmd"}

// ComposerScripts lists the events of autoloadScripts that the app's
// composer.json has scripts for.
func ComposerScripts(dir string) ([]string, error) {
	file := filepath.Join(dir, "composer.json")
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c struct {
		Scripts map[string]json.RawMessage `json:"scripts"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, badinput.New(file, "%v", err)
	}
	var out []string
	for _, ev := range autoloadScripts {
		if _, ok := c.Scripts[ev]; ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// newAutoload is the autoload layer of a composer app whose composer.json
// runs no script with the dump.
func newAutoload(app *detect.App, vendor *Vendor, appFiles []string) (*Autoload, error) {
	l := &Autoload{Dir: app.Dir, AppPath: AppPath, Vendor: vendor, Scan: app.Files}
	if app.Project.Build.ClassmapAuthoritative {
		l.Flags = append(l.Flags, "--classmap-authoritative")
	}
	files := append(slices.Clone(appFiles), "composer.json")
	if app.Composer.Lock != nil {
		files = append(files, "composer.lock")
	}
	// Only what the dump may read travels to its step: a large app's
	// static files and views are not sent.
	var err error
	if l.Files, err = classindex.Reads(app.Dir, files); err != nil {
		return nil, err
	}
	return l, nil
}
