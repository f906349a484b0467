package build

import (
	"archive/tar"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
)

// voltProducer makes the volt layer: the templates, and each compiled by
// Phalcon's own compiler (see phalcon.Precompile).
type voltProducer struct {
	l     *layers.Volt
	dir   string // the app dir
	key   string
	image llb.State
}

func (p *voltProducer) step() (*llb.State, error) {
	st, err := voltStep(p.image, p.l, p.key)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

func (p *voltProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	made, err := stepEntries(out, p.dir, p.l.Files)
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
	templates, err := layers.TreeEntries(p.dir, p.l.Templates(), layers.AppPath)
	if err != nil {
		return nil, err
	}
	for i := range templates {
		if templates[i].Type == tar.TypeReg {
			templates[i].ModTime = epoch
		}
	}
	// A template the step touched still ships as committed, with the epoch.
	return layers.NewTar(overlay(made, templates), epoch)
}

// voltStep precompiles the templates at the path the app runs from, so the
// compiled names, which embed it, match run time.
func voltStep(img llb.State, v *layers.Volt, key string) (llb.State, error) {
	pc := &phalcon.Precompile{Options: v.Options, FactoryDefault: v.FactoryDefault, Services: v.Services,
		Extensions: v.Extensions, AppPath: v.AppPath, Templates: v.Templates()}
	files, err := pc.Files()
	if err != nil {
		return llb.State{}, err
	}
	tool := llb.Scratch()
	for _, f := range files {
		tool = tool.File(llb.Mkfile("/"+f.Name, 0o644, f.Data))
	}
	opts := []llb.RunOption{llb.Args(pc.Command()), llb.Dir(v.AppPath),
		llb.WithCustomNamef("volt: compile %d templates", len(pc.Templates)),
		llb.AddMount(phalcon.PrecompilerDir, tool, llb.Readonly)}
	in := source(v.Files, key)
	run := img.Run(opts...)
	out := run.AddMount(v.AppPath, in)
	return llb.Diff(in, out, llb.WithCustomName("volt: compiled templates")), nil
}
