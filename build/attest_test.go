package build_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/runtimes"
)

// TestAttachments builds the plain app (a composer path package) on the
// test bed and reads its SBOM and provenance back from the registry's
// referrers; then a code change: the SBOM blob is the same and is not
// uploaded again, the provenance names the new commit and layers.
func TestAttachments(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	repo := testRepo(t, "attest")
	first, err := push(ctx, dir, repo, buildOpts(t, rt)...)
	if err != nil {
		t.Fatal(err)
	}
	// The runtime the build resolved, by its run image.
	img, err := remote.Image(repo.Digest(first.Digest))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := runtimes.ReadManifest(ctx, rt)
	if err != nil {
		t.Fatal(err)
	}
	var entry runtimes.Entry
	for _, e := range entries {
		if strings.HasSuffix(cf.Config.Labels[build.LabelRunImage], "@"+e.Run) {
			entry = e
		}
	}
	if entry.SBOM == "" {
		t.Fatalf("the runtime the build used, %s, has no SBOM recorded", cf.Config.Labels[build.LabelRunImage])
	}
	body, err := attest.Read(ctx, repo.Digest(first.Digest), attest.SBOMType)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(body), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var php string
	for _, c := range *bom.Components {
		kind, _, _ := strings.Cut(strings.TrimPrefix(c.PackageURL, "pkg:"), "/")
		count[kind]++
		if c.Name == "php" && c.Group == "" {
			php = c.Version
		}
		if c.PackageURL == "pkg:composer/phpbuild-testdata/greeter@1.0.0" && (c.Licenses == nil || (*c.Licenses)[0].License.ID != "MIT") {
			t.Errorf("greeter: licenses %+v, want MIT", c.Licenses)
		}
	}
	t.Logf("SBOM of the plain app: %d components: %v", len(*bom.Components), count)
	if count["deb"] < 50 || count["composer"] != 1 || count["generic"] < 10 || php != entry.PHP {
		t.Errorf("components %v, PHP %q; want the run image's Debian packages (50 or more), the greeter, PHP %s and its extensions", count, php, entry.PHP)
	}
	for _, want := range []string{"pkg:deb/debian/nginx@", "distro=debian-13", "pkg:generic/php-ext/opcache@" + entry.PHP} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the SBOM has no %q", want)
		}
	}

	write(t, dir, "public/index.php", "<?php\necho 'changed';\n")
	commit(t, dir, "a code change", "2026-01-02T00:00:00Z")
	second, err := push(ctx, dir, repo, buildOpts(t, rt)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Attachments) != 2 || len(second.Attachments) != 2 {
		t.Fatalf("attachments %+v and %+v, want the SBOM and the provenance", first.Attachments, second.Attachments)
	}
	if first.Attachments[0].Type != "sbom" || first.Attachments[0].Digest != second.Attachments[0].Digest {
		t.Errorf("SBOMs %+v and %+v: a code change must leave the SBOM as it was", first.Attachments[0], second.Attachments[0])
	}
	if second.Uploaded.Blobs != 3 {
		t.Errorf("the code change uploaded %d blobs, want 3 (app layer, config, provenance: not the SBOM again)", second.Uploaded.Blobs)
	}
	prov, err := attest.Read(ctx, repo.Digest(second.Digest), attest.ProvenanceType)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			BuildDefinition struct {
				ExternalParameters map[string]any `json:"externalParameters"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Byproducts []struct {
					Name   string            `json:"name"`
					Digest map[string]string `json:"digest"`
				} `json:"byproducts"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(prov, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Subject) != 1 || "sha256:"+st.Subject[0].Digest["sha256"] != second.Digest || st.Predicate.BuildDefinition.ExternalParameters["commit"] != second.SHA {
		t.Errorf("provenance subject %+v, parameters %v; want %s from %s", st.Subject, st.Predicate.BuildDefinition.ExternalParameters, second.Digest, second.SHA)
	}
	layers := map[string]string{}
	for _, b := range st.Predicate.RunDetails.Byproducts {
		layers[strings.TrimPrefix(b.Name, "layer ")] = "sha256:" + b.Digest["sha256"]
	}
	for _, l := range second.Layers {
		if layers[l.Name] != l.Digest {
			t.Errorf("provenance gives layer %s as %s, the build %s", l.Name, layers[l.Name], l.Digest)
		}
	}
	// Built again from scratch, the same commit gives the same SBOM bytes.
	again, err := build.Publish(ctx, dir, build.NewRegistry(testRepo(t, "attest-again"), nil), buildOpts(t, rt, build.WithoutCache())...)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Attachments) != 2 || again.Attachments[0].Digest != second.Attachments[0].Digest {
		t.Errorf("--no-cache SBOM %+v, want %+v", again.Attachments, second.Attachments[0])
	}
}
