package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
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
	raw, blob, err := artifactManifest(doc, subject)
	if err != nil {
		return nil, err
	}
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
		out = append(out, static.NewLayer(d.Body, types.MediaType(d.Type)))
	}
	return out
}

func artifactManifest(doc Document, subject v1.Descriptor) ([]byte, v1.Layer, error) {
	blob := static.NewLayer(doc.Body, types.MediaType(doc.Type))
	d, err := blob.Digest()
	if err != nil {
		return nil, nil, err
	}
	cd, err := static.NewLayer([]byte("{}"), emptyType).Digest()
	if err != nil {
		return nil, nil, err
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
	return raw, blob, err
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

// Refer puts docs' artifact manifests in repo, their blobs (Blobs)
// uploaded already, in three round trips where ggcr's remote.Write takes
// six per document: the manifests are put while the referrers tag is
// read; then the referrers API is asked; only a registry without it gets
// the tag, sha256-HEX, written once for all. rt is an authenticated
// transport with push access to repo (ggcr's transport.NewWithContext).
func Refer(ctx context.Context, rt http.RoundTripper, repo name.Repository, subject v1.Descriptor, docs []Document) error {
	c := &http.Client{Transport: rt}
	base := url.URL{Scheme: repo.Scheme(), Host: repo.RegistryStr()}
	at := func(format string, args ...any) string {
		u := base
		u.Path = fmt.Sprintf("/v2/%s/", repo.RepositoryStr()) + fmt.Sprintf(format, args...)
		return u.String()
	}
	var added []v1.Descriptor
	g, gctx := errgroup.WithContext(ctx)
	for _, doc := range docs {
		raw, _, err := artifactManifest(doc, subject)
		if err != nil {
			return err
		}
		h, n, err := v1.SHA256(bytes.NewReader(raw))
		if err != nil {
			return err
		}
		added = append(added, v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: n, Digest: h, ArtifactType: doc.Type})
		g.Go(func() error {
			_, _, err := send(gctx, c, http.MethodPut, at("manifests/%s", h), types.OCIManifestSchema1, raw, http.StatusCreated, http.StatusOK, http.StatusAccepted)
			if err != nil {
				return fmt.Errorf("attaching the %s: %w", Describe(doc.Type), err)
			}
			return nil
		})
	}
	var tagged *http.Response
	var tagBody []byte
	tag := strings.Replace(subject.Digest.String(), ":", "-", 1)
	g.Go(func() (err error) {
		tagged, tagBody, err = get(gctx, c, at("manifests/%s", tag), http.StatusOK, http.StatusNotFound)
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	// Asked once the manifests are in: a registry may not know the repo
	// before, and answer 404 though it has the API.
	api, _, err := get(ctx, c, at("referrers/%s", subject.Digest), http.StatusOK, http.StatusNotFound, http.StatusBadRequest, http.StatusNotAcceptable)
	if err != nil {
		return err
	}
	if api.StatusCode == http.StatusOK {
		return nil // the registry lists referrers itself
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
	if _, _, err := send(ctx, c, http.MethodPut, at("manifests/%s", tag), types.OCIImageIndex, raw, http.StatusCreated, http.StatusOK, http.StatusAccepted); err != nil {
		return fmt.Errorf("writing the referrers tag %s: %w", tag, err)
	}
	return nil
}

func get(ctx context.Context, c *http.Client, u string, ok ...int) (*http.Response, []byte, error) {
	return send(ctx, c, http.MethodGet, u, "", nil, ok...)
}

// send makes one request and reads its answer, a transport.Error unless
// its status is one of ok.
func send(ctx context.Context, c *http.Client, method, u string, mt types.MediaType, body []byte, ok ...int) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", string(mt))
	} else {
		req.Header.Set("Accept", string(types.OCIImageIndex))
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, ok...); err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b, err
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
