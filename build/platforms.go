package build

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// multiPlatform is the image for the builder's platform together with the
// index of every platform's image, which publishers that hold indexes
// (registries, OCI layouts) publish instead; docker and tar outputs get
// the builder's platform's image.
type multiPlatform struct {
	v1.Image
	index v1.ImageIndex
}

func (m multiPlatform) Index() v1.ImageIndex { return m.index }

func (m multiPlatform) KnownBlobs() []v1.Hash {
	if k, ok := m.Image.(interface{ KnownBlobs() []v1.Hash }); ok {
		return k.KnownBlobs()
	}
	return nil
}

// platformIndex puts the same app layers on each other platform's run
// image (the layers are architecture-independent: built once, uploaded
// once) and indexes those images after native, the builder's.
func (o *options) platformIndex(ctx context.Context, native v1.Image, rt *runtimes.Runtime, layersAdded []added, m imageMeta) (v1.ImageIndex, error) {
	nos, narch, _ := strings.Cut(rt.Native, "/")
	adds := []mutate.IndexAddendum{{Add: native, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: nos, Architecture: narch}}}}
	for _, p := range rt.Others {
		ref, err := name.ParseReference(p.Run)
		if err != nil {
			return nil, fmt.Errorf("runtime manifest: %s run image %q: %w", p.Platform, p.Run, err)
		}
		base, err := remote.Image(ref, o.remoteWith(ctx)...)
		if err != nil {
			return nil, transient.Classify(fmt.Errorf("reading the %s run image %s: %w", p.Platform, p.Run, err))
		}
		mm := m
		mm.runImage = p.Run
		img, err := assemble(base, layersAdded, mm)
		if err != nil {
			return nil, fmt.Errorf("assembling the %s image: %w", p.Platform, err)
		}
		os, arch, _ := strings.Cut(p.Platform, "/")
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: os, Architecture: arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	annotated, ok := mutate.Annotations(idx, ociAnnotations(m)).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotating the index")
	}
	return annotated, nil
}

// nativeCode lists up to max files of the vendor layer that are native
// executables or shared objects (ELF): built for the builder's
// architecture, they do not run on the others.
func nativeCode(vendor v1.Layer, max int) ([]string, error) {
	rc, err := vendor.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var found []string
	tr := tar.NewReader(rc)
	magic := make([]byte, 4)
	for len(found) < max {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || h.Size < 4 {
			continue
		}
		if _, err := io.ReadFull(tr, magic); err != nil {
			return nil, err
		}
		if bytes.Equal(magic, []byte("\x7fELF")) {
			found = append(found, strings.TrimPrefix(h.Name, "./"))
		}
	}
	return found, nil
}
