package build

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/envlist"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// Rebased is what Rebase did.
type Rebased struct {
	// From and Digest are the image's digest before and after; equal,
	// with Unchanged, when it was on the newest runtime already.
	From      string `json:"from"`
	Digest    string `json:"digest"`
	Unchanged bool   `json:"unchanged"`
	// FromRuntime and ToRuntime are the run images, repo@digest.
	FromRuntime string `json:"fromRuntime"`
	ToRuntime   string `json:"toRuntime"`
	// Refs are repo:tag@digest for every tag moved.
	Refs []string `json:"refs"`
	// AppLayers are the layers above the runtime's, kept as they were.
	AppLayers   int          `json:"appLayers"`
	Attachments []Attachment `json:"attachments"`
	Warnings    []string     `json:"warnings"`
}

// ErrNotPhpbuildImage is an image phpbuild did not build: it names no run
// image to rebase from.
var ErrNotPhpbuildImage = errors.New("not an image phpbuild built")

// Rebase moves the app image ref onto the newest runtime recorded after
// its own with the same PHP minor, Phalcon version and extensions (in
// the repo WithRuntimeRepo names, by default the one its run image is
// in), without running any step: the runtime's layers are swapped under
// the app's, which keep their digests; the config keeps the commit time,
// labels and env the app set, and names the new run image. The image's
// SHA and semver tags then point at the result, with a new SBOM and a
// provenance of the rebase attached.
func Rebase(ctx context.Context, ref name.Reference, opts ...Option) (*Rebased, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	repo := ref.Context()
	desc, err := remote.Get(ref, o.remoteWith(ctx)...)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading %s: %w", ref, err))
	}
	// An index (one image per platform) is rebased image by image, each
	// onto the new runtime's run image for its platform.
	images, platformsOf, oldIndex, err := platformImages(desc)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading %s: %w", ref, err))
	}
	runs := make([]name.Digest, len(images))
	for i, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, transient.Classify(fmt.Errorf("reading %s: %w", ref, err))
		}
		run := cf.Config.Labels[LabelRunImage]
		if run == "" {
			return nil, &badinput.Error{Field: "IMAGE", Err: fmt.Errorf("%s: %w (it has no %s label)", ref, ErrNotPhpbuildImage, LabelRunImage)}
		}
		if runs[i], err = name.NewDigest(run); err != nil {
			return nil, fmt.Errorf("%s: its %s label %q: %w", ref, LabelRunImage, run, err)
		}
	}
	oldRef := runs[0]
	fromRun := oldRef.String()
	oldEntries, err := runtimes.ReadManifest(ctx, oldRef.Context(), o.remoteWith(ctx)...)
	if err != nil {
		return nil, transient.Classify(err)
	}
	from, ok := runtimes.ByRun(oldEntries, oldRef.DigestStr())
	if !ok {
		return nil, &badinput.Error{Field: "IMAGE", Err: fmt.Errorf("%s runs on %s, which the runtime repo %s no longer records: its PHP, Phalcon and extensions are unknown, so only a build can move it", ref, fromRun, oldRef.Context())}
	}
	rtRepo := oldRef.Context()
	entries := oldEntries
	if o.runtimeRepo != nil && o.runtimeRepo.String() != rtRepo.String() {
		rtRepo = *o.runtimeRepo
		if entries, err = runtimes.ReadManifest(ctx, rtRepo, o.remoteWith(ctx)...); err != nil {
			return nil, transient.Classify(err)
		}
	}
	to, ok := runtimes.Newer(from, entries)
	if o.rebaseTo != "" {
		to, ok = runtimes.Pick(entries, o.rebaseTo)
		if !ok {
			return nil, &badinput.Error{Field: "--runtime", Err: fmt.Errorf("%s: no runtime in %s has that key or run image", o.rebaseTo, rtRepo)}
		}
		if err := runtimes.Compatible(from, to); err != nil {
			return nil, &badinput.Error{Field: "--runtime", Err: err}
		}
	}
	res := &Rebased{From: desc.Digest.String(), Digest: desc.Digest.String(), FromRuntime: fromRun, ToRuntime: fromRun, Refs: []string{}, Attachments: []Attachment{}, Warnings: []string{}}
	if !ok || to.Run == from.Run {
		res.Unchanged = true
		return res, nil
	}
	res.ToRuntime = rtRepo.Digest(to.Run).String()
	newRuns := map[string]string{to.NativePlatform(): to.Run}
	for _, p := range to.Platforms {
		newRuns[p.Platform] = p.Run
	}

	rebased := make([]v1.Image, len(images))
	for i, img := range images {
		p := platformsOf[i]
		if p == "" {
			p = to.NativePlatform()
		}
		newRun, ok := newRuns[p]
		if !ok {
			return nil, &badinput.Error{Field: "IMAGE", Err: fmt.Errorf("%s has a %s image and the runtime %s has no %s run image: build the commit again instead", ref, p, to.Key, p)}
		}
		oldBase, err := remote.Image(runs[i], o.remoteWith(ctx)...)
		if err != nil {
			return nil, transient.Classify(fmt.Errorf("reading run image %s: %w", runs[i], err))
		}
		newBase, err := remote.Image(rtRepo.Digest(newRun), o.remoteWith(ctx)...)
		if err != nil {
			return nil, transient.Classify(fmt.Errorf("reading run image %s: %w", newRun, err))
		}
		var appLayers int
		if rebased[i], appLayers, err = rebaseOnto(img, oldBase, newBase, rtRepo.Digest(newRun).String()); err != nil {
			return nil, fmt.Errorf("rebasing %s (%s): %w", ref, p, err)
		}
		if i == 0 {
			res.AppLayers = appLayers
		}
	}
	out := rebased[0]
	var subject partial.Describable = out
	if oldIndex != nil {
		idx, err := reindex(oldIndex, rebased)
		if err != nil {
			return nil, err
		}
		out, subject = multiPlatform{Image: rebased[0], index: idx}, idx
	}
	d, err := subject.Digest()
	if err != nil {
		return nil, err
	}
	res.Digest = d.String()

	m, err := images[0].Manifest()
	if err != nil {
		return nil, err
	}
	var tags []string
	if v := m.Annotations["org.opencontainers.image.version"]; v != "" {
		tags = append(tags, v)
	}
	if sha := m.Annotations[labelRevision]; isSHA(sha) {
		tags = append(tags, sha)
	}
	if t, ok := ref.(name.Tag); ok && !slices.Contains(tags, t.TagStr()) {
		tags = append([]string{t.TagStr()}, tags...)
	}
	docs, warnings, err := o.rebaseDocuments(ctx, repo.Digest(desc.Digest.String()), rtRepo, to, d, m.Annotations, tags)
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warnings...)
	refs, err := Push(ctx, out, repo, tags, docs, nil, o.remoteWith(ctx)...)
	if err != nil {
		return nil, err
	}
	res.Refs = refs
	res.Attachments = describeAttachments(docs)
	return res, nil
}

