package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

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

// runtimeSBOM reads the run image's SBOM blob while the build goes on;
// nil for a runtime recorded without one.
func (o *options) runtimeSBOM(ctx context.Context, rt *runtimes.Runtime) *par.Future[[]byte] {
	return par.Go(func() ([]byte, error) { return o.sbomBlob(ctx, rt.SBOM) })
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

// documents are img's SBOM and provenance. The SBOM holds nothing that
// changes with every commit (no version, no time), so a code change
// attaches the blob the previous image's SBOM already uploaded.
func (o *options) documents(ctx context.Context, img *Image, app *detect.App, rt *runtimes.Runtime, runSBOM []byte) ([]attest.Document, []string, error) {
	var warnings []string
	// The SBOM names the app as composer.json does, not the repo pushed
	// to: the same commit gives the same SBOM wherever it goes.
	in := attest.App{Name: composerName(app), Runtime: runSBOM}
	for _, p := range rt.Others {
		if p.SBOM == "" {
			continue
		}
		b, err := o.sbomBlob(ctx, p.SBOM)
		if err != nil {
			return nil, nil, err
		}
		in.Others = append(in.Others, b)
	}
	if runSBOM == nil {
		warnings = append(warnings, "the SBOM lists no Debian packages: the runtime was recorded before phpbuild made SBOMs; run `phpbuild runtime build` again to add its SBOM (nothing is rebuilt)")
	}
	if app.Composer != nil && app.Composer.Lock != nil {
		b, err := os.ReadFile(filepath.Join(app.Dir, "composer.lock"))
		if err != nil {
			return nil, nil, err
		}
		in.ComposerLock = b
	}
	if n := app.Node; n != nil && n.Lockfile != "" {
		switch n.Lockfile {
		case "package-lock.json", "npm-shrinkwrap.json":
			b, err := os.ReadFile(filepath.Join(app.Dir, n.Lockfile))
			if err != nil {
				return nil, nil, err
			}
			in.NodeLock = b
		default:
			warnings = append(warnings, fmt.Sprintf("the SBOM lists no npm packages: phpbuild reads package-lock.json, not %s", n.Lockfile))
		}
	}
	sbom, err := attest.AppSBOM(in)
	if err != nil {
		return nil, nil, fmt.Errorf("making the SBOM: %w", err)
	}
	b := attest.Build{Digest: img.Digest, Commit: img.Commit.SHA, Remote: o.sourceURL, Version: img.Commit.Version, Tags: img.Tags, Builder: o.builder,
		Runtime: map[string]string{"run": rt.RunImage}, Parameters: o.parameters()}
	if o.target != nil {
		b.Image = o.target.String()
	}
	for role, ref := range map[string]string{"build": rt.BuildImage, "composer": rt.ComposerImage, "cli": rt.CLIImage} {
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
		return nil, nil, fmt.Errorf("making the provenance: %w", err)
	}
	return []attest.Document{{Type: attest.SBOMType, Body: sbom}, {Type: attest.ProvenanceType, Body: prov}}, warnings, nil
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
		h, n, _ := v1.SHA256(bytes.NewReader(d.Body))
		out = append(out, Attachment{Type: attest.Kind(d.Type), ArtifactType: d.Type, Digest: h.String(), Size: n})
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
