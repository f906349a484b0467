package build

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/internal/par"
)

// TestSBOMCarry: a build carries the cache image's SBOM only when what the
// SBOM is made from is the same (the runtime's SBOM by digest, the
// lockfiles, the app's name, phpbuild's version); then it reads nothing,
// and the carried document reads its bytes from the cache image's repo
// only when asked. Any other change makes the SBOM again, from the
// runtime's SBOM, and gives the same bytes as a build without a cache.
func TestSBOMCarry(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	rtRepo, err := name.NewRepository(host + "/team/runtimes")
	if err != nil {
		t.Fatal(err)
	}
	target, err := name.NewRepository(host + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	runSBOM := static.NewLayer([]byte(`{"bomFormat":"CycloneDX","specVersion":"1.7","components":[]}`), attest.SBOMType)
	if err := remote.WriteLayer(rtRepo, runSBOM); err != nil {
		t.Fatal(err)
	}
	h, err := runSBOM.Digest()
	if err != nil {
		t.Fatal(err)
	}
	app, rt, _, _ := testApp(t, "plain")
	rt.SBOM = rtRepo.Digest(h.String()).String()
	ctx := context.Background()
	o, err := newOptions([]Option{WithTarget(target)})
	if err != nil {
		t.Fatal(err)
	}
	sbom := func(prev *cacheImage) *appSBOM {
		t.Helper()
		got, err := o.sbom(ctx, app, rt, par.Go(func() (*cacheImage, error) { return prev, nil })).Wait()
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	made := sbom(nil)
	if made.doc.Body == nil || made.known || made.note.Key == "" {
		t.Fatalf("without a cache image: %+v, want the SBOM made and keyed", made)
	}
	desc, err := made.doc.Descriptor()
	if err != nil || desc.Digest.String() != made.note.Digest || desc.Size != made.note.Size {
		t.Fatalf("note %+v for a document of %+v, %v", made.note, desc, err)
	}
	// The SBOM blob in the cache image's repo, as a push left it.
	if err := remote.WriteLayer(target, made.doc.Layer()); err != nil {
		t.Fatal(err)
	}
	prevRef := target.Digest("sha256:" + strings.Repeat("a", 64))
	carried := sbom(&cacheImage{ref: prevRef, sbom: made.note})
	if carried.doc.Body != nil || !carried.known || carried.note != made.note {
		t.Fatalf("same inputs: %+v, want the cache image's SBOM carried and known in the target repo", carried)
	}
	rc, err := carried.doc.Layer().Compressed()
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != string(made.doc.Body) {
		t.Errorf("the carried SBOM reads %d bytes (%v), want the %d made", len(body), err, len(made.doc.Body))
	}
	// From a cache image in another registry: carried, but not known here.
	// Another registry: the in-memory one shares blobs across its repos.
	empty := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(empty.Close)
	otherRepo, err := name.NewRepository(strings.TrimPrefix(empty.URL, "http://") + "/team/other")
	if err != nil {
		t.Fatal(err)
	}
	other := otherRepo.Digest("sha256:" + strings.Repeat("b", 64))
	got := sbom(&cacheImage{ref: other, sbom: made.note})
	if got.doc.Body != nil || got.known {
		t.Errorf("cache image in another registry: %+v, want carried, not known in the target", got)
	}
	// That registry lacks the blob (as when it collected it): read,
	// it is made again, the same bytes.
	rc, err = got.doc.Layer().Compressed()
	if err != nil {
		t.Fatalf("a carried SBOM gone from the registry: %v", err)
	}
	body, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || string(body) != string(made.doc.Body) {
		t.Errorf("a carried SBOM gone from the registry reads %d bytes (%v), want the %d made", len(body), err, len(made.doc.Body))
	}

	// Each input changed: made again.
	lock := filepath.Join(app.Dir, "composer.lock")
	orig, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func()
		undo   func()
	}{
		{"composer.lock", func() { os.WriteFile(lock, append([]byte(" "), orig...), 0o644) }, func() { os.WriteFile(lock, orig, 0o644) }},
		{"phpbuild's version", func() { o.builder = "v9.9.9" }, func() { o.builder = "dev" }},
		{"the runtime's SBOM", func() { rt.SBOM = rtRepo.Digest("sha256:" + strings.Repeat("c", 64)).String() }, func() { rt.SBOM = rtRepo.Digest(h.String()).String() }},
	} {
		tc.change()
		o2 := *o
		got, err := o2.sbom(ctx, app, rt, par.Go(func() (*cacheImage, error) { return &cacheImage{ref: prevRef, sbom: made.note}, nil })).Wait()
		tc.undo()
		switch {
		case tc.name == "the runtime's SBOM":
			// Not carried, so read: this one is not in the registry.
			if err == nil {
				t.Errorf("%s changed: %+v, want the new runtime SBOM read (and not found)", tc.name, got)
			}
		case err != nil:
			t.Errorf("%s changed: %v", tc.name, err)
		case got.doc.Body == nil || got.note.Key == made.note.Key:
			t.Errorf("%s changed: %+v, want the SBOM made again under another key", tc.name, got)
		}
	}
}
