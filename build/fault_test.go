package build_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/faultproxy"
	"github.com/phpbuild/phpbuild/testbed"
	"github.com/phpbuild/phpbuild/transient"
)

// faultSHA stands for a commit's SHA tag.
const faultSHA = "0123456789abcdef0123456789abcdef01234567"

// faultCase is one way the registry or the network breaks during a push,
// and what Push must leave behind.
type faultCase struct {
	name string
	// rule makes the proxy's rule; each run gets a fresh one.
	rule      func() faultproxy.Rule
	timeout   time.Duration // of the push; a minute when zero
	wantErr   bool
	transient bool               // when wantErr: transient.Is(err), the CLI's exit 75
	wantTags  []string           // the tags the repo has afterwards, sorted
	faults    []faultproxy.Fault // injected, one or another, at least once
}

func faultCases() []faultCase {
	return []faultCase{{
		name: "reset every third blob upload request",
		// A blob whose upload was reset then goes through unhindered: ggcr
		// retries each blob's whole upload a few times (Backoff.Steps), so
		// a blob hit on every attempt, as small blobs are while big ones
		// upload, would fail the push by design.
		rule: func() faultproxy.Rule {
			k := 0
			blobOf := map[string]int64{} // upload session → blob, by its size
			spared := map[int64]bool{}   // blobs whose last attempt was reset
			return func(r *http.Request, _ int) faultproxy.Fault {
				if !isBlobUpload(r) || (r.Method != http.MethodPatch && r.Method != http.MethodPut) {
					return faultproxy.None
				}
				// The bytes go in a PATCH (ggcr's streamed upload) or in
				// the PUT that commits them (a small blob's, see regapi).
				sends := r.Method == http.MethodPatch || r.ContentLength > 0
				if sends {
					blobOf[r.URL.Path] = r.ContentLength
				}
				blob := blobOf[r.URL.Path]
				if k++; k%3 != 0 || spared[blob] {
					if r.Method == http.MethodPut {
						delete(spared, blob)
					}
					return faultproxy.None
				}
				spared[blob] = true
				if sends {
					return faultproxy.ResetMidBody // the layer half sent
				}
				return faultproxy.Reset // the commit lost
			}
		},
		wantTags: []string{faultSHA, "1.0.0"},
		faults:   []faultproxy.Fault{faultproxy.Reset, faultproxy.ResetMidBody},
	}, {
		name: "503 on the first two manifest PUTs",
		rule: func() faultproxy.Rule {
			k := 0
			return func(r *http.Request, _ int) faultproxy.Fault {
				if r.Method == http.MethodPut && isManifest(r) {
					if k++; k <= 2 {
						return faultproxy.Status503
					}
				}
				return faultproxy.None
			}
		},
		wantTags: []string{faultSHA, "1.0.0"},
		faults:   []faultproxy.Fault{faultproxy.Status503},
	}, {
		name: "503 on every blob upload request",
		rule: func() faultproxy.Rule {
			return func(r *http.Request, _ int) faultproxy.Fault {
				if isBlobUpload(r) {
					return faultproxy.Status503
				}
				return faultproxy.None
			}
		},
		wantErr:   true,
		transient: true,
		faults:    []faultproxy.Fault{faultproxy.Status503},
	}, {
		name:    "403 refusing writes",
		rule:    refuseUploads(faultproxy.Status403),
		wantErr: true,
		// The registry said no on purpose; the same push would get the same.
		transient: false,
		faults:    []faultproxy.Fault{faultproxy.Status403},
	}, {
		name:    "507 refusing writes",
		rule:    refuseUploads(faultproxy.Status507),
		wantErr: true,
		// Chosen: a full registry is server-side trouble that an operator
		// or a garbage collection cures without a change to the build,
		// like any 5xx (runtimes.RegistryError), so CI may retry: exit 75.
		transient: true,
		faults:    []faultproxy.Fault{faultproxy.Status507},
	}, {
		name: "stall on a blob's bytes past the deadline",
		rule: func() faultproxy.Rule {
			return func(r *http.Request, _ int) faultproxy.Fault {
				if isBlobUpload(r) && (r.Method == http.MethodPatch || r.ContentLength > 0) {
					return faultproxy.Stall
				}
				return faultproxy.None
			}
		},
		timeout: 3 * time.Second,
		wantErr: true,
		// A registry that hangs is a registry in trouble: retry later.
		transient: true,
		faults:    []faultproxy.Fault{faultproxy.Stall},
	}, {
		// Tags are given SHA first; the rule fails every tag PUT after the
		// first tag's, so if Push wrote the SHA tag first it would exist.
		name: "the SHA tag is written last",
		rule: func() faultproxy.Rule {
			first := ""
			return func(r *http.Request, _ int) faultproxy.Fault {
				if r.Method != http.MethodPut || !isManifest(r) {
					return faultproxy.None
				}
				ref := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
				if strings.HasPrefix(ref, "sha256:") {
					return faultproxy.None
				}
				if first == "" {
					first = ref
				}
				if ref != first {
					return faultproxy.Status503
				}
				return faultproxy.None
			}
		},
		wantErr:   true,
		transient: true,
		wantTags:  []string{"1.0.0"},
		faults:    []faultproxy.Fault{faultproxy.Status503},
	}}
}

