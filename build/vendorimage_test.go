package build

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestVendorImage: the image a step reads a reused vendor dir from holds
// the vendor layer alone, for the previous image's platform, and putting
// it in the repo uploads no layer (the blob is there already).
func TestVendorImage(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	prevImg, err := random.Image(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := prevImg.Digest()
	prevRef := repo.Digest(d.String())
	if err := remote.Write(prevRef, prevImg); err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(prevRef)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := pulled.Layers()
	vendor := ls[1]

	counter := newUploadCounter(remote.DefaultTransport)
	o, err := newOptions([]Option{WithTarget(repo), WithRemoteOptions(remote.WithTransport(counter))})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := o.vendorImage(context.Background(), &cacheImage{ref: prevRef, img: pulled}, vendor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, repo.String()+"@sha256:") {
		t.Errorf("vendor image %s is not by digest in %s", ref, repo)
	}
	up, err := counter.result(prevImg)
	if err != nil {
		t.Fatal(err)
	}
	if up.Blobs != 1 || up.Bytes > 4096 {
		t.Errorf("putting the vendor image uploaded %+v; want the config alone", up)
	}
	got, err := remote.Image(mustDigest(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	gls, _ := got.Layers()
	want, _ := vendor.Digest()
	if len(gls) != 1 {
		t.Fatalf("vendor image has %d layers, want 1", len(gls))
	}
	if g, _ := gls[0].Digest(); g != want {
		t.Errorf("vendor image layer %s, want the vendor layer %s", g, want)
	}
	pcf, _ := pulled.ConfigFile()
	gcf, _ := got.ConfigFile()
	if gcf.OS != pcf.OS || gcf.Architecture != pcf.Architecture {
		t.Errorf("vendor image is for %s/%s, want %s/%s", gcf.OS, gcf.Architecture, pcf.OS, pcf.Architecture)
	}
}

func mustDigest(t *testing.T, s string) name.Digest {
	t.Helper()
	d, err := name.NewDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
