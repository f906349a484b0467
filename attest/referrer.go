package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/internal/regapi"
)

// Artifact types of the documents phpbuild attaches.
const (
	SBOMType       = "application/vnd.cyclonedx+json"
	ProvenanceType = "application/vnd.in-toto+json"
	// emptyType is OCI 1.1's empty config: the two bytes "{}".
	emptyType = "application/vnd.oci.empty.v1+json"
)

// Document is one attachment: its artifact type and its bytes, or the
// blob that holds them.
type Document struct {
	Type string
	Body []byte
	// Blob is the document when Body is nil: one an earlier image carries
	// (see Carried), read only when written where it is not.
	Blob v1.Layer
}

// Carried is a document of type typ that is already the blob d in a
// registry, size bytes: it is not made again, and its bytes are read
// only by a publisher that writes them somewhere else (an OCI layout, a
// repo that lacks it). fetch opens them.
func Carried(typ string, d v1.Hash, size int64, fetch func() (io.ReadCloser, error)) Document {
	return Document{Type: typ, Blob: carried{d: d, size: size, mt: types.MediaType(typ), fetch: fetch}}
}

// carried is a Carried document's blob.
type carried struct {
	d     v1.Hash
	size  int64
	mt    types.MediaType
	fetch func() (io.ReadCloser, error)
}

func (c carried) Digest() (v1.Hash, error)             { return c.d, nil }
func (c carried) DiffID() (v1.Hash, error)             { return c.d, nil }
func (c carried) Size() (int64, error)                 { return c.size, nil }
func (c carried) MediaType() (types.MediaType, error)  { return c.mt, nil }
func (c carried) Compressed() (io.ReadCloser, error)   { return c.fetch() }
func (c carried) Uncompressed() (io.ReadCloser, error) { return c.fetch() }

// Layer is the document as a blob.
func (d Document) Layer() v1.Layer {
	if d.Body == nil && d.Blob != nil {
		return d.Blob
	}
	return static.NewLayer(d.Body, types.MediaType(d.Type))
}

// Descriptor is the document's blob: media type, size and digest.
func (d Document) Descriptor() (v1.Descriptor, error) {
	l := d.Layer()
	h, err := l.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := l.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: types.MediaType(d.Type), Size: n, Digest: h}, nil
}

// Artifact is doc as an OCI 1.1 artifact manifest referring to subject:
// artifactType doc.Type, the empty config, doc as its one blob. Written
// to a registry with remote.Write, it is listed by the subject's referrers
// (ggcr keeps the referrers tag, sha256-HEX, where the registry lacks the
// referrers API).
func Artifact(doc Document, subject v1.Descriptor) (v1.Image, error) {
	raw, err := artifactManifest(doc, subject)
	if err != nil {
		return nil, err
	}
	blob := doc.Layer()
	d, err := blob.Digest()
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(artifact{raw: raw, blob: blob, digest: d})
}

// Blobs are what docs' artifacts refer to: the empty config and each
// document, for the caller to upload with the image's blobs before Refer.
func Blobs(docs []Document) []v1.Layer {
	out := []v1.Layer{static.NewLayer([]byte("{}"), emptyType)}
	for _, d := range docs {
		out = append(out, d.Layer())
	}
	return out
}

func artifactManifest(doc Document, subject v1.Descriptor) ([]byte, error) {
	blob, err := doc.Descriptor()
	if err != nil {
		return nil, err
	}
	cd, err := static.NewLayer([]byte("{}"), emptyType).Digest()
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  doc.Type,
		Config:        v1.Descriptor{MediaType: emptyType, Size: 2, Digest: cd, Data: []byte("{}")},
		Layers:        []v1.Descriptor{blob},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size, Digest: subject.Digest},
	}
	return json.Marshal(m)
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

// Referrers is how a registry lists an image's referrers, as far as
// known before the push.
type Referrers int

const (
	// ReferrersUnknown: not asked, or not answerable yet (a new repo).
	ReferrersUnknown Referrers = iota
	// ReferrersAPI: the registry has the referrers API and lists them
	// itself.
	ReferrersAPI
	// ReferrersTag: it has not; the sha256-HEX tag lists them.
	ReferrersTag
)

// emptyDigest is the sha256 of nothing, the digest ProbeReferrers asks
// about.
const emptyDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// ProbeReferrers asks r's registry, while the image is built, whether it
// has the referrers API, so that Refer need not ask after the manifests
// are in. A registry with the API answers 200 for any digest in a repo it
// knows (the distribution spec forbids a 404 there), so any other answer
// in a repo that has tags means no API; in a repo without tags, which a
// registry with the API may not know yet, or on an error, it is unknown.
// hasTags says the build found the repo holds tags (the parent commit's
// image): the probe then does not list them.
func ProbeReferrers(ctx context.Context, r *regapi.Repo, hasTags bool) Referrers {
	var api *http.Response
	var g errgroup.Group
	g.Go(func() (err error) {
		api, err = askReferrers(ctx, r, emptyDigest)
		return err
	})
	if !hasTags {
		g.Go(func() error {
			listed, _, err := r.Get(ctx, r.URL("tags/list")+"?n=1", http.StatusOK, http.StatusNotFound)
			hasTags = err == nil && listed.StatusCode == http.StatusOK
			return err
		})
	}
	if g.Wait() != nil {
		return ReferrersUnknown
	}
	switch {
	case api.StatusCode == http.StatusOK:
		return ReferrersAPI
	case hasTags:
		return ReferrersTag
	}
	return ReferrersUnknown
}

