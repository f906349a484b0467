package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
)

// TestSBOMCommand: `phpbuild sbom IMAGE` prints the attached SBOM by tag or
// by digest; an image without provenance, and an image that is not
// there, are one line and exit 2.
func TestSBOMCommand(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag("1.0.0"), img); err != nil {
		t.Fatal(err)
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		t.Fatal(err)
	}
	sbom := `{"bomFormat": "CycloneDX", "specVersion": "1.7"}`
	if err := attest.Attach(context.Background(), repo, *desc, []attest.Document{{Type: attest.SBOMType, Body: []byte(sbom)}}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{repo.Tag("1.0.0").String(), repo.Digest(desc.Digest.String()).String()} {
		stdout, stderr, code := runMain(t, "sbom", ref)
		if code != 0 || stdout != sbom {
			t.Errorf("phpbuild sbom %s: exit %d, stdout %q, stderr %q; want the SBOM", ref, code, stdout, stderr)
		}
	}
	stdout, stderr, code := runMain(t, "provenance", repo.Tag("1.0.0").String())
	checkBadInput(t, stdout, stderr, code, []string{"has no provenance attached"}, false)
	stdout, stderr, code = runMain(t, "sbom", repo.Tag("2.0.0").String())
	checkBadInput(t, stdout, stderr, code, []string{"no such image in the registry"}, false)
}