// platformImages are the images desc names, with their platforms ("" for
// a lone image), and the index when it is one.
func platformImages(desc *remote.Descriptor) ([]v1.Image, []string, v1.ImageIndex, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, nil, nil, err
		}
		return []v1.Image{img}, []string{""}, nil, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, nil, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, nil, err
	}
	var images []v1.Image
	var platforms []string
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, nil, err
		}
		p := ""
		if d.Platform != nil {
			p = d.Platform.OS + "/" + d.Platform.Architecture
		}
		images, platforms = append(images, img), append(platforms, p)
	}
	if len(images) == 0 {
		return nil, nil, nil, errors.New("an empty index")
	}
	return images, platforms, idx, nil
}

// reindex is old with each image replaced by its rebased one, in order,
// keeping the descriptors' platforms and the index's annotations.
func reindex(old v1.ImageIndex, images []v1.Image) (v1.ImageIndex, error) {
	im, err := old.IndexManifest()
	if err != nil {
		return nil, err
	}
	var adds []mutate.IndexAddendum
	for i, d := range im.Manifests {
		adds = append(adds, mutate.IndexAddendum{Add: images[i], Descriptor: v1.Descriptor{Platform: d.Platform}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	annotated, ok := mutate.Annotations(idx, im.Annotations).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index")
	}
	return annotated, nil
}

// rebaseOnto is ggcr's mutate.Rebase made to keep what phpbuild's images
// say: OCI media types, the commit time, the manifest's annotations, the
// env the app set over the run image's (a variable the app left as the old
// run image had it takes the new run image's value), and the new run image
// in LabelRunImage.
func rebaseOnto(orig, oldBase, newBase v1.Image, newRun string) (v1.Image, int, error) {
	img, err := mutate.Rebase(orig, oldBase, newBase)
	if err != nil {
		return nil, 0, err
	}
	ocf, err := orig.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	obf, err := oldBase.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	nbf, err := newBase.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, 0, err
	}
	cf = cf.DeepCopy()
	cf.Config.Env = envlist.Set(nbf.Config.Env, appEnv(ocf.Config.Env, obf.Config.Env), nil)
	cf.Config.Labels[LabelRunImage] = newRun
	cf.Created = ocf.Created
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, 0, err
	}
	m, err := orig.Manifest()
	if err != nil {
		return nil, 0, err
	}
	// Not the SBOM's: the rebased image gets another (see rebaseDocuments).
	kept := maps.Clone(m.Annotations)
	delete(kept, AnnotationSBOM)
	annotated, ok := mutate.Annotations(img, kept).(v1.Image)
	if !ok {
		return nil, 0, errors.New("annotating the manifest")
	}
	ol, err := orig.Layers()
	if err != nil {
		return nil, 0, err
	}
	bl, err := oldBase.Layers()
	if err != nil {
		return nil, 0, err
	}
	return annotated, len(ol) - len(bl), nil
}

// appEnv is the part of env the app set: every variable the run image
// did not have with the same value.
func appEnv(env, base []string) []string {
	had := map[string]bool{}
	for _, e := range base {
		had[e] = true
	}
	var out []string
	for _, e := range env {
		if !had[e] {
			out = append(out, e)
		}
	}
	return out
}