// askReferrers asks the referrers API about digest; 200 means the
// registry has it, and the statuses a registry without it answers are
// not errors.
func askReferrers(ctx context.Context, r *regapi.Repo, digest string) (*http.Response, error) {
	resp, _, err := r.Get(ctx, r.URL("referrers/%s", digest), http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable)
	return resp, err
}

// Refer puts docs' artifact manifests in r's repo, reached with push
// access, their blobs (Blobs) uploaded already, in three round trips
// where ggcr's remote.Write takes six per document: the manifests are put
// while the referrers tag is read; then the referrers API is asked; only
// a registry without it gets the tag, sha256-HEX, written once for all.
// known is what ProbeReferrers found, which saves a round trip: with the
// API, the manifests alone are put; without, the API is not asked. (A
// registry that wrongly answered the probe without the API gets a
// referrers tag it does not need, and lists the documents all the same.)
func Refer(ctx context.Context, r *regapi.Repo, subject v1.Descriptor, docs []Document, known Referrers) error {
	var added []v1.Descriptor
	g, gctx := errgroup.WithContext(ctx)
	for _, doc := range docs {
		raw, err := artifactManifest(doc, subject)
		if err != nil {
			return err
		}
		h, n, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		added = append(added, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: n, Digest: h, ArtifactType: doc.Type})
		g.Go(func() error {
			if err := r.PutManifest(gctx, h.String(), types.OCIManifestSchema1, raw); err != nil {
				return fmt.Errorf("attaching the %s: %w", Describe(doc.Type), err)
			}
			return nil
		})
	}
	var tagged *http.Response
	var tagBody []byte
	tag := strings.Replace(subject.Digest.String(), ":", "-", 1)
	if known != ReferrersAPI {
		g.Go(func() error {
			return regapi.Retry(gctx, func() (err error) {
				tagged, tagBody, err = r.Get(gctx, r.URL("manifests/%s", tag), http.StatusOK, http.StatusNotFound)
				return err
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if known == ReferrersAPI {
		return nil // the registry lists referrers itself
	}
	if known == ReferrersUnknown {
		// Asked once the manifests are in: a registry may not know the
		// repo before, and answer 404 though it has the API.
		var api *http.Response
		if err := regapi.Retry(ctx, func() (err error) {
			api, err = askReferrers(ctx, r, subject.Digest.String())
			return err
		}); err != nil {
			return err
		}
		if api.StatusCode == http.StatusOK {
			return nil // the registry lists referrers itself
		}
	}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	if tagged.StatusCode == http.StatusOK {
		if err := json.Unmarshal(tagBody, &idx); err != nil {
			return fmt.Errorf("reading the referrers tag %s: %w", tag, err)
		}
	}
	have := map[v1.Hash]bool{}
	for _, d := range idx.Manifests {
		have[d.Digest] = true
	}
	changed := false
	for _, d := range added {
		if !have[d.Digest] {
			idx.Manifests = append(idx.Manifests, d)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	sort.Slice(idx.Manifests, func(i, j int) bool { return idx.Manifests[i].Digest.String() < idx.Manifests[j].Digest.String() })
	raw, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if err := r.PutManifest(ctx, tag, types.OCIImageIndex, raw); err != nil {
		return fmt.Errorf("writing the referrers tag %s: %w", tag, err)
	}
	return nil
}

// IsReferrersTag reports whether tag is the referrers tag scheme's
// sha256-HEX, which lists an image's referrers where the registry has no
// referrers API: not an image to build on or deploy.
func IsReferrersTag(tag string) bool {
	hex, ok := strings.CutPrefix(tag, "sha256-")
	if !ok || len(hex) != 64 {
		return false
	}
	for _, c := range hex {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
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
// phpbuild versions), the last the registry lists wins. Registries that
// list an artifact by its config's media type (the empty one) instead of
// its artifactType have the manifest read to tell.
func Read(ctx context.Context, d name.Digest, artifactType string, opts ...remote.Option) ([]byte, error) {
	opts = append(opts, remote.WithContext(ctx))
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
		switch m.ArtifactType {
		case artifactType:
			found = &im.Manifests[i]
		case "", emptyType:
			a, err := remote.Image(d.Context().Digest(m.Digest.String()), opts...)
			if err != nil {
				return nil, fmt.Errorf("reading the referrer %s of %s: %w", m.Digest, d, err)
			}
			if am, err := a.Manifest(); err == nil && am.ArtifactType == artifactType {
				found = &im.Manifests[i]
			}
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
