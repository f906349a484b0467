package build_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/runtimes"
)

// TestRebase builds the plain app on one runtime, then moves it onto a
// refreshed build of the same runtime: `runtime outdated` lists its tags,
// the rebased image keeps every app layer and its config's commit time,
// has the new run image's layers under them, serves the same page, and
// carries a new SBOM and a rebase provenance; its tags moved; rebasing
// again changes nothing.
func TestRebase(t *testing.T) {
	older := buildtest.RefreshedRuntimes(t, "rebase-a")
	newer := buildtest.RefreshedRuntimes(t, "rebase-b")
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	repo := testRepo(t, "rebase")
	first, err := push(ctx, dir, repo, buildOpts(t, older)...)
	if err != nil {
		t.Fatal(err)
	}

	stale, err := build.Outdated(ctx, repo, build.WithRuntimeRepo(newer))
	if err != nil {
		t.Fatal(err)
	}
	// The newest entry, which builds and rebases pick: on a machine that
	// kept the repo, runtimes an earlier phpbuild recorded (another key)
	// are there too.
	newEntries, err := runtimes.ReadManifest(ctx, newer)
	if err != nil || len(newEntries) == 0 {
		t.Fatalf("the refreshed runtime repo has %d entries (%v), want one at least", len(newEntries), err)
	}
	newRun := newer.Digest(newEntries[0].Run).String()
	if len(stale) != 2 || stale[0].Tag != "1.0.0" || stale[1].Tag != first.SHA || stale[0].Newer != newRun {
		t.Errorf("outdated: %+v, want the 1.0.0 and SHA tags, newer run image %s", stale, newRun)
	}

	res, err := build.Rebase(ctx, repo.Tag(first.SHA), build.WithRuntimeRepo(newer), build.WithBuilderVersion("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebased %s onto %s: %+v", first.Digest, res.ToRuntime, res)
	if res.Unchanged || res.Digest == first.Digest || res.ToRuntime != newRun || res.AppLayers != len(first.Layers) {
		t.Fatalf("rebase: %+v; want a new digest on %s keeping %d app layers", res, newRun, len(first.Layers))
	}
	orig, err := remote.Image(repo.Digest(first.Digest))
	if err != nil {
		t.Fatal(err)
	}
	rebased, err := remote.Image(repo.Digest(res.Digest))
	if err != nil {
		t.Fatal(err)
	}
	baseRef, err := name.NewDigest(newRun)
	if err != nil {
		t.Fatal(err)
	}
	base, err := remote.Image(baseRef)
	if err != nil {
		t.Fatal(err)
	}
	ol, nl, bl := layerDigests(t, orig), layerDigests(t, rebased), layerDigests(t, base)
	if got, want := strings.Join(nl[:len(bl)], " "), strings.Join(bl, " "); got != want {
		t.Errorf("the rebased image's first layers are not the new run image's:\n got %s\nwant %s", got, want)
	}
	if got, want := strings.Join(nl[len(bl):], " "), strings.Join(ol[len(ol)-res.AppLayers:], " "); got != want {
		t.Errorf("app layers changed:\n got %s\nwant %s", got, want)
	}
	ocf, _ := orig.ConfigFile()
	ncf, err := rebased.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !ncf.Created.Equal(ocf.Created.Time) || ncf.Config.Labels[build.LabelRunImage] != newRun || ncf.Config.Labels[build.LabelLayers] != ocf.Config.Labels[build.LabelLayers] {
		t.Errorf("rebased config: created %v, run image %q; want %v and %s, the layers label unchanged", ncf.Created, ncf.Config.Labels[build.LabelRunImage], ocf.Created, newRun)
	}
	for _, tag := range []string{first.SHA, "1.0.0"} {
		if d, err := remote.Head(repo.Tag(tag)); err != nil || d.Digest.String() != res.Digest {
			t.Errorf("%s points at %v (%v), want %s", tag, d, err, res.Digest)
		}
	}

	_, before := runImage(t, repo.Digest(first.Digest).String(), "var/cache")
	_, after := runImage(t, repo.Digest(res.Digest).String(), "var/cache")
	if a, b := get(t, before+"/"), get(t, after+"/"); b.status != 200 || a.body != b.body {
		t.Errorf("GET / before: %d %q; after the rebase: %d %q", a.status, a.body, b.status, b.body)
	}

	sbom, err := attest.Read(ctx, repo.Digest(res.Digest), attest.SBOMType)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sbom), "pkg:composer/phpbuild-testdata/greeter@1.0.0") || !strings.Contains(string(sbom), "pkg:deb/debian/nginx@") {
		t.Errorf("the rebased image's SBOM lacks the greeter or nginx")
	}
	prov, err := attest.Read(ctx, repo.Digest(res.Digest), attest.ProvenanceType)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Predicate struct {
			BuildDefinition struct {
				BuildType          string         `json:"buildType"`
				ExternalParameters map[string]any `json:"externalParameters"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(prov, &st); err != nil {
		t.Fatal(err)
	}
	if bd := st.Predicate.BuildDefinition; bd.BuildType != attest.RebaseType || bd.ExternalParameters["rebasedFrom"] != repo.Digest(first.Digest).String() {
		t.Errorf("rebase provenance: %+v", bd)
	}

	again, err := build.Rebase(ctx, repo.Tag(first.SHA), build.WithRuntimeRepo(newer))
	if err != nil || !again.Unchanged || again.Digest != res.Digest {
		t.Errorf("rebasing again: %+v, %v; want unchanged", again, err)
	}
	if stale, err := build.Outdated(ctx, repo, build.WithRuntimeRepo(newer)); err != nil || len(stale) != 0 {
		t.Errorf("outdated after the rebase: %+v, %v; want none", stale, err)
	}
}

func layerDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}