// rebaseDocuments are the rebased image's SBOM, the old one's composer and
// npm packages over the new runtime's (each platform's), and the rebase's
// provenance, for the image or index digest d.
func (o *options) rebaseDocuments(ctx context.Context, old name.Digest, rtRepo name.Repository, to runtimes.Entry, d v1.Hash, annotations map[string]string, tags []string) ([]attest.Document, []string, error) {
	var warnings []string
	var docs []attest.Document
	if to.SBOM == "" {
		warnings = append(warnings, "the new runtime has no SBOM recorded: the image gets none; run `phpbuild runtime build` with its flags again to add it")
	} else {
		sboms := []string{to.SBOM}
		for _, p := range to.Platforms {
			if p.SBOM != "" {
				sboms = append(sboms, p.SBOM)
			}
		}
		var rts [][]byte
		for _, s := range sboms {
			rt, err := o.sbomBlob(ctx, rtRepo.Digest(s).String())
			if err != nil {
				return nil, nil, err
			}
			rts = append(rts, rt)
		}
		app, err := attest.Read(ctx, old, attest.SBOMType, o.remoteWith(ctx)...)
		switch {
		case errors.Is(err, attest.ErrNone):
			warnings = append(warnings, "the image had no SBOM: the new one lists the runtime's components only")
			app = []byte(`{"bomFormat": "CycloneDX", "specVersion": "1.7"}`)
		case err != nil:
			return nil, nil, transient.Classify(err)
		}
		sbom, err := attest.Rebased(app, rts...)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, attest.Document{Type: attest.SBOMType, Body: sbom})
	}
	b := attest.Build{Image: old.Context().String(), Digest: d, Commit: annotations[labelRevision], Version: annotations["org.opencontainers.image.version"],
		Tags: tags, Builder: o.builder, Remote: annotations["org.opencontainers.image.source"], RebasedFrom: old.String(),
		Runtime: map[string]string{"run": rtRepo.Digest(to.Run).String()}}
	for _, p := range to.Platforms {
		b.Runtime["run "+p.Platform] = rtRepo.Digest(p.Run).String()
	}
	prov, err := attest.Provenance(b)
	if err != nil {
		return nil, nil, err
	}
	return append(docs, attest.Document{Type: attest.ProvenanceType, Body: prov}), warnings, nil
}

// OutdatedTag is one tag of an app repo whose runtime has a newer build it
// can be rebased onto.
type OutdatedTag struct {
	Tag string `json:"tag"`
	// Runtime is the run image it is on, repo@digest; Newer the one
	// Rebase would move it onto, and NewerBuilt when that was built.
	Runtime    string `json:"runtime"`
	Newer      string `json:"newer"`
	NewerBuilt string `json:"newerBuilt"`
}

// Outdated lists repo's tags whose runtime has a newer compatible build
// (see Rebase), in tag order. Tags of images phpbuild did not build, and
// the referrers tags (sha256-HEX), are skipped.
func Outdated(ctx context.Context, repo name.Repository, opts ...Option) ([]OutdatedTag, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(repo, o.remoteWith(ctx)...)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("listing the tags of %s: %w", repo, err))
	}
	tags = slices.DeleteFunc(tags, attest.IsReferrersTag)
	sort.Strings(tags)
	runs := make([]string, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, t := range tags {
		g.Go(func() error {
			img, err := remote.Image(repo.Tag(t), o.remoteWith(gctx)...)
			if err != nil {
				return transient.Classify(fmt.Errorf("reading %s: %w", repo.Tag(t), err))
			}
			cf, err := img.ConfigFile()
			if err != nil {
				return transient.Classify(fmt.Errorf("reading %s: %w", repo.Tag(t), err))
			}
			runs[i] = cf.Config.Labels[LabelRunImage]
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	manifests := map[string][]runtimes.Entry{}
	entriesOf := func(r name.Repository) ([]runtimes.Entry, error) {
		if e, ok := manifests[r.String()]; ok {
			return e, nil
		}
		e, err := runtimes.ReadManifest(ctx, r, o.remoteWith(ctx)...)
		if err != nil {
			return nil, transient.Classify(err)
		}
		manifests[r.String()] = e
		return e, nil
	}
	var out []OutdatedTag
	for i, t := range tags {
		run, err := name.NewDigest(runs[i])
		if err != nil {
			continue // not a phpbuild image
		}
		own, err := entriesOf(run.Context())
		if err != nil {
			return nil, err
		}
		from, ok := runtimes.ByRun(own, run.DigestStr())
		if !ok {
			continue
		}
		candidates, rtRepo := own, run.Context()
		if o.runtimeRepo != nil {
			rtRepo = *o.runtimeRepo
			if candidates, err = entriesOf(rtRepo); err != nil {
				return nil, err
			}
		}
		if to, ok := runtimes.Newer(from, candidates); ok {
			out = append(out, OutdatedTag{Tag: t, Runtime: runs[i], Newer: rtRepo.Digest(to.Run).String(), NewerBuilt: to.Built})
		}
	}
	if out == nil {
		out = []OutdatedTag{}
	}
	return out, nil
}
