package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/transient"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func testImage(t *testing.T) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, d.String()
}

func testRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	repo, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// TestRegistryPublisher: blobs and manifest first, then the tags, the SHA
// last; progress reaches the caller's channel, which stays open.
func TestRegistryPublisher(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	img, digest := testImage(t)
	progress := make(chan v1.Update, 1024)
	got, err := NewRegistry(repo, progress).Publish(context.Background(), img, []string{testSHA, "1.2.3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A first push sends every blob: two layers and the config.
	if got.Uploaded == nil || got.Uploaded.Blobs != 3 || got.Uploaded.Bytes < 2048 || got.Uploaded.AlreadyThere != 0 {
		t.Errorf("first push uploaded %+v, want 3 blobs, at least the layers' 2 kB, nothing already there", got.Uploaded)
	}
	got.Uploaded = nil
	want := Published{Refs: []string{repo.Tag("1.2.3").String() + "@" + digest, repo.Tag(testSHA).String() + "@" + digest}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	// The same image again sends no blob: all of it is already there.
	again, err := NewRegistry(repo, nil).Publish(context.Background(), img, []string{"1.2.4"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		size += n
	}
	if d := cmp.Diff(&Uploaded{AlreadyThere: size}, again.Uploaded); d != "" {
		t.Errorf("second push uploaded (-want +got):\n%s", d)
	}
	for _, tag := range []string{testSHA, "1.2.3"} {
		desc, err := remote.Head(repo.Tag(tag))
		if err != nil || desc.Digest.String() != digest {
			t.Errorf("%s: %v, %v; want %s", tag, desc, err, digest)
		}
	}
	select {
	case progress <- v1.Update{}:
	default:
	}
	if len(progress) == 0 {
		t.Error("no progress update")
	}
}

func TestRegistryPublisherFailsTransient(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	srv.Close()
	img, _ := testImage(t)
	_, err := NewRegistry(repo, nil, remote.WithRetryBackoff(remote.Backoff{Steps: 1})).Publish(context.Background(), img, []string{testSHA}, nil)
	if err == nil || !transient.Is(err) || !strings.Contains(err.Error(), "pushing to "+repo.String()) {
		t.Errorf("err = %v, want a transient error naming the repo", err)
	}
}

func TestLayoutPublisher(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "oci")
	img, digest := testImage(t)
	got, err := NewLayout(dir, "phpbuild/app").Publish(context.Background(), img, []string{testSHA, "1.2.3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Published{Outputs: []string{"oci:" + dir}}, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range m.Manifests {
		refs = append(refs, d.Annotations["org.opencontainers.image.ref.name"]+"@"+d.Digest.String())
	}
	if diff := cmp.Diff([]string{testSHA + "@" + digest, "1.2.3@" + digest}, refs); diff != "" {
		t.Errorf("layout index (-want +got):\n%s", diff)
	}
}

func TestTarballPublisher(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out", "image.tar")
	img, _ := testImage(t)
	repo := testRepo(t, "registry.example/team/app")
	got, err := NewTarball(file, repo.String()).Publish(context.Background(), img, []string{testSHA, "1.2.3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Published{Outputs: []string{"tar:" + file}}, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	for _, tag := range []string{testSHA, "1.2.3"} {
		ref := repo.Tag(tag)
		back, err := tarball.ImageFromPath(file, &ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		c1, _ := back.ConfigName()
		c2, _ := img.ConfigName()
		if c1 != c2 {
			t.Errorf("%s has config %s, want %s", ref, c1, c2)
		}
	}
}

// TestDaemonPublisher loads through a fake daemon: the tarball it gets
// names every tag, and an error in the daemon's answer fails the load.
func TestDaemonPublisher(t *testing.T) {
	img, _ := testImage(t)
	repo := "phpbuild/app"
	for _, tc := range []struct {
		name      string
		answer    string
		loadErr   error
		want      Published
		wantErr   string
		transient bool
	}{
		{name: "loaded", answer: `{"stream":"Loaded image"}`, want: Published{Outputs: []string{"docker:phpbuild/app:" + testSHA}}},
		{name: "daemon error in the answer", answer: `{"errorDetail":{"message":"no space left"}}`, wantErr: "loading into docker: {\"errorDetail\""},
		{name: "daemon unreachable", loadErr: errors.New("connection refused"), wantErr: "loading into docker: connection refused", transient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var loaded string
			p := newDaemon(repo, func(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
				if tc.loadErr != nil {
					return nil, tc.loadErr
				}
				f := filepath.Join(t.TempDir(), "load.tar")
				b, err := io.ReadAll(r)
				if err != nil {
					return nil, err
				}
				if err := os.WriteFile(f, b, 0o644); err != nil {
					return nil, err
				}
				m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(f) })
				if err != nil {
					return nil, err
				}
				loaded = strings.Join(m[0].RepoTags, " ")
				return io.NopCloser(strings.NewReader(tc.answer)), nil
			})
			got, err := p.Publish(context.Background(), img, []string{testSHA, "1.2.3"}, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || transient.Is(err) != tc.transient {
					t.Fatalf("err = %v (transient %v), want %q (transient %v)", err, transient.Is(err), tc.wantErr, tc.transient)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("published (-want +got):\n%s", diff)
			}
			for _, tag := range []string{"phpbuild/app:" + testSHA, "phpbuild/app:1.2.3"} {
				if !strings.Contains(loaded, tag) {
					t.Errorf("the daemon got %q, without %s", loaded, tag)
				}
			}
		})
	}
}

type fakePublisher struct {
	got   Published
	err   error
	calls *[]string
	name  string
}

func (f fakePublisher) Publish(ctx context.Context, img v1.Image, tags []string, _ []attest.Document) (Published, error) {
	*f.calls = append(*f.calls, f.name+" "+strings.Join(tags, ","))
	return f.got, f.err
}

func TestMulti(t *testing.T) {
	img, _ := testImage(t)
	var calls []string
	push := fakePublisher{got: Published{Refs: []string{"r:1@d", "r:sha@d"}}, calls: &calls, name: "push"}
	oci := fakePublisher{got: Published{Outputs: []string{"oci:x"}}, calls: &calls, name: "oci"}
	tar := fakePublisher{got: Published{Outputs: []string{"tar:y"}}, calls: &calls, name: "tar"}
	got, err := Multi(push, oci, tar).Publish(context.Background(), img, []string{"sha", "1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Published{Refs: []string{"r:1@d", "r:sha@d"}, Outputs: []string{"oci:x", "tar:y"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"push sha,1", "oci sha,1", "tar sha,1"}, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	calls = nil
	failed := errors.New("registry down")
	push.err = failed
	if _, err := Multi(push, oci).Publish(context.Background(), img, []string{"sha"}, nil); !errors.Is(err, failed) {
		t.Errorf("err = %v, want the push's", err)
	}
	if diff := cmp.Diff([]string{"push sha"}, calls); diff != "" {
		t.Errorf("after a failed push (-want +got):\n%s", diff)
	}
}

func TestParseOutput(t *testing.T) {
	target := testRepo(t, "registry.example/team/app")
	for _, tc := range []struct {
		spec     string
		target   *name.Repository
		wantRepo string
		wantDest string
		wantErr  string
	}{
		{spec: "docker", wantRepo: "phpbuild/app", wantDest: "docker"},
		{spec: "docker", target: &target, wantRepo: "registry.example/team/app", wantDest: "docker"},
		{spec: "oci:out/oci", wantRepo: "phpbuild/app", wantDest: "oci:out/oci"},
		{spec: "tar:img.tar", target: &target, wantRepo: "registry.example/team/app", wantDest: "tar:img.tar"},
		{spec: "tar:", wantErr: "--output: tar needs a path: tar:PATH"},
		{spec: "oci", wantErr: "--output: oci needs a path: oci:PATH"},
		{spec: "docker:x", wantErr: `--output: "docker:x" is not one of docker, oci:DIR, tar:FILE`},
		{spec: "zip:x", wantErr: `--output: "zip:x" is not one of docker, oci:DIR, tar:FILE`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseOutput(tc.spec, tc.target)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !badinput.Is(err) {
					t.Fatalf("err = %v, want bad input %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lp, ok := got.(*localPublisher)
			if !ok || lp.repo != tc.wantRepo || lp.dest != tc.wantDest {
				t.Errorf("got %T %+v, want %s named %s:TAG", got, got, tc.wantDest, tc.wantRepo)
			}
		})
	}
}

// checkingRegistry is ggcr's registry, which takes any manifest, made to
// refuse one naming a blob it lacks, as distribution does, and to record
// the requests it gets.
type checkingRegistry struct {
	inner http.Handler
	mu    sync.Mutex
	reqs  []string
}

func (r *checkingRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		m, err := v1.ParseManifest(bytes.NewReader(body))
		if err == nil {
			repo := req.URL.Path[len("/v2/"):strings.Index(req.URL.Path, "/manifests/")]
			for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
				rec := httptest.NewRecorder()
				r.inner.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/v2/"+repo+"/blobs/"+d.Digest.String(), nil))
				if rec.Code != http.StatusOK {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					fmt.Fprintf(w, `{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":%q}]}`, d.Digest.String())
					return
				}
			}
		}
	}
	r.inner.ServeHTTP(w, req)
}

func (r *checkingRegistry) requests(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if strings.HasPrefix(q, prefix) {
			out = append(out, q)
		}
	}
	return out
}

// TestPushKnownBlobs: the blobs an image says its repo holds are not even
// asked about, the new ones are sent; and when the registry lost one of
// them, the push starts again asking about every blob, and succeeds.
func TestPushKnownBlobs(t *testing.T) {
	reg := &checkingRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	prev, _ := testImage(t)
	if _, err := Push(context.Background(), prev, repo, []string{"1.0.0"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	m, err := prev.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	known := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		known = append(known, l.Digest)
	}
	added, err := random.Layer(512, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	next, err := mutate.AppendLayers(prev, added)
	if err != nil {
		t.Fatal(err)
	}
	reg.reqs = nil
	progress := make(chan v1.Update, 64)
	refs, err := Push(context.Background(), withKnownBlobs{Image: next, known: known}, repo, []string{testSHA, "1.0.1"}, nil, progress)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := next.Digest()
	if want := []string{repo.Tag("1.0.1").String() + "@" + d.String(), repo.Tag(testSHA).String() + "@" + d.String()}; !slices.Equal(refs, want) {
		t.Errorf("refs = %v, want %v", refs, want)
	}
	for _, h := range known {
		for _, q := range reg.requests("HEAD") {
			if strings.HasSuffix(q, h.String()) {
				t.Errorf("%s: a blob the repo is known to hold was asked about", q)
			}
		}
	}
	if got := reg.requests("PUT /v2/team/app/blobs/"); len(got) != 2 {
		t.Errorf("blob uploads = %v, want 2: the new layer and the config", got)
	}
	if got := reg.requests("PUT /v2/team/app/manifests/"); !slices.Equal(got, []string{"PUT /v2/team/app/manifests/1.0.1", "PUT /v2/team/app/manifests/" + testSHA}) {
		t.Errorf("manifest puts = %v, want the version, then the SHA", got)
	}
	var last v1.Update
	for len(progress) > 0 {
		last = <-progress
	}
	if last.Total == 0 || last.Complete != last.Total {
		t.Errorf("last progress %+v, want complete", last)
	}

	// A registry that lost the blobs the image calls known (a new one):
	// refused, then pushed again asking about every blob.
	lost := &checkingRegistry{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv2 := httptest.NewServer(lost)
	t.Cleanup(srv2.Close)
	other := testRepo(t, strings.TrimPrefix(srv2.URL, "http://")+"/team/app")
	if _, err := Push(context.Background(), withKnownBlobs{Image: next, known: known}, other, []string{"2.0.0"}, nil, nil); err != nil {
		t.Fatalf("push with a lost blob: %v", err)
	}
	if got := lost.requests("PUT /v2/team/app/manifests/"); len(got) != 2 {
		t.Errorf("manifest puts = %v, want one refused and one accepted", got)
	}
	got, err := remote.Image(other.Tag("2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("the image pushed after the refusal: %v", err)
	}
}

// TestPublishersAttach: a registry gets the documents as referrers of the
// image, read back by attest.Read, before any tag; an OCI layout gets them
// as manifests with the image as subject; docker and tar outputs say they
// attached nothing.
func TestPublishersAttach(t *testing.T) {
	// A registry with the referrers API lists them itself; one without
	// (Docker's registry 2.x) gets the sha256-HEX referrers tag.
	api := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(api.Close)
	img, digest := testImage(t)
	apiRepo := testRepo(t, strings.TrimPrefix(api.URL, "http://")+"/team/app")
	sbom := attest.Document{Type: attest.SBOMType, Body: []byte(`{"bomFormat":"CycloneDX"}`)}
	if _, err := NewRegistry(apiRepo, nil).Publish(context.Background(), img, []string{testSHA}, []attest.Document{sbom}); err != nil {
		t.Fatal(err)
	}
	if body, err := attest.Read(context.Background(), apiRepo.Digest(digest), attest.SBOMType); err != nil || string(body) != string(sbom.Body) {
		t.Errorf("through the referrers API: %q, %v", body, err)
	}
	if tags, _ := remote.List(apiRepo); len(tags) != 1 {
		t.Errorf("a registry with the referrers API got tags %v, want the SHA alone", tags)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	docs := []attest.Document{{Type: attest.SBOMType, Body: []byte(`{"bomFormat":"CycloneDX"}`)}, {Type: attest.ProvenanceType, Body: []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)}}
	got, err := NewRegistry(repo, nil).Publish(context.Background(), img, []string{testSHA}, docs)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Attached {
		t.Error("the registry publisher says it attached nothing")
	}
	for _, d := range docs {
		body, err := attest.Read(context.Background(), repo.Digest(digest), d.Type)
		if err != nil || string(body) != string(d.Body) {
			t.Errorf("%s read back: %q, %v; want %q", d.Type, body, err, d.Body)
		}
	}
	// Another image has no referrers.
	if _, err := attest.Read(context.Background(), repo.Digest("sha256:"+strings.Repeat("0", 64)), attest.SBOMType); !errors.Is(err, attest.ErrNone) {
		t.Errorf("an image without attachments: %v, want ErrNone", err)
	}

	dir := filepath.Join(t.TempDir(), "oci")
	got, err = NewLayout(dir, "phpbuild/app").Publish(context.Background(), img, []string{testSHA}, docs)
	if err != nil || !got.Attached {
		t.Fatalf("layout: %+v, %v", got, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, d := range m.Manifests[1:] {
		a, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		am, err := a.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if am.Subject == nil || am.Subject.Digest.String() != digest {
			t.Errorf("artifact %s: subject %v, want %s", d.Digest, am.Subject, digest)
		}
		types = append(types, am.ArtifactType)
	}
	if diff := cmp.Diff([]string{attest.SBOMType, attest.ProvenanceType}, types); diff != "" {
		t.Errorf("layout artifacts (-want +got):\n%s", diff)
	}

	got, err = NewTarball(filepath.Join(t.TempDir(), "image.tar"), repo.String()).Publish(context.Background(), img, []string{testSHA}, docs)
	if err != nil || got.Attached {
		t.Errorf("tarball: %+v, %v; want nothing attached", got, err)
	}
}

// TestPublishMultiPlatform: an image with its index (see multiPlatform)
// goes to a registry as the index under each tag, its images by digest,
// the documents referring to the index; to an OCI layout as the index.
func TestPublishMultiPlatform(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	amd, _ := testImage(t)
	arm, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	id, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	docs := []attest.Document{{Type: attest.SBOMType, Body: []byte(`{"bomFormat":"CycloneDX"}`)}}
	got, err := NewRegistry(repo, nil).Publish(context.Background(), multiPlatform{Image: amd, index: idx}, []string{testSHA, "1.0.0"}, docs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{repo.Tag("1.0.0").String() + "@" + id.String(), repo.Tag(testSHA).String() + "@" + id.String()}; !slices.Equal(got.Refs, want) {
		t.Errorf("refs %v, want the index under both tags %v", got.Refs, want)
	}
	pulled, err := remote.Index(repo.Tag(testSHA))
	if err != nil {
		t.Fatalf("the SHA tag is not an index: %v", err)
	}
	if d, _ := pulled.Digest(); d != id {
		t.Errorf("the tag names %s, want %s", d, id)
	}
	for _, im := range []v1.Image{amd, arm} {
		d, _ := im.Digest()
		if _, err := remote.Image(repo.Digest(d.String())); err != nil {
			t.Errorf("image %s is not in the repo: %v", d, err)
		}
	}
	if body, err := attest.Read(context.Background(), repo.Digest(id.String()), attest.SBOMType); err != nil || string(body) != string(docs[0].Body) {
		t.Errorf("the index's SBOM: %q, %v", body, err)
	}

	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := NewLayout(dir, "phpbuild/app").Publish(context.Background(), multiPlatform{Image: amd, index: idx}, []string{"1.0.0"}, nil); err != nil {
		t.Fatal(err)
	}
	l, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := l.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != id || !m.Manifests[0].MediaType.IsIndex() {
		t.Errorf("layout holds %+v, want the index %s", m.Manifests, id)
	}
}

// TestPrepareProbesReferrers: prepare asks whether the registry has the
// referrers API while the image is built, so the push does not ask after
// the manifests; in a repo without tags, where a registry with the API
// may not know the repo yet, the push asks as before. When the build
// found the repo holds tags (its parent's image), the probe does not list
// them. Either way the documents can be read back.
func TestPrepareProbesReferrers(t *testing.T) {
	for _, tc := range []struct {
		name                string
		api, existing       bool
		found               bool // the build found the repo holds tags
		subjectAsked        bool // the referrers API asked about the image
		tagRead, tagWritten bool // the sha256-HEX referrers tag
	}{
		{name: "API, repo with tags", api: true, existing: true},
		{name: "no API, repo with tags", existing: true, tagRead: true, tagWritten: true},
		{name: "API, new repo", api: true, subjectAsked: true, tagRead: true},
		{name: "no API, new repo", subjectAsked: true, tagRead: true, tagWritten: true},
		{name: "API, repo with tags, found", api: true, existing: true, found: true},
		{name: "no API, repo with tags, found", existing: true, found: true, tagRead: true, tagWritten: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(tc.api))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				asked = append(asked, r.Method+" "+r.URL.Path)
				mu.Unlock()
				reg.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
			if tc.existing {
				old, _ := testImage(t)
				if err := remote.Write(repo.Tag("old"), old); err != nil {
					t.Fatal(err)
				}
			}
			var found tagged
			if tc.found {
				found = tagged{repo: repo, found: func() bool { return true }}
			}
			mu.Lock()
			asked = nil
			mu.Unlock()
			img, digest := testImage(t)
			docs := []attest.Document{{Type: attest.SBOMType, Body: []byte(`{"bomFormat":"CycloneDX"}`)}}
			pub := NewRegistry(repo, nil).(*registryPublisher)
			pub.prepare(context.Background(), found)
			if _, err := pub.Publish(context.Background(), img, []string{testSHA}, docs); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			seen := slices.Clone(asked)
			mu.Unlock()
			count := func(method, suffix string) int {
				n := 0
				for _, a := range seen {
					if strings.HasPrefix(a, method+" ") && strings.HasSuffix(a, suffix) {
						n++
					}
				}
				return n
			}
			tag := "/manifests/" + strings.Replace(digest, ":", "-", 1)
			if n := count("GET", "/referrers/"+digest); (n > 0) != tc.subjectAsked {
				t.Errorf("the referrers API asked about the image %d times, want asked: %v; requests: %q", n, tc.subjectAsked, seen)
			}
			if n := count("GET", "/referrers/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"); n != 1 {
				t.Errorf("probed %d times, want once; requests: %q", n, seen)
			}
			if n := count("GET", "/tags/list"); (n == 0) != tc.found {
				t.Errorf("tags listed %d times by the push, found by the build: %v; requests: %q", n, tc.found, seen)
			}
			if read, written := count("GET", tag) > 0, count("PUT", tag) > 0; read != tc.tagRead || written != tc.tagWritten {
				t.Errorf("referrers tag read %v, written %v; want %v, %v; requests: %q", read, written, tc.tagRead, tc.tagWritten, seen)
			}
			if body, err := attest.Read(context.Background(), repo.Digest(digest), attest.SBOMType); err != nil || string(body) != string(docs[0].Body) {
				t.Errorf("read back: %q, %v", body, err)
			}
		})
	}
}

// A referrers tag is read and added to, not written anew: the same image
// pushed again with another document keeps the first one's listing.
func TestReferrersTagMerged(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := testRepo(t, strings.TrimPrefix(srv.URL, "http://")+"/team/app")
	img, digest := testImage(t)
	ctx := context.Background()
	for _, doc := range []attest.Document{
		{Type: attest.SBOMType, Body: []byte(`{"bomFormat":"CycloneDX"}`)},
		{Type: attest.ProvenanceType, Body: []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)},
	} {
		pub := NewRegistry(repo, nil).(*registryPublisher)
		pub.prepare(ctx, tagged{repo: repo, found: func() bool { return true }})
		if _, err := pub.Publish(ctx, img, []string{testSHA}, []attest.Document{doc}); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range []string{attest.SBOMType, attest.ProvenanceType} {
		if _, err := attest.Read(ctx, repo.Digest(digest), typ); err != nil {
			t.Errorf("the %s after the second push: %v", typ, err)
		}
	}
}
