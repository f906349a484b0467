package build

import (
	"archive/tar"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
)

// configProducer makes the config layer from phpbuild's templates, in Go.
type configProducer struct {
	l *layers.Config
}

func (*configProducer) step() (*llb.State, error) { return nil, nil }

func (p *configProducer) layer(_ string, epoch time.Time) (v1.Layer, error) {
	files, err := p.l.Files()
	if err != nil {
		return nil, err
	}
	var entries []layers.Entry
	for _, f := range files {
		entries = append(entries, layers.Entry{Path: f.Path, Type: tar.TypeReg, Mode: f.Mode, Data: f.Data})
	}
	return layers.NewTar(entries, epoch)
}
