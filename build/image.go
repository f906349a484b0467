package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/classindex"
	"github.com/phpbuild/phpbuild/internal/envlist"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// Labels phpbuild reads back from its own images.
const (
	// LabelLayers holds each layer's name, key and digest, so the next
	// build can reuse the layers whose keys did not change.
	LabelLayers = "dev.phpbuild.layers"
	// LabelRunImage is the run image the app layers sit on.
	LabelRunImage = "dev.phpbuild.run-image"
	// AnnotationSubject is the manifest annotation with the first line of
	// the commit's message, for the deploy page.
	AnnotationSubject = "dev.phpbuild.commit-subject"
)

// cachedLayer is one entry of LabelLayers.
type cachedLayer struct {
	Name   string `json:"name"`
	Key    string `json:"key"`
	Digest string `json:"digest"`
	// Index is the autoload layer's class index summary (see carryIndex).
	Index *classindex.Summary `json:"index,omitempty"`
	// DiffID is the uncompressed layer's digest, which the config lists:
	// the next build reuses the layer without reading this image's
	// config for it.
	DiffID string `json:"diffID,omitempty"`
}

// knownDiffID is a reused layer whose uncompressed digest is known.
type knownDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (l knownDiffID) DiffID() (v1.Hash, error) { return l.diffID, nil }

// LayerNamed returns the layer img's LabelLayers names name ("app",
// "volt", …): how tools read one layer of a phpbuild image back.
func LayerNamed(img v1.Image, name string) (v1.Layer, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	var ls []cachedLayer
	if err := json.Unmarshal([]byte(cf.Config.Labels[LabelLayers]), &ls); err != nil {
		return nil, fmt.Errorf("not a phpbuild image: its %s label: %w", LabelLayers, err)
	}
	for _, l := range ls {
		if l.Name != name {
			continue
		}
		h, err := v1.NewHash(l.Digest)
		if err != nil {
			return nil, err
		}
		return img.LayerByDigest(h)
	}
	return nil, fmt.Errorf("the image has no %s layer", name)
}

// cacheImage is a previous build whose layers can be reused by digest.
type cacheImage struct {
	ref    name.Digest
	img    v1.Image
	layers map[string]cachedLayer
	// revision is the commit the image was built from, "" when unknown
	// or dirty.
	revision string
	// diff is what changed from revision to the commit being built, read
	// once for all who ask (see changes).
	diffOnce sync.Once
	diff     []git.Change
	diffErr  error
	// sbom is the SBOM attached to the image, when it records it.
	sbom sbomNote
	// early is that diff, with the bodies the class index needs, started
	// from the commit the image's tag names before the image was read;
	// earlyFrom is that commit.
	early     *par.Future[diffRead]
	earlyFrom string
}

// errBuiltAlready: the early diff was not read, HEAD's SHA tag being in
// the target repo. A build that goes on all the same reads it again.
var errBuiltAlready = errors.New("the commit's image is in the repo")

// earlyRead is the diff read early from the cache image's commit, when it
// was; false when it was not, or was skipped (errBuiltAlready).
func (c *cacheImage) earlyRead() (diffRead, bool, error) {
	if c.revision == "" || c.early == nil || c.earlyFrom != c.revision {
		return diffRead{}, false, nil
	}
	d, err := c.early.Wait()
	if errors.Is(err, errBuiltAlready) {
		return diffRead{}, false, nil
	}
	return d, true, err
}

// changes lists what differs under dir from the cache image's commit to
// sha (see git.Changed), read once.
func (c *cacheImage) changes(ctx context.Context, dir, sha string) ([]git.Change, error) {
	c.diffOnce.Do(func() {
		if c.revision == "" {
			c.diffErr = errors.New("the cache image names no commit")
			return
		}
		if d, ok, err := c.earlyRead(); ok {
			c.diff, c.diffErr = d.changes, err
			return
		}
		c.diff, c.diffErr = git.Changed(ctx, dir, c.revision, sha)
	})
	return c.diff, c.diffErr
}

// read is changes with the bodies before that the class index scans (see
// diffRead), read once with the diff when it was started early.
func (c *cacheImage) read(ctx context.Context, dir, sha string) (diffRead, error) {
	if d, ok, err := c.earlyRead(); ok {
		return d, err
	}
	changes, err := c.changes(ctx, dir, sha)
	if err != nil {
		return diffRead{}, err
	}
	return withBodies(ctx, dir, changes), nil
}

