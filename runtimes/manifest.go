package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/transient"
)

// ManifestTag is the tag of the runtime manifest in a runtime repo. The
// manifest is an OCI image index whose children are the run and build images
// of every recorded runtime: referencing them keeps registry garbage
// collection from deleting them, and their descriptors' annotations carry
// everything `runtime ls` shows, so one manifest fetch lists all runtimes.
const ManifestTag = "runtimes"

// Annotations on the index's child descriptors.
const (
	annotationKey   = "dev.phpbuild.runtime.key"
	annotationRole  = "dev.phpbuild.runtime.role"
	annotationEntry = "dev.phpbuild.runtime.entry" // on the run descriptor only
	// annotationRunConfig is the run image's config, on the run
	// descriptor, whose data field holds the run image's manifest: a build
	// has the run image from the one manifest fetch too (see Entry.RunManifest).
	annotationRunConfig = "dev.phpbuild.runtime.run-config"

	roleRun      = "run"
	roleBuild    = "build"
	roleComposer = "composer"
	roleCLI      = "cli"
	roleNode     = "node"
)

// Entry is one built runtime as recorded.
type Entry struct {
	// Key is "sha256:<hex>" over the build inputs: equal keys mean identical
	// inputs, so a build whose key is recorded can be skipped.
	Key string `json:"key"`
	// PHP is the exact version, e.g. "8.2.29", read from the built image
	// because the catalog knows only the minor.
	PHP      string `json:"php"`
	PHPMinor string `json:"phpMinor"`
	// Phalcon is as `php --ri phalcon` reports it; empty without Phalcon.
	Phalcon string `json:"phalcon,omitempty"`
	// Extensions are the lower-case names `php -m` lists, sorted.
	Extensions []string `json:"extensions"`
	// Base is the base image reference as written in the catalog, and
	// BaseDigest what it resolved to when the runtime was built.
	Base       string `json:"base"`
	BaseDigest string `json:"baseDigest"`
	// Run, Build and Composer are the manifest digests of the images: the
	// run image, the build image, and the composer image (the run image plus
	// composer; the build image's first layers). Entries recorded before
	// composer images existed have none.
	Run      string `json:"run"`
	Build    string `json:"build"`
	Composer string `json:"composer,omitempty"`
	// CLI is the CLI image's digest: the base image plus PHP's CLI and
	// composer, where composer installs and dumps the autoloader. Entries
	// recorded before CLI images existed have none.
	CLI string `json:"cli,omitempty"`
	// Node is the node image's digest: the CLI image plus node and npm,
	// where the assets step runs. Entries recorded before node images
	// existed have none; their builds run it on the build image.
	Node string `json:"node,omitempty"`
	// Platform is what composer sees in the composer image: every ext-*
	// and lib-* platform package and its version, as `composer show
	// --platform` lists them. PlatformHidden are those the CLI image has
	// and the composer image lacks. Composer runs on the CLI image with
	// both as its platform config, so it checks the run image's
	// extensions, not the CLI image's.
	Platform       map[string]string `json:"platform,omitempty"`
	PlatformHidden []string          `json:"platformHidden,omitempty"`
	// Native is the platform of the images above, the builder's
	// ("linux/amd64" when empty: entries recorded before it was), and
	// Platforms the run images for other platforms; empty for one.
	Native    string        `json:"native,omitempty"`
	Platforms []PlatformRun `json:"platforms,omitempty"`
	// SBOM is the digest of the run image's CycloneDX SBOM, a blob in the
	// runtime repo attached to the run image as a referrer; empty for
	// runtimes recorded before phpbuild made SBOMs (`runtime build` adds
	// it to them without building again).
	SBOM string `json:"sbom,omitempty"`
	// Built is the RFC 3339 time of the build; informational only, the key
	// decides reuse.
	Built string `json:"built"`
	// RunManifest and RunConfig are the run image's manifest and config as
	// the runtime manifest embeds them; nil for entries recorded before it
	// did (`runtime build` adds them). A build checks them against Run.
	RunManifest []byte `json:"-"`
	RunConfig   []byte `json:"-"`
}

// NativePlatform is the platform of the entry's run, build, composer and
// CLI images.
func (e Entry) NativePlatform() string {
	if e.Native == "" {
		return "linux/amd64"
	}
	return e.Native
}

// RunRef returns the repo@digest reference of the entry's run image.
func (e Entry) RunRef(repo name.Repository) name.Digest { return repo.Digest(e.Run) }

// BuildRef returns the repo@digest reference of the entry's build image.
func (e Entry) BuildRef(repo name.Repository) name.Digest { return repo.Digest(e.Build) }