func isBlobUpload(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads/") }

func isManifest(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") }

// refuseUploads answers f to every request that starts a blob upload.
func refuseUploads(f faultproxy.Fault) func() faultproxy.Rule {
	return func() faultproxy.Rule {
		return func(r *http.Request, _ int) faultproxy.Fault {
			if r.Method == http.MethodPost && isBlobUpload(r) {
				return f
			}
			return faultproxy.None
		}
	}
}

// TestFaultPush pushes a small image through a proxy that breaks the
// registry or the network in one way per case, into an in-memory registry
// and into the test bed's, and checks what the repo is left with: every
// tag resolves to the image and every blob of it is there, or no tag
// (but the semver one, when only the SHA tag failed) exists.
func TestFaultPush(t *testing.T) {
	for _, backend := range []struct {
		name     string
		registry func(t *testing.T) string // the registry's base URL
	}{
		// One registry per case: the in-memory one shares blobs across repos.
		{"memory", func(t *testing.T) string {
			srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			t.Cleanup(srv.Close)
			return srv.URL
		}},
		{"testbed", func(t *testing.T) string { return "http://" + testbed.Registry(t) }},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range faultCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					pushThroughFaults(t, backend.registry(t), faultImage(t), []string{faultSHA, "1.0.0"}, tc)
				})
			}
		})
	}
}