func (c *cacheImage) layer(name, key string) (v1.Layer, bool) {
	cl, ok := c.layers[name]
	if !ok || cl.Key != key {
		return nil, false
	}
	h, err := v1.NewHash(cl.Digest)
	if err != nil {
		return nil, false
	}
	l, err := c.img.LayerByDigest(h)
	if err != nil {
		return nil, false
	}
	if d, err := v1.NewHash(cl.DiffID); err == nil {
		return knownDiffID{Layer: l, diffID: d}, true
	}
	return l, true
}

// blobs are the digests of the cache image's layers and config: blobs its
// repo holds.
func (c *cacheImage) blobs() []v1.Hash {
	m, err := c.img.Manifest()
	if err != nil {
		return nil
	}
	hs := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		hs = append(hs, l.Digest)
	}
	return hs
}

// withKnownBlobs is an image that says which of its blobs a repo already
// holds (see Push).
type withKnownBlobs struct {
	v1.Image
	known []v1.Hash
}

func (i withKnownBlobs) KnownBlobs() []v1.Hash { return i.known }

// earlyReads are the target repo reads a build starts as soon as git names
// HEAD and its parent, while the rest of git and the runtime manifest are
// read: whether HEAD's SHA tag is there (for WithSkipExisting), and the
// parent's image with what changed since, on the guess that the cache
// image is the parent's, the usual case of a CI build. Neither needs the
// repo's tags listed.
type earlyReads struct {
	head, parent string
	// headTag is HEAD's SHA tag, read when skipping existing builds.
	headTag *par.Future[*v1.Descriptor]
	// image and diff are the parent's, when it is looked for.
	image *par.Future[*remote.Descriptor]
	diff  *par.Future[diffRead]
}

// readEarly is the callback of git.ReadCommitEarly that starts o.early;
// nil when there is no target repo to read.
func (o *options) readEarly(ctx context.Context, dir string) func(head, parent string) {
	if o.target == nil || o.early != nil {
		return nil
	}
	var once sync.Once
	return func(head, parent string) {
		once.Do(func() {
			e := &earlyReads{head: head, parent: parent}
			if o.skipExisting {
				tag := o.target.Tag(head)
				e.headTag = par.Go(func() (*v1.Descriptor, error) { return remote.Head(tag, o.remoteWith(ctx)...) })
			}
			if parent != "" && o.cacheFrom == nil && !o.noCache {
				tag := o.target.Tag(parent)
				e.image = par.Go(func() (*remote.Descriptor, error) { return remote.Get(tag, o.remoteWith(ctx)...) })
				headTag := e.headTag
				e.diff = par.Go(func() (diffRead, error) {
					// A commit whose SHA tag is there is not built again
					// (see existing): its diff would be two git processes
					// for nothing, beside the six that read the commit. The
					// tag's answer comes while those run.
					if headTag != nil {
						if _, err := headTag.Wait(); err == nil {
							return diffRead{}, errBuiltAlready
						}
					}
					return readDiff(ctx, dir, parent, head)
				})
			}
			o.early = e
		})
	}
}

// parentImage is the parent's image as read early, when it was, for commit:
// nil when it was not read or the parent has none.
func (o *options) parentImage(commit *git.Commit) (*remote.Descriptor, error) {
	e := o.early
	if e == nil || e.image == nil || e.head != commit.SHA || len(commit.Ancestors) == 0 || e.parent != commit.Ancestors[0] {
		return nil, nil
	}
	desc, err := e.image.Wait()
	if notFound(err) {
		return nil, nil
	}
	return desc, err
}

// holdsTags waits for the early read of the parent's image, and reports
// whether it found one: the target repo then holds tags.
func (o *options) holdsTags() bool {
	if o.early == nil || o.early.image == nil {
		return false
	}
	_, err := o.early.image.Wait()
	return err == nil
}