// images are the entry's roles and image digests, the composer, CLI and
// node images only when it has them.
func (e Entry) images() []struct{ role, digest string } {
	out := []struct{ role, digest string }{{roleRun, e.Run}, {roleBuild, e.Build}}
	if e.Composer != "" {
		out = append(out, struct{ role, digest string }{roleComposer, e.Composer})
	}
	if e.CLI != "" {
		out = append(out, struct{ role, digest string }{roleCLI, e.CLI})
	}
	if e.Node != "" {
		out = append(out, struct{ role, digest string }{roleNode, e.Node})
	}
	for _, p := range e.Platforms {
		_, arch, _ := strings.Cut(p.Platform, "/")
		out = append(out, struct{ role, digest string }{roleRun + "-" + arch, p.Run})
	}
	return out
}

// Find returns the recorded entry with this key, or false.
func Find(entries []Entry, key string) (Entry, bool) {
	for _, e := range entries {
		if e.Key == key {
			return e, true
		}
	}
	return Entry{}, false
}

// ReadManifest returns the runtimes recorded in repo, newest PHP first (then
// newest Phalcon). An absent manifest tag means none were recorded yet: an
// empty slice and a nil error.
func ReadManifest(ctx context.Context, repo name.Repository, opts ...remote.Option) ([]Entry, error) {
	m, err := fetchManifest(ctx, repo, opts)
	if err != nil {
		return nil, fmt.Errorf("reading runtime manifest of %s: %w", repo, err)
	}
	entries, err := manifestEntries(m)
	if err != nil {
		return nil, fmt.Errorf("reading runtime manifest of %s: %w", repo, err)
	}
	return entries, nil
}

// Record adds e to repo's manifest, replacing an entry with the same Key, and
// re-tags the index. Both images must already be in repo: the index refers
// to them by digest. An older entry whose images are gone from repo (deleted
// by hand) is dropped instead of failing every later Record.
//
// Record reads, changes and writes the tag with no lock, so concurrent calls
// race and the last writer wins: the other runtime is built and pushed but
// not recorded (and may be garbage-collected). That is accepted because
// runtimes are built rarely; a lost entry costs one rebuild.
func Record(ctx context.Context, repo name.Repository, e Entry, opts ...remote.Option) error {
	if err := recordable(e); err != nil {
		return fmt.Errorf("recording runtime in %s: %w", repo, err)
	}
	entryJSON, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("recording runtime in %s: %w", repo, err)
	}
	opts = withContext(ctx, opts)

	old, err := fetchManifest(ctx, repo, opts)
	if err != nil {
		return fmt.Errorf("recording runtime in %s: reading runtime manifest: %w", repo, err)
	}
	kept, err := keptChildren(repo, old, e.Key, opts)
	if err != nil {
		return fmt.Errorf("recording runtime in %s: %w", repo, err)
	}

	adds := kept
	for _, c := range e.images() {
		annotations := map[string]string{annotationKey: e.Key, annotationRole: c.role}
		if c.role == roleRun {
			annotations[annotationEntry] = string(entryJSON)
		}
		child, err := fetchChild(repo.Digest(c.digest), opts)
		if err != nil {
			return fmt.Errorf("recording runtime in %s: %s image %s: %w", repo, c.role, c.digest, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        child,
			Descriptor: v1.Descriptor{Annotations: annotations},
		})
	}

	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	raw, err := embedRunImages(repo, idx, opts)
	if err != nil {
		return fmt.Errorf("recording runtime in %s: %w", repo, err)
	}
	if err := remote.Put(repo.Tag(ManifestTag), rawIndex(raw), opts...); err != nil {
		return fmt.Errorf("recording runtime in %s: writing runtime manifest: %w", repo, transient.Classify(err))
	}
	return nil
}

// embedRunImages is idx's manifest with each run image's manifest in its
// descriptor's data field and its config in annotationRunConfig, read
// from repo where the descriptor lacks them.
func embedRunImages(repo name.Repository, idx v1.ImageIndex, opts []remote.Option) ([]byte, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	im = im.DeepCopy()
	for i, d := range im.Manifests {
		if d.Annotations[annotationRole] != roleRun || (len(d.Data) > 0 && d.Annotations[annotationRunConfig] != "") {
			continue
		}
		img, err := remote.Image(repo.Digest(d.Digest.String()), opts...)
		if err != nil {
			return nil, fmt.Errorf("run image %s: %w", d.Digest, transient.Classify(err))
		}
		m, err := img.RawManifest()
		if err != nil {
			return nil, fmt.Errorf("run image %s: %w", d.Digest, transient.Classify(err))
		}
		cfg, err := img.RawConfigFile()
		if err != nil {
			return nil, fmt.Errorf("run image %s: %w", d.Digest, transient.Classify(err))
		}
		im.Manifests[i].Data = m
		im.Manifests[i].Annotations[annotationRunConfig] = string(cfg)
	}
	return json.Marshal(im)
}

