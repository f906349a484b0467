package bench

import (
	"archive/tar"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/bench/physical"
)

// TestPhysicalLimit: the limit's image holds the files, with their bytes,
// under the app dir, and its parents before them; AppLayerFiles reads a
// phpbuild image's app layer back as the same list.
func TestPhysicalLimit(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	files := map[string]string{"public/index.php": "<?php echo 1;\n", "src/A/B.php": "<?php class B {}\n", "composer.json": "{}\n"}
	for f, body := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list := []string{"composer.json", "public/index.php", "src/A/B.php"}
	ref, _ := name.ParseReference(host + "/limit:1")
	took, err := physical.Limit(dir, "/app", list, ref)
	if err != nil || took <= 0 {
		t.Fatalf("physical.Limit: %v, %v", took, err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	if len(ls) != 1 {
		t.Fatalf("%d layers, want 1", len(ls))
	}
	var names []string
	got := map[string]string{}
	rc, _ := ls[0].Uncompressed()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		body, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg {
			got[strings.TrimPrefix(h.Name, "app/")] = string(body)
		}
	}
	rc.Close()
	want := []string{"app/", "app/src/", "app/src/A/", "app/public/", "app/composer.json", "app/public/index.php", "app/src/A/B.php"}
	if !slices.Equal(names, want) {
		t.Errorf("tar entries %q, want %q", names, want)
	}
	for f, body := range files {
		if got[f] != body {
			t.Errorf("%s: %q, want %q", f, got[f], body)
		}
	}

	// A phpbuild-like image: the limit's layer named "app" in the label.
	d, _ := ls[0].Digest()
	label, _ := json.Marshal([]map[string]string{{"name": "app", "key": "k", "digest": d.String()}})
	other := static.NewLayer([]byte("not a tar"), types.OCIUncompressedLayer)
	pimg, err := mutate.AppendLayers(empty.Image, other, ls[0])
	if err != nil {
		t.Fatal(err)
	}
	pimg, err = mutate.Config(pimg, v1.Config{Labels: map[string]string{"dev.phpbuild.layers": string(label)}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := AppLayerFiles(pimg, "/app")
	if err != nil || !slices.Equal(back, list) {
		t.Errorf("AppLayerFiles = %q, %v; want %q", back, err, list)
	}
	if _, err := AppLayerFiles(empty.Image, "/app"); err == nil {
		t.Error("AppLayerFiles of an image without the label: no error")
	}
	if _, err := AppLayerFiles(pimg, "/srv"); err != nil {
		t.Errorf("AppLayerFiles under another dir: %v", err)
	}
	vendorOnly, _ := json.Marshal([]map[string]string{{"name": "vendor", "key": "k", "digest": d.String()}})
	vimg, _ := mutate.Config(pimg, v1.Config{Labels: map[string]string{"dev.phpbuild.layers": string(vendorOnly)}})
	if _, err := AppLayerFiles(vimg, "/app"); err == nil || !strings.Contains(err.Error(), "no app layer") {
		t.Errorf("AppLayerFiles of an image without an app layer: %v", err)
	}
}