// nearestImage is the nearest ancestor of commit whose SHA tag is in the
// target repo, from its tags; "" when none is, or the repo is new.
func (o *options) nearestImage(ctx context.Context, commit *git.Commit) (string, error) {
	tags, err := o.listTags(ctx).Wait()
	if err != nil {
		if notFound(err) {
			return "", nil // a new repo
		}
		return "", transient.Classify(fmt.Errorf("listing tags of %s: %w", o.target, err))
	}
	have := map[string]bool{}
	for _, t := range tags {
		have[t] = true
	}
	for _, sha := range commit.Ancestors {
		if have[sha] {
			return sha, nil
		}
	}
	return "", nil
}

// cacheImage finds the image to reuse layers from: the one named by
// WithCacheFrom, or else the image of the nearest ancestor commit that has
// a SHA tag in the target repo. Neither existing is not an error: every
// layer is built.
func (o *options) cacheImage(ctx context.Context, dir string, commit *git.Commit) (*cacheImage, error) {
	var early *par.Future[diffRead]
	earlyFrom := ""
	if o.noCache {
		return nil, nil
	}
	ref := o.cacheFrom
	var desc *remote.Descriptor
	if ref == nil && o.target != nil {
		// The parent's image, read early: the usual case.
		var err error
		if desc, err = o.parentImage(commit); err != nil {
			return nil, transient.Classify(fmt.Errorf("reading cache image %s: %w", o.target.Tag(commit.Ancestors[0]), err))
		}
		if desc != nil {
			ref = o.target.Tag(o.early.parent)
			if !commit.Dirty {
				earlyFrom, early = o.early.parent, o.early.diff
			}
		} else if sha, err := o.nearestImage(ctx, commit); err != nil {
			return nil, err
		} else if sha != "" {
			ref = o.target.Tag(sha)
			// Its image was built from sha: what changed since is read
			// while the image is.
			if !commit.Dirty {
				earlyFrom = sha
				early = par.Go(func() (diffRead, error) { return readDiff(ctx, dir, sha, commit.SHA) })
			}
		}
	}
	if ref == nil {
		return nil, nil
	}
	if desc == nil {
		var err error
		if desc, err = remote.Get(ref, o.remoteWith(ctx)...); err != nil {
			if notFound(err) {
				return nil, nil
			}
			return nil, transient.Classify(fmt.Errorf("reading cache image %s: %w", ref, err))
		}
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading cache image %s: %w", ref, err)
	}
	labels, err := buildLabels(img)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading cache image %s config: %w", ref, err))
	}
	c := &cacheImage{ref: ref.Context().Digest(desc.Digest.String()), img: img, layers: map[string]cachedLayer{}, early: early, earlyFrom: earlyFrom}
	if rev := labels[labelRevision]; isSHA(rev) {
		c.revision = rev
	}
	if v := labels[AnnotationSBOM]; v != "" {
		_ = json.Unmarshal([]byte(v), &c.sbom) // unreadable: made again
	}
	var cls []cachedLayer
	if err := json.Unmarshal([]byte(labels[LabelLayers]), &cls); err != nil {
		return nil, nil // not a phpbuild image: nothing to reuse
	}
	for _, cl := range cls {
		c.layers[cl.Name] = cl
	}
	return c, nil
}

// buildLabels are what a cache image says about its build: the revision
// and the layers. The manifest's annotations say it, with no request more,
// in images built since they do; the config's labels say it in all.
func buildLabels(img v1.Image) (map[string]string, error) {
	if m, err := img.Manifest(); err == nil && m.Annotations[LabelLayers] != "" {
		return m.Annotations, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return cf.Config.Labels, nil
}

// labelRevision is the OCI annotation, and label, naming the commit.
const labelRevision = "org.opencontainers.image.revision"

func notFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound
}

// imageMeta is what the image config says about the build.
type imageMeta struct {
	commit   *git.Commit
	plan     *Plan
	env      []string
	source   string
	runImage string
	// processes is the process table's JSON, for the label a release
	// reads; nil for an app that runs web alone.
	processes []byte
	// sbom is the SBOM the image gets, for AnnotationSBOM.
	sbom sbomNote
}