// faultImage is a new image, so that no blob of it is in the registry yet,
// of three layers of distinct sizes (the reset rule tells blobs apart by
// size), compressed once: random's layers gzip on every read, which
// dominates a push under -race.
func faultImage(t *testing.T) v1.Image {
	t.Helper()
	img := empty.Image
	for _, size := range []int64{192 << 10, 256 << 10, 320 << 10} {
		l, err := random.Layer(size, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, static.NewLayer(b, types.DockerLayer)); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// TestFaultPushBuiltImage pushes an image phpbuild built, runtime layers
// and all, through connection resets into the test bed's registry.
func TestFaultPushBuiltImage(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "plain")
	oci := filepath.Join(t.TempDir(), "oci")
	res, err := build.Publish(ctx, dir, output(t, "oci:"+oci), buildOpts(t, rt)...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	p, err := layout.FromPath(oci)
	if err != nil {
		t.Fatal(err)
	}
	d, err := v1.NewHash(res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(d)
	if err != nil {
		t.Fatalf("reading the built image from %s: %v", oci, err)
	}
	tc := faultCaseNamed(t, "reset every third blob upload request")
	tc.wantTags = slices.Sorted(slices.Values(res.Tags))
	pushThroughFaults(t, "http://"+testbed.Registry(t), img, res.Tags, tc)
}

func faultCaseNamed(t *testing.T, name string) faultCase {
	t.Helper()
	for _, tc := range faultCases() {
		if tc.name == name {
			return tc
		}
	}
	t.Fatalf("no fault case %q", name)
	return faultCase{}
}

// pushThroughFaults pushes img with tags through a proxy in front of the
// registry at base that applies tc's rule, and checks the outcome on the
// registry itself.
func pushThroughFaults(t *testing.T, base string, img v1.Image, tags []string, tc faultCase) {
	t.Helper()
	proxy := faultproxy.New(base, tc.rule())
	t.Cleanup(proxy.Close)
	path := "phpbuild-test/fault-" + strings.ToLower(rand.Text()[:12])
	repo, err := name.NewRepository(proxy.Addr() + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := name.NewRepository(strings.TrimPrefix(base, "http://") + "/" + path)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	timeout := tc.timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	opts := append(build.DefaultRemote(),
		remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 4}),
		remote.WithRetryStatusCodes(500, 502, 503, 504, 429, 408),
		remote.WithTransport(tr))
	start := time.Now()
	refs, err := build.Push(ctx, img, repo, tags, nil, nil, opts...)
	took := time.Since(start)
	injected := map[string]int{}
	for f := faultproxy.None + 1; f <= faultproxy.Stall; f++ {
		if n := proxy.Injected(f); n > 0 {
			injected[f.String()] = n
		}
	}
	t.Logf("push took %v over %d requests, faults %v; err: %v", took.Round(time.Millisecond), proxy.Requests(), injected, err)

	n := 0
	for _, f := range tc.faults {
		n += proxy.Injected(f)
	}
	if n == 0 {
		t.Errorf("no %v fault was injected: the case tests nothing", tc.faults)
	}
	if tc.wantErr {
		switch {
		case err == nil:
			t.Errorf("push succeeded with refs %q, want an error", refs)
		case transient.Is(err) != tc.transient:
			t.Errorf("transient.Is(%v) = %v, want %v", err, !tc.transient, tc.transient)
		case !strings.Contains(err.Error(), repo.String()):
			t.Errorf("err = %v, want it to name %s", err, repo)
		}
	} else {
		var want []string
		for _, tag := range sortSHALast(tags) {
			want = append(want, repo.Tag(tag).String()+"@"+digest.String())
		}
		if err != nil {
			t.Errorf("push: %v", err)
		} else if diff := cmp.Diff(want, refs); diff != "" {
			t.Errorf("refs (-want +got):\n%s", diff)
		}
	}
	if tc.timeout > 0 {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want the deadline", err)
		}
		if took > tc.timeout+time.Second {
			t.Errorf("push returned %v after the start, %v past its deadline", took, took-tc.timeout)
		}
	}

	checkCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := faultRepoTags(t, checkCtx, direct)
	if diff := cmp.Diff(tc.wantTags, got); diff != "" {
		t.Errorf("tags in the repo (-want +got):\n%s", diff)
	}
	for _, tag := range got {
		checkTagComplete(t, checkCtx, direct.Tag(tag), digest)
	}
}

// sortSHALast is the order Push writes tags in: the commit's SHA last.
func sortSHALast(tags []string) []string {
	isSHA := func(s string) bool {
		return len(s) == 40 && strings.Trim(s, "0123456789abcdef") == ""
	}
	out := slices.Clone(tags)
	slices.SortStableFunc(out, func(a, b string) int {
		switch {
		case isSHA(a) && !isSHA(b):
			return 1
		case isSHA(b) && !isSHA(a):
			return -1
		}
		return 0
	})
	return out
}

// faultRepoTags lists repo's tags, sorted; none when the repo is unknown.
func faultRepoTags(t *testing.T, ctx context.Context, repo name.Repository) []string {
	t.Helper()
	tags, err := remote.List(repo, remote.WithContext(ctx))
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil
	}
	if err != nil {
		t.Fatalf("listing %s: %v", repo, err)
	}
	if len(tags) == 0 {
		return nil
	}
	slices.Sort(tags)
	return tags
}

// checkTagComplete checks that tag resolves to want and that the registry
// has every blob of want's manifest.
func checkTagComplete(t *testing.T, ctx context.Context, tag name.Tag, want v1.Hash) {
	t.Helper()
	img, err := remote.Image(tag, remote.WithContext(ctx))
	if err != nil {
		t.Errorf("reading %s: %v", tag, err)
		return
	}
	if d, err := img.Digest(); err != nil || d != want {
		t.Errorf("%s is %v (%v), want %s", tag, d, err, want)
		return
	}
	m, err := img.Manifest()
	if err != nil {
		t.Errorf("%s: %v", tag, err)
		return
	}
	blobs := []v1.Hash{m.Config.Digest}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, d := range blobs {
		u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", tag.Scheme(), tag.RegistryStr(), tag.RepositoryStr(), d)
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("HEAD %s: %v", u, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s points at blob %s, which the registry answers %s", tag, d, resp.Status)
		}
	}
}
