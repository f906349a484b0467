package build_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/runtimes"
)

// TestRebaseIndex rebases an amd64 + arm64 image index, hermetically: each
// platform's image moves onto the newer runtime's run image for its
// platform, keeping the one app layer both share; the tag then names the
// new index.
func TestRebaseIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	rtRepo, _ := name.NewRepository(host + "/team/runtimes")
	repo, _ := name.NewRepository(host + "/team/app")
	ctx := context.Background()

	runImage := func(arch string) (v1.Image, string) {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		if err := remote.Write(rtRepo.Digest(d.String()), img); err != nil {
			t.Fatal(err)
		}
		return img, d.String()
	}
	oldAmd, oldAmdD := runImage("amd64")
	oldArm, oldArmD := runImage("arm64")
	_, newAmdD := runImage("amd64")
	_, newArmD := runImage("arm64")
	exts := []string{"core", "opcache"}
	for _, e := range []runtimes.Entry{
		{Key: "sha256:01", PHP: "8.4.1", PHPMinor: "8.4", Extensions: exts, Run: oldAmdD, Build: oldAmdD, Built: "2026-11-01T00:00:00Z",
			Platforms: []runtimes.PlatformRun{{Platform: "linux/arm64", Run: oldArmD}}},
		{Key: "sha256:02", PHP: "8.4.2", PHPMinor: "8.4", Extensions: exts, Run: newAmdD, Build: newAmdD, Built: "2026-12-01T00:00:00Z",
			Platforms: []runtimes.PlatformRun{{Platform: "linux/arm64", Run: newArmD}}},
	} {
		if err := runtimes.Record(ctx, rtRepo, e); err != nil {
			t.Fatal(err)
		}
	}

	app := static.NewLayer([]byte("the app layer, the same on both platforms"), types.OCILayer)
	appImage := func(base v1.Image, run string) v1.Image {
		img, err := mutate.Append(base, mutate.Addendum{Layer: app, MediaType: types.OCILayer})
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Labels = map[string]string{build.LabelRunImage: rtRepo.Digest(run).String()}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		return mutate.Annotations(img, map[string]string{"org.opencontainers.image.version": "1.0.0"}).(v1.Image)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: appImage(oldAmd, oldAmdD), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: appImage(oldArm, oldArmD), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	if err := remote.WriteIndex(repo.Tag("1.0.0"), idx); err != nil {
		t.Fatal(err)
	}

	res, err := build.Rebase(ctx, repo.Tag("1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.ToRuntime != rtRepo.Digest(newAmdD).String() || res.AppLayers != 1 {
		t.Fatalf("rebase: %+v", res)
	}
	got, err := remote.Index(repo.Tag("1.0.0"))
	if err != nil {
		t.Fatalf("the tag no longer names an index: %v", err)
	}
	if d, _ := got.Digest(); d.String() != res.Digest {
		t.Errorf("the tag names %s, the rebase made %s", d, res.Digest)
	}
	im, _ := got.IndexManifest()
	appDigest, _ := app.Digest()
	for _, d := range im.Manifests {
		want := map[string]string{"amd64": newAmdD, "arm64": newArmD}[d.Platform.Architecture]
		img, err := got.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		if cf.Config.Labels[build.LabelRunImage] != rtRepo.Digest(want).String() || cf.Architecture != d.Platform.Architecture {
			t.Errorf("%s: run image %q, architecture %s; want %s", d.Platform.Architecture, cf.Config.Labels[build.LabelRunImage], cf.Architecture, want)
		}
		ls, _ := img.Layers()
		base, _ := remote.Image(rtRepo.Digest(want))
		bl, _ := base.Layers()
		var digests, baseDigests []v1.Hash
		for _, l := range ls {
			h, _ := l.Digest()
			digests = append(digests, h)
		}
		for _, l := range bl {
			h, _ := l.Digest()
			baseDigests = append(baseDigests, h)
		}
		if !slices.Equal(digests[:len(bl)], baseDigests) || digests[len(digests)-1] != appDigest {
			t.Errorf("%s: layers %v, want the new run image's %v then the app layer %s", d.Platform.Architecture, digests, baseDigests, appDigest)
		}
	}
}
