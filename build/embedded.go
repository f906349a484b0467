package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// embeddedImage is the image ref names, from its manifest and config as
// given (a runtime manifest embeds the run image's), checked against ref's
// digest and the manifest's config digest: no request until a layer's
// bytes are read, and each layer mounts from ref's repo as a remote
// image's does.
func embeddedImage(ref name.Digest, manifest, config []byte, opts []remote.Option) (v1.Image, error) {
	if len(manifest) == 0 || len(config) == 0 {
		return nil, errors.New("nothing embedded")
	}
	if h, _, err := v1.SHA256(bytes.NewReader(manifest)); err != nil || h.String() != ref.DigestStr() {
		return nil, fmt.Errorf("the embedded manifest is not %s", ref.DigestStr())
	}
	m, err := v1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		return nil, err
	}
	if h, _, err := v1.SHA256(bytes.NewReader(config)); err != nil || h != m.Config.Digest {
		return nil, fmt.Errorf("the embedded config is not %s", m.Config.Digest)
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("the embedded config lists %d layers, the manifest %d", len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	e := &embedded{ref: ref, raw: manifest, config: config, m: m, diffIDs: cf.RootFS.DiffIDs, opts: opts}
	img, err := partial.CompressedToImage(e)
	if err != nil {
		return nil, err
	}
	return embeddedImg{Image: img, e: e}, nil
}

// embeddedImg gives the layers as embedded makes them, mountable, where
// partial's image would wrap them.
type embeddedImg struct {
	v1.Image
	e *embedded
}

func (i embeddedImg) Layers() ([]v1.Layer, error) {
	var ls []v1.Layer
	for idx := range i.e.m.Layers {
		ls = append(ls, i.e.layer(idx))
	}
	return ls, nil
}

func (i embeddedImg) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := i.e.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return l.(v1.Layer), nil
}

func (i embeddedImg) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for idx, d := range i.e.diffIDs {
		if d == h {
			return i.e.layer(idx), nil
		}
	}
	return nil, fmt.Errorf("%s has no layer of diff ID %s", i.e.ref, h)
}

// embedded is embeddedImage's core.
type embedded struct {
	ref         name.Digest
	raw, config []byte
	m           *v1.Manifest
	diffIDs     []v1.Hash
	opts        []remote.Option
}

func (e *embedded) RawManifest() ([]byte, error)   { return e.raw, nil }
func (e *embedded) RawConfigFile() ([]byte, error) { return e.config, nil }
func (e *embedded) MediaType() (types.MediaType, error) {
	if e.m.MediaType == "" {
		return types.OCIManifestSchema1, nil
	}
	return e.m.MediaType, nil
}

// LayerByDigest is a layer, or the config.
func (e *embedded) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == e.m.Config.Digest {
		return static.NewLayer(e.config, e.m.Config.MediaType), nil
	}
	for i, d := range e.m.Layers {
		if d.Digest == h {
			return e.layer(i), nil
		}
	}
	return nil, fmt.Errorf("%s has no layer %s", e.ref, h)
}

// layer is the manifest's layer i, mountable from the image's repo.
func (e *embedded) layer(i int) v1.Layer {
	d := e.m.Layers[i]
	ref := e.ref.Context().Digest(d.Digest.String())
	return &remote.MountableLayer{Layer: &embeddedLayer{desc: d, diffID: e.diffIDs[i], ref: ref, opts: e.opts}, Reference: ref}
}

// embeddedLayer is a layer of an embedded image: known by its descriptor
// and the config's diff ID, read from the registry when its bytes are.
type embeddedLayer struct {
	desc   v1.Descriptor
	diffID v1.Hash
	ref    name.Digest
	opts   []remote.Option
}

func (l *embeddedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *embeddedLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *embeddedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *embeddedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *embeddedLayer) remote() (v1.Layer, error) { return remote.Layer(l.ref, l.opts...) }

func (l *embeddedLayer) Compressed() (io.ReadCloser, error) {
	r, err := l.remote()
	if err != nil {
		return nil, err
	}
	return r.Compressed()
}

func (l *embeddedLayer) Uncompressed() (io.ReadCloser, error) {
	r, err := l.remote()
	if err != nil {
		return nil, err
	}
	return r.Uncompressed()
}
