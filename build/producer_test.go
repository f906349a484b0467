package build

import (
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"google.golang.org/protobuf/proto"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/runtimes"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testApp copies testdata app name and returns it detected, resolved on
// the catalog, with its layers (runtime first) and their keys.
func testApp(t *testing.T, app string) (*detect.App, *runtimes.Runtime, []layers.Layer, map[string]string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), app)
	if out, err := exec.Command("cp", "-a", filepath.Join("..", "testdata", "apps", app), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", app, err, out)
	}
	ctx := context.Background()
	a, err := detect.Detect(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := runtimes.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtimes.Resolve(a, cat)
	if err != nil {
		t.Fatal(err)
	}
	rt.BuildImage = "registry.example/runtimes@sha256:" + strings.Repeat("1", 64)
	rt.ComposerImage = "registry.example/runtimes@sha256:" + strings.Repeat("2", 64)
	ls, err := layers.ForApp(a, rt)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, l := range ls {
		k, err := l.Key(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keys[l.Name()] = k.String()
	}
	return a, rt, ls, keys
}

func only(ls []layers.Layer, names ...string) []layers.Layer {
	var out []layers.Layer
	for _, l := range ls {
		for _, n := range names {
			if l.Name() == n {
				out = append(out, l)
			}
		}
	}
	return out
}

// readLayer is what Phalcon's stat check sees of each file in l.
func readLayer(t *testing.T, l v1.Layer) map[string]fileTime {
	t.Helper()
	fs := map[string]fileTime{}
	if err := readTimes(added{layer: l}, fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

// TestProducersInGo: the layers that run no program have no step, and are
// written from the app's files alone.
func TestProducersInGo(t *testing.T) {
	app, rt, ls, keys := testApp(t, "bare")
	ps, err := newProducers(app, rt, only(ls, "config", "app"), keys, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"config", "app"} {
		st, err := ps[n].step()
		if err != nil || st != nil {
			t.Errorf("%s step = %v, %v; want none", n, st, err)
		}
	}
	appLayer, err := ps["app"].layer("", epoch)
	if err != nil {
		t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(app.Dir, "index.php"))
	if err != nil {
		t.Fatal(err)
	}
	want := layers.ContentTime(epoch, sha256.Sum256(index))
	if f, ok := readLayer(t, appLayer)["/app/index.php"]; !ok || !f.regular || !f.mtime.Equal(want) || want.Before(epoch) {
		t.Errorf("app layer: /app/index.php = %+v, %v; want it at %s, the epoch plus its content's offset", f, ok, want)
	}
	cfgLayer, err := ps["config"].layer("", epoch)
	if err != nil {
		t.Fatal(err)
	}
	files, err := configOf(ls).Files()
	if err != nil {
		t.Fatal(err)
	}
	got := readLayer(t, cfgLayer)
	for _, f := range files {
		if g, ok := got[path.Clean(f.Path)]; !ok || !g.regular {
			t.Errorf("config layer lacks %s", f.Path)
		}
	}
}

// TestAutoloadStepReadsTheVendorDir: the autoloader step shares the vendor
// step's ops when both are made, reads the cache image's vendor dir
// otherwise, and fails without either; the app layer has no step.
func TestAutoloadStepReadsTheVendorDir(t *testing.T) {
	app, rt, ls, keys := testApp(t, "plain")
	ps, err := newProducers(app, rt, only(ls, "vendor", "autoload", "app"), keys, "")
	if err != nil {
		t.Fatal(err)
	}
	v1st, _ := ps["vendor"].step()
	if _, err := ps["autoload"].step(); err != nil {
		t.Fatal(err)
	}
	if st, err := ps["app"].step(); st != nil || err != nil {
		t.Errorf("the app layer of an app without composer scripts has a step (%v, %v): it is written in Go", st, err)
	}
	if v2st, _ := ps["vendor"].step(); v1st == nil || v1st != v2st {
		t.Errorf("the vendor step is made again: %p, then %p", v1st, v2st)
	}

	ps, err = newProducers(app, rt, only(ls, "autoload"), keys, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps["autoload"].step(); err == nil || !strings.Contains(err.Error(), "neither built nor in a cache image") {
		t.Errorf("autoload step without a vendor dir: err = %v", err)
	}
	ref, err := name.NewDigest("registry.example/app@sha256:" + strings.Repeat("3", 64))
	if err != nil {
		t.Fatal(err)
	}
	ps, err = newProducers(app, rt, only(ls, "autoload"), keys, ref.String())
	if err != nil {
		t.Fatal(err)
	}
	st, err := ps["autoload"].step()
	if err != nil || st == nil {
		t.Fatalf("autoload step with a cache image: %v, %v", st, err)
	}
	def, err := st.Marshal(context.Background(), localID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range def.Metadata {
		if m.Description["llb.customname"] == "vendor of "+ref.String() {
			found = true
		}
	}
	if !found {
		t.Errorf("the autoload step does not read the vendor dir of %s", ref)
	}
}

// TestVoltLayerTimes: compiled files ship one second after the epoch, and
// the templates as committed, at the epoch, even when the step touched them.
func TestVoltLayerTimes(t *testing.T) {
	app, rt, ls, keys := testApp(t, "phalcon")
	ps, err := newProducers(app, rt, only(ls, "volt"), keys, "")
	if err != nil {
		t.Fatal(err)
	}
	v := only(ls, "volt")[0].(*layers.Volt)
	tmpl := v.Templates()[0]
	compiled := ""
	for c, t := range v.Compiled() {
		if t == tmpl && !strings.Contains(c, "_e_") {
			compiled = c
		}
	}
	if compiled == "" {
		t.Fatalf("no compiled name for %s in %v", tmpl, v.Compiled())
	}
	out := t.TempDir()
	gittest.Write(t, out, strings.TrimPrefix(compiled, layers.AppPath+"/"), "<?php compiled")
	gittest.Write(t, out, tmpl, "touched by the step")
	l, err := ps["volt"].layer(out, epoch)
	if err != nil {
		t.Fatal(err)
	}
	got := readLayer(t, l)
	if f := got[compiled]; !f.regular || !f.mtime.Equal(epoch.Add(time.Second)) {
		t.Errorf("compiled file %s = %+v, want it at epoch + 1 s", compiled, f)
	}
	// The step's copy would have the compiled files' time.
	if f := got[path.Join(layers.AppPath, tmpl)]; !f.regular || !f.mtime.Equal(epoch) {
		t.Errorf("template %s = %+v, want it as committed, at the epoch", tmpl, f)
	}
}

// TestStepImages: composer installs and dumps on the CLI image, told the
// run image's platform, when the runtime has one and the lock needs no
// git; otherwise on the composer image.
func TestStepImages(t *testing.T) {
	app, rt, ls, keys := testApp(t, "plain")
	rt.CLIImage = "registry.example/runtimes@sha256:" + strings.Repeat("4", 64)
	rt.Platform = map[string]string{"ext-intl": "8.4.28", "lib-icu": "76.1"}
	rt.PlatformHidden = []string{"ext-ffi"}
	images := func(t *testing.T) (vendor, autoload []string, script string) {
		t.Helper()
		ps, err := newProducers(app, rt, only(ls, "vendor", "autoload"), keys, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"vendor", "autoload"} {
			st, err := ps[n].step()
			if err != nil {
				t.Fatal(err)
			}
			names, def := stepImagesOf(t, st, rt.CLIImage, rt.ComposerImage)
			for _, dt := range def.Def {
				var op pb.Op
				if err := proto.Unmarshal(dt, &op); err != nil {
					t.Fatal(err)
				}
				if ex := op.GetExec(); ex != nil && strings.Contains(strings.Join(ex.Meta.Args, " "), "--no-autoloader") {
					script = strings.Join(ex.Meta.Args, " ")
				}
			}
			if n == "vendor" {
				vendor = names
			} else {
				autoload = names
			}
		}
		return vendor, autoload, script
	}

	vendor, autoload, script := images(t)
	want := []string{"CLI image " + rt.CLIImage}
	if !slices.Equal(vendor, want) || !slices.Equal(autoload, want) {
		t.Errorf("step images: vendor %q, autoload %q; want %q for both", vendor, autoload, want)
	}
	for _, s := range []string{`"ext-ffi":false`, `"ext-intl":"8.4.28"`, `"lib-icu":"76.1"`, `"platform-overrides"`, "cp -p /tmp/phpbuild-composer.lock composer.lock"} {
		if !strings.Contains(script, s) {
			t.Errorf("the vendor step does not set composer's platform (%s):\n%.2000s", s, script)
		}
	}

	// A locked package composer must clone: git, so the composer image.
	app.Composer.Lock.Packages = append(app.Composer.Lock.Packages, detect.Package{Name: "acme/private", SourceOnly: true})
	vendor, autoload, _ = images(t)
	want = []string{"composer image " + rt.ComposerImage}
	if !slices.Equal(vendor, want) || !slices.Equal(autoload, want) {
		t.Errorf("a lock that needs git: vendor %q, autoload %q; want %q", vendor, autoload, want)
	}
	app.Composer.Lock.Packages = app.Composer.Lock.Packages[:len(app.Composer.Lock.Packages)-1]

	// No lock: composer update resolves on the composer image, which
	// writes no told platform into the lock it makes; the autoloader is
	// still dumped on the CLI image (its op graph holds the vendor step's
	// image too).
	lock := app.Composer.Lock
	app.Composer.Lock = nil
	vendor, autoload, script = images(t)
	if !slices.Equal(vendor, want) || !slices.Contains(autoload, "CLI image "+rt.CLIImage) || strings.Contains(script, "platform") || !strings.Contains(script, "composer update") {
		t.Errorf("no lock: vendor %q, autoload %q, want vendor on %q, autoload on the CLI image, nothing told:\n%.2000s", vendor, autoload, want, script)
	}
	app.Composer.Lock = lock

	// A runtime recorded before CLI images: the composer image.
	rt.CLIImage, rt.Platform, rt.PlatformHidden = "", nil, nil
	if vendor, autoload, _ = images(t); !slices.Equal(vendor, want) || !slices.Equal(autoload, want) {
		t.Errorf("a runtime without a CLI image: vendor %q, autoload %q; want %q", vendor, autoload, want)
	}
}

// stepImagesOf marshals st and returns the names of the images among refs that
// its ops pull ("CLI image REF"), with the definition.
func stepImagesOf(t *testing.T, st *llb.State, refs ...string) ([]string, *llb.Definition) {
	t.Helper()
	def, err := st.Marshal(context.Background(), localID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range def.Metadata {
		d := m.Description["llb.customname"]
		for _, ref := range refs {
			if ref != "" && strings.HasSuffix(d, "image "+ref) {
				names = append(names, d)
			}
		}
	}
	return names, def
}

// TestAssetsImage: the assets step runs on the runtime's node image, or on
// its build image for a runtime recorded before node images.
func TestAssetsImage(t *testing.T) {
	app, rt, ls, keys := testApp(t, "assets")
	rt.NodeImage = "registry.example/runtimes@sha256:" + strings.Repeat("5", 64)
	images := func() []string {
		t.Helper()
		ps, err := newProducers(app, rt, only(ls, "assets"), keys, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := ps["assets"].step()
		if err != nil {
			t.Fatal(err)
		}
		names, _ := stepImagesOf(t, st, rt.NodeImage, rt.BuildImage, rt.ComposerImage)
		return names
	}
	if got, want := images(), []string{"node image " + rt.NodeImage}; !slices.Equal(got, want) {
		t.Errorf("assets step images %q, want %q", got, want)
	}
	rt.NodeImage = ""
	if got, want := images(), []string{"build image " + rt.BuildImage}; !slices.Equal(got, want) {
		t.Errorf("a runtime without a node image: assets step images %q, want %q", got, want)
	}
}
