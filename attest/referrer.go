package attest

import (
	"context"
	"encoding/json"
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

// Artifact types of the documents phpbuild attaches.
const (
	SBOMType       = "application/vnd.cyclonedx+json"
	ProvenanceType = "application/vnd.in-toto+json"
	// emptyType is OCI 1.1's empty config: the two bytes "{}".
	emptyType = "application/vnd.oci.empty.v1+json"
)

// Document is one attachment: its artifact type and its bytes.
type Document struct {
	Type string
	Body []byte
}

// Artifact is doc as an OCI 1.1 artifact manifest referring to subject:
// artifactType doc.Type, the empty config, doc as its one blob. Written
// to a registry with remote.Write, it is listed by the subject's referrers
// (ggcr keeps the referrers tag, sha256-HEX, where the registry lacks the
// referrers API).
func Artifact(doc Document, subject v1.Descriptor) (v1.Image, error) {
	blob := static.NewLayer(doc.Body, types.MediaType(doc.Type))
	d, err := blob.Digest()
	if err != nil {
		return nil, err
	}
	cfg := static.NewLayer([]byte("{}"), emptyType)
	cd, err := cfg.Digest()
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  doc.Type,
		Config:        v1.Descriptor{MediaType: emptyType, Size: 2, Digest: cd, Data: []byte("{}")},
		Layers:        []v1.Descriptor{{MediaType: types.MediaType(doc.Type), Size: int64(len(doc.Body)), Digest: d}},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(artifact{raw: raw, blob: blob, digest: d})
}

// artifact is the core partial.CompressedToImage makes an image of.
type artifact struct {
	raw    []byte
	blob   v1.Layer
	digest v1.Hash
}

func (a artifact) RawConfigFile() ([]byte, error)      { return []byte("{}"), nil }
func (a artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a artifact) RawManifest() ([]byte, error)        { return a.raw, nil }
func (a artifact) ConfigFile() (*v1.ConfigFile, error) { return &v1.ConfigFile{}, nil }
func (a artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == a.digest {
		return a.blob, nil
	}
	return nil, fmt.Errorf("artifact has no blob %s", h)
}

// Attach writes each document as an artifact referring to subject in
// repo, one after the other: each write updates the subject's referrers
// tag by reading and writing it, so two at once would lose one.
func Attach(ctx context.Context, repo name.Repository, subject v1.Descriptor, docs []Document, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	for _, doc := range docs {
		a, err := Artifact(doc, subject)
		if err != nil {
			return err
		}
		d, err := a.Digest()
		if err != nil {
			return err
		}
		if err := remote.Write(repo.Digest(d.String()), a, opts...); err != nil {
			return fmt.Errorf("attaching the %s: %w", Describe(doc.Type), err)
		}
	}
	return nil
}

// Describe names an artifact type for people.
func Describe(artifactType string) string {
	switch artifactType {
	case SBOMType:
		return "SBOM"
	case ProvenanceType:
		return "provenance"
	}
	return artifactType
}

// Kind is an artifact type's short name: sbom, provenance.
func Kind(artifactType string) string {
	switch artifactType {
	case SBOMType:
		return "sbom"
	case ProvenanceType:
		return "provenance"
	}
	return artifactType
}

// ErrNone is an image with no attachment of the asked type.
var ErrNone = errors.New("no attachment of that type")

// Read returns the body of the attachment of artifactType that refers to
// the image digest d. With several (an image built twice by different
// phpbuild versions), the last the registry lists wins.
func Read(ctx context.Context, d name.Digest, artifactType string, opts ...remote.Option) ([]byte, error) {
	opts = append(opts, remote.WithContext(ctx), remote.WithFilter("artifactType", artifactType))
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", d, err)
	}
	var found *v1.Descriptor
	for i, m := range im.Manifests {
		if m.ArtifactType == artifactType {
			found = &im.Manifests[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%s: %w (%s)", d, ErrNone, Describe(artifactType))
	}
	img, err := remote.Image(d.Context().Digest(found.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the %s of %s: %w", Describe(artifactType), d, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading the %s of %s: %w", Describe(artifactType), d, err)
	}
	if len(m.Layers) != 1 {
		return nil, fmt.Errorf("reading the %s of %s: the artifact has %d blobs, want 1", Describe(artifactType), d, len(m.Layers))
	}
	l, err := remote.Layer(d.Context().Digest(m.Layers[0].Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("reading the %s of %s: %w", Describe(artifactType), d, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("reading the %s of %s: %w", Describe(artifactType), d, err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
