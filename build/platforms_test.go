package build_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/testbed"
)

// TestMultiPlatform builds the assets app on a runtime with run images for
// linux/amd64 and linux/arm64: one image index, one manifest per
// platform, the app-side layers the same blobs in both; the amd64 image
// runs natively and the arm64 one under QEMU, and both serve the same
// page. A code change then builds and uploads one app layer, once.
func TestMultiPlatform(t *testing.T) {
	if os.Getenv("PHPBUILD_SLOW") == "" {
		t.Skip("SKIPPED, NOT PASSED: the arm64 runtime builds under QEMU for about 20 minutes on a fresh machine; `make test-slow` runs this test")
	}
	rt := buildtest.MultiPlatformRuntimes(t)
	cat, err := buildtest.MultiPlatformCatalog(testbed.MultiPlatformBase(t, "trixie"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	dir := gitApp(t, "assets")
	repo := testRepo(t, "multi")
	opts := buildOpts(t, rt, build.WithCatalog(cat))
	first, err := push(ctx, dir, repo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(repo.Digest(first.Digest))
	if err != nil {
		t.Fatalf("the pushed digest is not an index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var platforms []string
	app := map[string][]string{} // platform → the app-side layer digests
	for _, d := range im.Manifests {
		p := d.Platform.OS + "/" + d.Platform.Architecture
		platforms = append(platforms, p)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s manifest's config says %s", p, cf.Architecture)
		}
		ls := layerDigests(t, img)
		app[p] = ls[len(ls)-len(first.Layers):]
	}
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Fatalf("index platforms %v, want linux/amd64 and linux/arm64", platforms)
	}
	if !slices.Equal(app["linux/amd64"], app["linux/arm64"]) {
		t.Errorf("app layers differ between platforms:\namd64 %v\narm64 %v", app["linux/amd64"], app["linux/arm64"])
	}
	if _, err := attest.Read(ctx, repo.Digest(first.Digest), attest.SBOMType); err != nil {
		t.Errorf("the index's SBOM: %v", err)
	}

	var bodies []string
	for _, d := range im.Manifests {
		c, base := runImage(t, repo.Digest(d.Digest.String()).String())
		// The extension compiled for this platform, and PHP saying which
		// machine it runs on.
		out, code := c.Exec(t, "php", "-r", `echo hello_phpbuild("x"), " ", php_uname("m");`)
		want := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[d.Platform.Architecture]
		if code != 0 || out != "hello x, from a compiled extension "+want {
			t.Errorf("%s: php says %q (exit %d), want the hello extension on %s", d.Platform.Architecture, out, code, want)
		}
		p := get(t, base+"/")
		if p.status != 200 || !strings.Contains(p.body, "assets app") {
			t.Errorf("%s/%s: GET / = %d %q", d.Platform.OS, d.Platform.Architecture, p.status, p.body)
		}
		bodies = append(bodies, p.body)
	}
	if len(bodies) == 2 && bodies[0] != bodies[1] {
		t.Errorf("the platforms serve different pages:\n%s\n%s", bodies[0], bodies[1])
	}

	write(t, dir, "public/index.php", strings.Replace(readFile(t, filepath.Join(dir, "public", "index.php")), "assets app", "assets app v2", 1))
	commit(t, dir, "v2", "2026-01-03T00:00:00Z")
	var rec recorder
	second, err := push(ctx, dir, repo, append(opts, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.built(); !slices.Equal(got, []string{"app"}) {
		t.Errorf("the code change built %q, want only app", got)
	}
	// The app layer once, each platform's config, the provenance.
	if u := second.Uploaded; u == nil || u.Blobs != 4 {
		t.Errorf("the code change uploaded %+v, want 4 blobs: the app layer once, two configs, the provenance", second.Uploaded)
	}
	armRef := childRef(t, repo, second.Digest, "arm64")
	_, base := runImage(t, armRef)
	if p := get(t, base+"/"); !strings.Contains(p.body, "assets app v2") {
		t.Errorf("arm64 after the code change: GET / = %d %q", p.status, p.body)
	}
}

// childRef is the repo@digest of the index's image for arch.
func childRef(t *testing.T, repo name.Repository, index, arch string) string {
	t.Helper()
	idx, err := remote.Index(repo.Digest(index))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.Architecture == arch {
			return repo.Digest(d.Digest.String()).String()
		}
	}
	t.Fatalf("index %s has no %s image", index, arch)
	return ""
}