// rawIndex is an OCI image index as its bytes, for remote.Put.
type rawIndex []byte

func (r rawIndex) RawManifest() ([]byte, error)        { return r, nil }
func (r rawIndex) MediaType() (types.MediaType, error) { return types.OCIImageIndex, nil }

// recordable checks what Record relies on: a key to replace by and digests
// to reference.
func recordable(e Entry) error {
	if e.Key == "" {
		return errors.New("entry has no key")
	}
	for _, d := range e.images() {
		if _, err := v1.NewHash(d.digest); err != nil {
			return fmt.Errorf("%s image digest %q: %w", d.role, d.digest, err)
		}
	}
	return nil
}

// keptChildren returns the old index's children that stay: every descriptor
// as it was, except those of the entry being replaced and of entries whose
// images are gone.
func keptChildren(repo name.Repository, old *v1.IndexManifest, replaced string, opts []remote.Option) ([]mutate.IndexAddendum, error) {
	if old == nil {
		return nil, nil
	}
	type child struct {
		desc v1.Descriptor
		add  partial.Describable
	}
	var children []child
	gone := map[string]bool{}
	for _, desc := range old.Manifests {
		key := desc.Annotations[annotationKey]
		if key == replaced {
			continue
		}
		add, err := fetchChild(repo.Digest(desc.Digest.String()), opts)
		if isNotFound(err) {
			gone[key] = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("runtime %s: image %s: %w", key, desc.Digest, err)
		}
		children = append(children, child{desc, add})
	}
	var adds []mutate.IndexAddendum
	for _, c := range children {
		if gone[c.desc.Annotations[annotationKey]] {
			continue
		}
		adds = append(adds, mutate.IndexAddendum{Add: c.add, Descriptor: c.desc})
	}
	return adds, nil
}

// fetchChild returns the manifest at ref as what it is, image or index, so
// that any image media type can be recorded. WriteIndex then only checks that
// the registry has it.
func fetchChild(ref name.Digest, opts []remote.Option) (partial.Describable, error) {
	d, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, transient.Classify(err)
	}
	if d.MediaType.IsIndex() {
		return d.ImageIndex()
	}
	return d.Image()
}

// fetchManifest returns repo's index manifest, or nil when the tag is absent.
func fetchManifest(ctx context.Context, repo name.Repository, opts []remote.Option) (*v1.IndexManifest, error) {
	idx, err := remote.Index(repo.Tag(ManifestTag), withContext(ctx, opts)...)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, transient.Classify(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, transient.Classify(err)
	}
	return m, nil
}

// manifestEntries reads the entries off the run descriptors' annotations,
// without fetching any child.
func manifestEntries(m *v1.IndexManifest) ([]Entry, error) {
	entries := []Entry{}
	if m == nil {
		return entries, nil
	}
	for _, desc := range m.Manifests {
		if desc.Annotations[annotationRole] != roleRun {
			continue
		}
		var e Entry
		if err := json.Unmarshal([]byte(desc.Annotations[annotationEntry]), &e); err != nil {
			return nil, fmt.Errorf("runtime %s: parsing entry annotation: %w", desc.Annotations[annotationKey], err)
		}
		if cfg := desc.Annotations[annotationRunConfig]; cfg != "" && len(desc.Data) > 0 {
			e.RunManifest, e.RunConfig = desc.Data, []byte(cfg)
		}
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool { return newerEntry(entries[i], entries[j]) })
	return entries, nil
}

// newerEntry orders entries newest PHP first, then newest Phalcon (none
// last), then most recently built, then by key so the order is total.
func newerEntry(a, b Entry) bool {
	if c := compareVersions(a.PHP, b.PHP); c != 0 {
		return c > 0
	}
	if (a.Phalcon == "") != (b.Phalcon == "") {
		return a.Phalcon != ""
	}
	if c := compareVersions(a.Phalcon, b.Phalcon); c != 0 {
		return c > 0
	}
	if a.Built != b.Built {
		return a.Built > b.Built // RFC 3339 in UTC sorts as text
	}
	return a.Key < b.Key
}

// compareVersions compares as semver where both parse (Phalcon reports
// versions like "5.0.0RC4" that may not), and as text otherwise.
func compareVersions(a, b string) int {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	switch {
	case errA == nil && errB == nil:
		return va.Compare(vb)
	case errA == nil:
		return 1
	case errB == nil:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// withContext returns opts with ctx last, so that the ctx argument wins over
// any context among opts, without changing the caller's slice.
func withContext(ctx context.Context, opts []remote.Option) []remote.Option {
	return append(opts[:len(opts):len(opts)], remote.WithContext(ctx))
}

// isNotFound reports whether the registry said the manifest or repository
// does not exist.
func isNotFound(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	if terr.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range terr.Errors {
		if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
			return true
		}
	}
	return false
}