// assemble appends the app layers to the run image and sets the config:
// the launcher as entrypoint, the app user, the port, SIGQUIT (php-fpm's
// and nginx's graceful stop), OCI labels, and the layer keys.
func assemble(base v1.Image, layersAdded []added, m imageMeta) (v1.Image, error) {
	created := v1.Time{Time: m.commit.Time}
	img := base
	var cached []cachedLayer
	for _, a := range layersAdded {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:     a.layer,
			MediaType: types.OCILayer,
			History: v1.History{
				Created:   created,
				CreatedBy: "phpbuild: " + a.ev.Name + " layer",
				Comment:   "key " + a.ev.Key,
			},
		})
		if err != nil {
			return nil, err
		}
		diffID, err := a.layer.DiffID()
		if err != nil {
			return nil, err
		}
		cached = append(cached, cachedLayer{Name: a.ev.Name, Key: a.ev.Key, Digest: a.ev.Digest, Index: a.index, DiffID: diffID.String()})
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := *cf.Config.DeepCopy()
	cfg.Env = envlist.Set(cfg.Env, m.env, nil)
	port := "8080"
	for _, e := range cfg.Env {
		if v, ok := strings.CutPrefix(e, "PORT="); ok {
			port = v
		}
	}
	if _, err := strconv.Atoi(port); err != nil {
		return nil, fmt.Errorf("image PORT %q is not a number", port)
	}
	cfg.Entrypoint = []string{runtimes.LauncherPath}
	cfg.Cmd = nil
	cfg.User = fmt.Sprintf("%d:%d", runtimes.AppUID, runtimes.AppUID)
	cfg.WorkingDir = layers.AppPath
	cfg.ExposedPorts = map[string]struct{}{port + "/tcp": {}}
	cfg.StopSignal = "SIGQUIT"
	cfg.Volumes = map[string]struct{}{runtimes.RunDir: {}}
	// Docker and Swarm run it; a release tunes the timings per environment.
	cfg.Healthcheck = &v1.HealthConfig{
		Test:        []string{"CMD", runtimes.LauncherPath, "health"},
		Interval:    10 * time.Second,
		Timeout:     5 * time.Second,
		StartPeriod: 5 * time.Second,
		Retries:     3,
	}
	keys, err := json.Marshal(cached)
	if err != nil {
		return nil, err
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	oci := ociAnnotations(m)
	for k, v := range oci {
		cfg.Labels[k] = v
	}
	cfg.Labels[LabelLayers] = string(keys)
	cfg.Labels[LabelRunImage] = m.runImage
	if len(m.processes) > 0 {
		cfg.Labels[processes.Label] = string(m.processes)
	}
	b, err := json.Marshal(writableOf(m.plan))
	if err != nil {
		return nil, err
	}
	cfg.Labels[runtimes.LabelWritable] = string(b)
	if img, err = mutate.Config(img, cfg); err != nil {
		return nil, err
	}
	if img, err = mutate.CreatedAt(img, created); err != nil {
		return nil, err
	}
	// The layers as an annotation too: the next build reads them from the
	// manifest, without fetching the config (see buildLabels).
	oci[LabelLayers] = string(keys)
	if m.sbom.Digest != "" {
		note, err := json.Marshal(m.sbom)
		if err != nil {
			return nil, err
		}
		oci[AnnotationSBOM] = string(note)
	}
	annotated, ok := mutate.Annotations(img, oci).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the manifest")
	}
	from, err := base.Layers()
	if err != nil {
		return nil, err
	}
	for _, a := range layersAdded {
		from = append(from, a.layer)
	}
	return freeze(annotated, from)
}

// frozen is an assembled image with its config, manifest and layers
// serialized and listed once. go-containerregistry's mutate serializes the
// config again each time its digest is asked, which every layer lookup
// and layer list does: on a code change, that was the push's largest CPU
// cost, on a CI runner's two cores shared with the registry.
type frozen struct {
	v1.Image
	config, manifest   []byte
	configName, digest v1.Hash
	layers             []v1.Layer
	byDigest           map[v1.Hash]v1.Layer
}

// freeze is img frozen; from are layers it holds, looked up by digest
// before img is asked.
func freeze(img v1.Image, from []v1.Layer) (*frozen, error) {
	f := &frozen{Image: img, byDigest: map[v1.Hash]v1.Layer{}}
	var err error
	if f.config, err = img.RawConfigFile(); err != nil {
		return nil, err
	}
	if f.configName, _, err = v1.SHA256(bytes.NewReader(f.config)); err != nil {
		return nil, err
	}
	if f.manifest, err = img.RawManifest(); err != nil {
		return nil, err
	}
	if f.digest, _, err = v1.SHA256(bytes.NewReader(f.manifest)); err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(f.manifest))
	if err != nil {
		return nil, err
	}
	for _, l := range from {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		f.byDigest[d] = l
	}
	for _, desc := range m.Layers {
		l, ok := f.byDigest[desc.Digest]
		if !ok {
			if l, err = img.LayerByDigest(desc.Digest); err != nil {
				return nil, err
			}
			f.byDigest[desc.Digest] = l
		}
		f.layers = append(f.layers, l)
	}
	return f, nil
}

