package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/transient"
)

// Attachment is a document attached to the pushed image as a referrer.
type Attachment struct {
	// Type is "sbom" or "provenance"; ArtifactType the media type.
	Type         string `json:"type"`
	ArtifactType string `json:"artifactType"`
	// Digest is the document's blob digest, Size its bytes.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// AnnotationSBOM is the manifest annotation recording the SBOM attached
// to an image: the key of what it was made from, its digest and size.
// The next build whose key is the same attaches that blob again, without
// reading the runtime's SBOM or making the app's (see sbom).
const AnnotationSBOM = "dev.phpbuild.sbom"

// sbomNote is AnnotationSBOM's value.
type sbomNote struct {
	Key    string `json:"key"`
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// appSBOM is the image's SBOM, made or carried, and the warnings about
// what it lacks.
type appSBOM struct {
	doc  attest.Document
	note sbomNote
	// known is set when the blob is the cache image's and in the target
	// repo already.
	known    bool
	warnings []string
}

// sbom makes the image's SBOM while the build goes on, or carries the
// cache image's when its key is this build's: the same runtime SBOMs (by
// digest), lockfiles, app name, SBOM format and phpbuild version give the
// same bytes, so a code change reads no runtime SBOM and encodes nothing.
func (o *options) sbom(ctx context.Context, app *detect.App, rt *runtimes.Runtime, prevF *par.Future[*cacheImage]) *par.Future[*appSBOM] {
	return par.Go(func() (*appSBOM, error) {
		// The SBOM names the app as composer.json does, not the repo pushed
		// to: the same commit gives the same SBOM wherever it goes.
		in := attest.App{Name: composerName(app)}
		out := &appSBOM{}
		if rt.SBOM == "" {
			out.warnings = append(out.warnings, "the SBOM lists no Debian packages: the runtime was recorded before phpbuild made SBOMs; run `phpbuild runtime build` again to add its SBOM (nothing is rebuilt)")
		}
		if app.Composer != nil && app.Composer.Lock != nil {
			b, err := os.ReadFile(filepath.Join(app.Dir, "composer.lock"))
			if err != nil {
				return nil, err
			}
			in.ComposerLock = b
		}
		if n := app.Node; n != nil && n.Lockfile != "" {
			switch n.Lockfile {
			case "package-lock.json", "npm-shrinkwrap.json":
				b, err := os.ReadFile(filepath.Join(app.Dir, n.Lockfile))
				if err != nil {
					return nil, err
				}
				in.NodeLock = b
			default:
				out.warnings = append(out.warnings, fmt.Sprintf("the SBOM lists no npm packages: phpbuild reads package-lock.json, not %s", n.Lockfile))
			}
		}
		sboms := []string{digestOf(rt.SBOM)}
		for _, p := range rt.Others {
			sboms = append(sboms, digestOf(p.SBOM))
		}
		key, err := json.Marshal(struct {
			Format, Builder, Name  string
			Runtimes               []string
			ComposerLock, NodeLock [sha256.Size]byte
		}{attest.SBOMFormat, o.builder, in.Name, sboms, sha256.Sum256(in.ComposerLock), sha256.Sum256(in.NodeLock)})
		if err != nil {
			return nil, err
		}
		out.note.Key = fmt.Sprintf("sha256:%x", sha256.Sum256(key))
		prev, err := prevF.Wait()
		if err != nil {
			return nil, err
		}
		// makeSBOM makes it from the runtime's and the lockfiles.
		makeSBOM := func() ([]byte, error) {
			in := in
			var err error
			if in.Runtime, err = o.sbomBlob(ctx, rt.SBOM); err != nil {
				return nil, err
			}
			for _, p := range rt.Others {
				if p.SBOM == "" {
					continue
				}
				b, err := o.sbomBlob(ctx, p.SBOM)
				if err != nil {
					return nil, err
				}
				in.Others = append(in.Others, b)
			}
			body, err := attest.AppSBOM(in)
			if err != nil {
				return nil, fmt.Errorf("making the SBOM: %w", err)
			}
			return body, nil
		}
		if prev != nil && prev.sbom.Key == out.note.Key {
			if h, err := v1.NewHash(prev.sbom.Digest); err == nil {
				ref := prev.ref.Context().Digest(h.String())
				out.note = prev.sbom
				out.doc = attest.Carried(attest.SBOMType, h, prev.sbom.Size, func() (io.ReadCloser, error) {
					if l, err := remote.Layer(ref, o.remoteWith(ctx)...); err == nil {
						if rc, err := l.Compressed(); err == nil {
							return rc, nil
						}
					}
					// Gone from the registry (collected with an
					// untagged referrer): the same inputs make it again.
					body, err := makeSBOM()
					if err != nil {
						return nil, err
					}
					if got, _, _ := v1.SHA256(bytes.NewReader(body)); got != h {
						return nil, fmt.Errorf("the SBOM %s is gone from %s, and made again it is %s", h, ref.Context(), got)
					}
					return io.NopCloser(bytes.NewReader(body)), nil
				})
				out.known = o.target != nil && prev.ref.Context().String() == o.target.String()
				return out, nil
			}
		}
		body, err := makeSBOM()
		if err != nil {
			return nil, err
		}
		out.doc = attest.Document{Type: attest.SBOMType, Body: body}
		h, n, err := v1.SHA256(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		out.note.Digest, out.note.Size = h.String(), n
		return out, nil
	})
}

// digestOf is the digest a ref (repo@sha256:…) names: the same blob
// read through another host or repo name is the same input.
func digestOf(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ref
}

// sbomBlob reads a runtime's SBOM, the blob ref (repo@digest) names; nil
// for "".
func (o *options) sbomBlob(ctx context.Context, ref string) ([]byte, error) {
	if ref == "" {
		return nil, nil
	}
	d, err := name.NewDigest(ref)
	if err != nil {
		return nil, fmt.Errorf("runtime manifest: SBOM %q: %w", ref, err)
	}
	l, err := remote.Layer(d, o.remoteWith(ctx)...)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading the runtime's SBOM %s: %w", ref, err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading the runtime's SBOM %s: %w", ref, err))
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("reading the runtime's SBOM %s: %w", ref, err))
	}
	return b, nil
}

// documents are img's SBOM, made or carried (see sbom), and its
// provenance.
func (o *options) documents(img *Image, rt *runtimes.Runtime, sbom attest.Document) ([]attest.Document, error) {
	b := attest.Build{Digest: img.Digest, Commit: img.Commit.SHA, Remote: o.sourceURL, Version: img.Commit.Version, Tags: img.Tags, Builder: o.builder,
		Runtime: map[string]string{"run": rt.RunImage}, Parameters: o.parameters()}
	if o.target != nil {
		b.Image = o.target.String()
	}
	for role, ref := range map[string]string{"build": rt.BuildImage, "composer": rt.ComposerImage, "cli": rt.CLIImage, "node": rt.NodeImage} {
		if ref != "" {
			b.Runtime[role] = ref
		}
	}
	for _, p := range rt.Others {
		b.Runtime["run "+p.Platform] = p.Run
	}
	for _, l := range img.Layers {
		b.Layers = append(b.Layers, attest.Layer{Name: l.Name, Key: l.Key, Digest: l.Digest, Reused: l.Reused})
	}
	prov, err := attest.Provenance(b)
	if err != nil {
		return nil, fmt.Errorf("making the provenance: %w", err)
	}
	return []attest.Document{sbom, {Type: attest.ProvenanceType, Body: prov}}, nil
}

// parameters are the build's options that change what it makes or
// reuses, for provenance.
func (o *options) parameters() map[string]string {
	p := map[string]string{}
	if o.runtimeRepo != nil {
		p["runtimes"] = o.runtimeRepo.String()
	}
	if o.cacheFrom != nil {
		p["cacheFrom"] = o.cacheFrom.String()
	}
	if o.noCache {
		p["noCache"] = "true"
	}
	if o.allowDirty {
		p["allowDirty"] = "true"
	}
	return p
}

// describeAttachments lists docs as Result shows them.
func describeAttachments(docs []attest.Document) []Attachment {
	var out []Attachment
	for _, d := range docs {
		desc, _ := d.Descriptor()
		out = append(out, Attachment{Type: attest.Kind(d.Type), ArtifactType: d.Type, Digest: desc.Digest.String(), Size: desc.Size})
	}
	return out
}

// composerName is composer.json's "name", or "app".
func composerName(app *detect.App) string {
	var cj struct {
		Name string `json:"name"`
	}
	if b, err := os.ReadFile(filepath.Join(app.Dir, "composer.json")); err == nil && json.Unmarshal(b, &cj) == nil && cj.Name != "" {
		return cj.Name
	}
	return "app"
}
