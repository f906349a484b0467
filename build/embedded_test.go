package build

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestEmbeddedImage: the run image made from the manifest and config a
// runtime manifest embeds is the registry's image (digest, config, layers
// with their sizes and diff IDs), mountable from the runtime repo, its
// bytes read from there; embedded bytes that are not the image's are
// refused, and the build then reads the registry.
func TestEmbeddedImage(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/team/runtimes")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref := repo.Digest(d.String())
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()

	got, err := embeddedImage(ref, raw, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	type layer struct {
		Digest, DiffID v1.Hash
		Size           int64
		Body           int
	}
	describe := func(im v1.Image) (v1.Hash, []layer) {
		t.Helper()
		h, err := im.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ls, err := im.Layers()
		if err != nil {
			t.Fatal(err)
		}
		var out []layer
		for _, l := range ls {
			var x layer
			x.Digest, _ = l.Digest()
			x.DiffID, _ = l.DiffID()
			x.Size, _ = l.Size()
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			x.Body = len(b)
			out = append(out, x)
		}
		return h, out
	}
	gotDigest, gotLayers := describe(got)
	wantDigest, wantLayers := describe(want)
	if gotDigest != d || wantDigest != d {
		t.Errorf("digests %s (embedded), %s (registry), want %s", gotDigest, wantDigest, d)
	}
	if diff := cmp.Diff(wantLayers, gotLayers); diff != "" {
		t.Errorf("layers (-registry +embedded):\n%s", diff)
	}
	ls, _ := got.Layers()
	if ml, ok := ls[0].(*remote.MountableLayer); !ok || ml.Reference.Context().String() != repo.String() {
		t.Errorf("layer %T, want a layer mountable from %s", ls[0], repo)
	}
	gotCfg, _ := got.RawConfigFile()
	if string(gotCfg) != string(cfg) {
		t.Error("the embedded image's config is not the registry's")
	}
	cd, _ := got.ConfigName()
	if cl, err := got.LayerByDigest(cd); err != nil {
		t.Errorf("the config by its digest: %v", err)
	} else if h, _ := cl.Digest(); h != cd {
		t.Errorf("the config by its digest is %s, want %s", h, cd)
	}

	other, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	otherRaw, _ := other.RawManifest()
	otherCfg, _ := other.RawConfigFile()
	for _, tc := range []struct {
		name             string
		manifest, config []byte
	}{
		{"nothing embedded", nil, nil},
		{"another image's manifest", otherRaw, otherCfg},
		{"another image's config", raw, otherCfg},
	} {
		if _, err := embeddedImage(ref, tc.manifest, tc.config, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