func (f *frozen) RawConfigFile() ([]byte, error) { return f.config, nil }
func (f *frozen) ConfigName() (v1.Hash, error)   { return f.configName, nil }
func (f *frozen) RawManifest() ([]byte, error)   { return f.manifest, nil }
func (f *frozen) Digest() (v1.Hash, error)       { return f.digest, nil }
func (f *frozen) Size() (int64, error)           { return int64(len(f.manifest)), nil }
func (f *frozen) Layers() ([]v1.Layer, error)    { return slices.Clone(f.layers), nil }

func (f *frozen) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if h == f.configName {
		return partial.ConfigLayer(f)
	}
	if l, ok := f.byDigest[h]; ok {
		return l, nil
	}
	return f.Image.LayerByDigest(h)
}

func ociAnnotations(m imageMeta) map[string]string {
	a := map[string]string{
		labelRevision:                      m.commit.SHA,
		"org.opencontainers.image.version": m.commit.Version,
		"org.opencontainers.image.created": m.commit.Time.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if m.commit.Dirty {
		a[labelRevision] = m.commit.SHA + "-dirty"
	}
	if m.commit.Subject != "" {
		a[AnnotationSubject] = m.commit.Subject
	}
	if m.source != "" {
		a["org.opencontainers.image.source"] = m.source
	}
	return a
}

// readsVendor reports whether a layer of toMake dumps composer's
// autoloader, which runs over the vendor dir.
func readsVendor(toMake []layers.Layer) bool {
	for _, l := range toMake {
		switch l := l.(type) {
		case *layers.Autoload:
			return true
		case *layers.App:
			if l.Vendor != nil {
				return true
			}
		}
	}
	return false
}

// vendorImage is an image holding only vendor, the vendor layer reused
// from prev, put by digest (no tag) in the target repo, or prev's when
// there is none to push to. A step that reads the vendor dir then pulls
// that one layer into a fresh buildkitd, not the whole previous image:
// its runtime layers, assets and code. Its blob is in the registry
// already, so the push sends a config and a manifest.
func (o *options) vendorImage(ctx context.Context, prev *cacheImage, vendor v1.Layer) (string, error) {
	repo := prev.ref.Context()
	if o.target != nil {
		repo = *o.target
	}
	cf, err := prev.img.ConfigFile()
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), vendor)
	if err != nil {
		return "", err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	vcf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	vcf = vcf.DeepCopy()
	vcf.OS, vcf.Architecture, vcf.Variant = cf.OS, cf.Architecture, cf.Variant
	if img, err = mutate.ConfigFile(img, vcf); err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := repo.Digest(d.String())
	if err := remote.Write(ref, img, o.remoteWith(ctx)...); err != nil {
		return "", transient.Classify(fmt.Errorf("putting the vendor layer's image in %s: %w", repo, err))
	}
	return ref.String(), nil
}

// writableOf is the image's writable dirs, and Volt's compiled dir when it
// lies inside one of them: a release keeps that dir's precompiled
// templates, read-only, under the tmpfs it mounts on the writable dir.
func writableOf(p *Plan) runtimes.Writable {
	w := runtimes.Writable{Dirs: []string{}}
	for _, d := range p.App.Writable {
		w.Dirs = append(w.Dirs, path.Join(layers.AppPath, d))
	}
	for _, o := range p.App.Volt.Options {
		v, _ := o.Value.(string)
		if o.Name != "path" || v == "" {
			continue
		}
		dir := path.Clean(v)
		if !strings.HasSuffix(v, "/") {
			dir = path.Dir(dir)
		}
		for _, d := range w.Dirs {
			if strings.HasPrefix(dir, d+"/") {
				w.Kept = append(w.Kept, dir)
				break
			}
		}
	}
	return w
}
