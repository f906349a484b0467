package runtimes

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/transient"
)

// testRepo returns a runtime repo in a fresh in-memory registry.
func testRepo(t *testing.T) name.Repository {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return repoAt(t, s.URL)
}

func repoAt(t *testing.T, serverURL string) name.Repository {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(u.Host + "/team/php-runtimes")
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// pushImage pushes a random image to repo and returns its digest.
func pushImage(t *testing.T, repo name.Repository) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Digest(d.String()), img); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// pushIndex pushes a random multi-image index to repo and returns its digest.
func pushIndex(t *testing.T, repo name.Repository) string {
	t.Helper()
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(repo.Digest(d.String()), idx); err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// testEntry returns a complete entry whose images are pushed to repo.
func testEntry(t *testing.T, repo name.Repository, key, php, phalcon string) Entry {
	t.Helper()
	return Entry{
		Key:        "sha256:" + strings.Repeat(key, 64/len(key)),
		PHP:        php,
		PHPMinor:   php[:strings.LastIndex(php, ".")],
		Phalcon:    phalcon,
		Extensions: []string{"core", "mbstring", "pdo_mysql"},
		Base:       "docker.io/library/debian:bookworm-slim",
		BaseDigest: "sha256:" + strings.Repeat("b", 64),
		Run:        pushImage(t, repo),
		Build:      pushImage(t, repo),
		Composer:   pushImage(t, repo),
		Built:      "2025-06-01T12:00:00Z",
	}
}

func record(t *testing.T, repo name.Repository, e Entry) {
	t.Helper()
	if err := Record(context.Background(), repo, e); err != nil {
		t.Fatalf("Record(%s): %v", e.Key, err)
	}
}

func readManifest(t *testing.T, repo name.Repository) []Entry {
	t.Helper()
	got, err := ReadManifest(context.Background(), repo)
	if err != nil {
		t.Fatalf("ReadManifest: %v", err)
	}
	// Each entry has its run image's manifest and config, as the registry
	// holds them; the rest is compared by the caller.
	for i, e := range got {
		img, err := remote.Image(repo.Digest(e.Run))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := img.RawManifest()
		cfg, _ := img.RawConfigFile()
		if !bytes.Equal(e.RunManifest, m) || !bytes.Equal(e.RunConfig, cfg) {
			t.Errorf("entry %s: run image manifest %q and config %q, want %q and %q", e.Key, e.RunManifest, e.RunConfig, m, cfg)
		}
		got[i].RunManifest, got[i].RunConfig = nil, nil
	}
	return got
}

// indexManifest returns the index the manifest tag points to.
func indexManifest(t *testing.T, repo name.Repository) *v1.IndexManifest {
	t.Helper()
	idx, err := remote.Index(repo.Tag(ManifestTag))
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadManifestEmptyRepo(t *testing.T) {
	repo := testRepo(t)
	got := readManifest(t, repo)
	if got == nil {
		t.Error("ReadManifest returned a nil slice, want empty")
	}
	if diff := cmp.Diff([]Entry{}, got); diff != "" {
		t.Errorf("ReadManifest (-want +got):\n%s", diff)
	}
}

func TestRecordManifest(t *testing.T) {
	// Each step records entry i of the case's entries (possibly changed);
	// want lists indexes into the recorded entries in ReadManifest order.
	type step struct {
		entry  int
		change func(*Entry)
	}
	tests := []struct {
		name    string
		entries [][2]string // PHP, Phalcon
		steps   []step
		want    []int
	}{{
		name:    "one entry",
		entries: [][2]string{{"8.2.29", "5.9.3"}},
		steps:   []step{{entry: 0}},
		want:    []int{0},
	}, {
		name:    "newest PHP first",
		entries: [][2]string{{"8.2.29", "5.9.3"}, {"8.4.11", "5.9.3"}, {"8.10.0", ""}},
		steps:   []step{{entry: 0}, {entry: 1}, {entry: 2}},
		want:    []int{2, 1, 0},
	}, {
		name:    "same PHP, newest Phalcon first, none last",
		entries: [][2]string{{"8.2.29", ""}, {"8.2.29", "5.8.0"}, {"8.2.29", "5.10.1"}},
		steps:   []step{{entry: 0}, {entry: 1}, {entry: 2}},
		want:    []int{2, 1, 0},
	}, {
		name:    "same key replaces",
		entries: [][2]string{{"8.2.29", "5.9.3"}, {"8.4.11", "5.9.3"}},
		steps: []step{{entry: 0}, {entry: 1}, {entry: 0, change: func(e *Entry) {
			e.PHP = "8.2.30"
			e.Built = "2025-07-01T12:00:00Z"
		}}},
		want: []int{1, 0},
	}, {
		name:    "same key, same images again",
		entries: [][2]string{{"8.2.29", "5.9.3"}},
		steps:   []step{{entry: 0}, {entry: 0}},
		want:    []int{0},
	}, {
		name:    "an entry from before composer images, beside one with",
		entries: [][2]string{{"8.2.29", ""}, {"8.4.11", ""}},
		steps:   []step{{entry: 0, change: func(e *Entry) { e.Composer = "" }}, {entry: 1}},
		want:    []int{1, 0},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := testRepo(t)
			var entries []Entry
			for i, pv := range tc.entries {
				entries = append(entries, testEntry(t, repo, fmt.Sprintf("%x", i+1), pv[0], pv[1]))
			}
			recorded := map[int]Entry{}
			for _, s := range tc.steps {
				e := entries[s.entry]
				if s.change != nil {
					s.change(&e)
					e.Run, e.Build = pushImage(t, repo), pushImage(t, repo)
					if e.Composer != "" {
						e.Composer = pushImage(t, repo)
					}
				}
				record(t, repo, e)
				recorded[s.entry] = e
			}
			var want []Entry
			for _, i := range tc.want {
				want = append(want, recorded[i])
			}

			got := readManifest(t, repo)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ReadManifest (-want +got):\n%s", diff)
			}
			for _, e := range want {
				if found, ok := Find(got, e.Key); !ok || found.Run != e.Run {
					t.Errorf("Find(%s) = %v, %v; want the recorded entry", e.Key, found, ok)
				}
			}
			checkIndex(t, repo, want)
		})
	}
}

// checkIndex checks that the manifest tag's index lists exactly the run,
// build and composer image of each entry, annotated, and that each resolves by digest.
func checkIndex(t *testing.T, repo name.Repository, entries []Entry) {
	t.Helper()
	m := indexManifest(t, repo)
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type = %s, want %s", m.MediaType, types.OCIImageIndex)
	}
	type child struct {
		Digest      string
		Annotations map[string]string
	}
	var want, got []child
	for _, e := range entries {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want,
			child{e.Run, map[string]string{annotationKey: e.Key, annotationRole: roleRun, annotationEntry: string(j)}},
			child{e.Build, map[string]string{annotationKey: e.Key, annotationRole: roleBuild}})
		if e.Composer != "" {
			want = append(want, child{e.Composer, map[string]string{annotationKey: e.Key, annotationRole: roleComposer}})
		}
	}
	for _, d := range m.Manifests {
		if d.Annotations[annotationRole] == roleRun && (len(d.Data) == 0 || d.Annotations[annotationRunConfig] == "") {
			t.Errorf("run child %s: data %d bytes, config annotation %d bytes; want the run image's manifest and config", d.Digest, len(d.Data), len(d.Annotations[annotationRunConfig]))
		}
		delete(d.Annotations, annotationRunConfig) // readManifest checks it
		got = append(got, child{d.Digest.String(), d.Annotations})
		if _, err := remote.Get(repo.Digest(d.Digest.String())); err != nil {
			t.Errorf("child %s does not resolve: %v", d.Digest, err)
		}
	}
	byDigest := cmpopts.SortSlices(func(a, b child) bool { return a.Digest < b.Digest })
	if diff := cmp.Diff(want, got, byDigest); diff != "" {
		t.Errorf("index children (-want +got):\n%s", diff)
	}
}

func TestRecordKeepsOtherDescriptors(t *testing.T) {
	repo := testRepo(t)
	a := testEntry(t, repo, "a", "8.2.29", "5.9.3")
	record(t, repo, a)
	before := indexManifest(t, repo).Manifests

	record(t, repo, testEntry(t, repo, "b", "8.4.11", "5.9.3"))
	var after []v1.Descriptor
	for _, d := range indexManifest(t, repo).Manifests {
		if d.Annotations[annotationKey] == a.Key {
			after = append(after, d)
		}
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("descriptors of the kept entry (-before +after):\n%s", diff)
	}
}

func TestRecordIndexChild(t *testing.T) {
	repo := testRepo(t)
	e := testEntry(t, repo, "a", "8.2.29", "5.9.3")
	e.Run = pushIndex(t, repo)
	record(t, repo, e)
	if diff := cmp.Diff([]Entry{e}, readManifest(t, repo)); diff != "" {
		t.Errorf("ReadManifest (-want +got):\n%s", diff)
	}
	checkIndex(t, repo, []Entry{e})
}

func TestRecordDropsEntryWithDeletedImage(t *testing.T) {
	repo := testRepo(t)
	a := testEntry(t, repo, "a", "8.2.29", "5.9.3")
	record(t, repo, a)
	if err := remote.Delete(a.BuildRef(repo)); err != nil {
		t.Fatal(err)
	}
	b := testEntry(t, repo, "b", "8.4.11", "5.9.3")
	record(t, repo, b)
	if diff := cmp.Diff([]Entry{b}, readManifest(t, repo)); diff != "" {
		t.Errorf("ReadManifest (-want +got):\n%s", diff)
	}
	checkIndex(t, repo, []Entry{b})
}

func TestRecordRejects(t *testing.T) {
	absent := "sha256:" + strings.Repeat("0", 64)
	tests := []struct {
		name   string
		change func(*Entry)
	}{
		{"run image not in repo", func(e *Entry) { e.Run = absent }},
		{"build image not in repo", func(e *Entry) { e.Build = absent }},
		{"run digest invalid", func(e *Entry) { e.Run = "latest" }},
		{"no key", func(e *Entry) { e.Key = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := testRepo(t)
			kept := testEntry(t, repo, "a", "8.2.29", "5.9.3")
			record(t, repo, kept)

			e := testEntry(t, repo, "b", "8.4.11", "5.9.3")
			tc.change(&e)
			err := Record(context.Background(), repo, e)
			if err == nil {
				t.Fatal("Record succeeded, want an error")
			}
			t.Logf("Record: %v", err)
			if !strings.Contains(err.Error(), repo.String()) {
				t.Errorf("error %q does not name the repo", err)
			}
			if transient.Is(err) {
				t.Errorf("transient.Is(%v) = true, want false", err)
			}
			if diff := cmp.Diff([]Entry{kept}, readManifest(t, repo)); diff != "" {
				t.Errorf("manifest changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestManifestEntryRefs(t *testing.T) {
	repo, err := name.NewRepository("registry.example.com/team/php-runtimes")
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{Run: "sha256:" + strings.Repeat("1", 64), Build: "sha256:" + strings.Repeat("2", 64)}
	if got, want := e.RunRef(repo).String(), "registry.example.com/team/php-runtimes@"+e.Run; got != want {
		t.Errorf("RunRef = %s, want %s", got, want)
	}
	if got, want := e.BuildRef(repo).String(), "registry.example.com/team/php-runtimes@"+e.Build; got != want {
		t.Errorf("BuildRef = %s, want %s", got, want)
	}
}

// TestBuildResultImages: the images a runtime has, as tagged, the run
// image first; one recorded without a composer image lists none.
func TestBuildResultImages(t *testing.T) {
	repo, err := name.NewRepository("registry.example.com/team/php-runtimes")
	if err != nil {
		t.Fatal(err)
	}
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	e := Entry{Key: d("a"), PHP: "8.4.28", Run: d("1"), Build: d("2"), CLI: d("4"), Node: d("5"),
		Platforms: []PlatformRun{{Platform: "linux/arm64", Run: d("6")}}}
	var got []string
	for _, im := range newResult(repo, e).Images() {
		got = append(got, im.Role+" "+im.Tag.String()+"@"+im.Digest)
	}
	tag := "registry.example.com/team/php-runtimes:php8.4.28-aaaaaaaaaaaa"
	want := []string{"run " + tag + "@" + d("1"), "build " + tag + "-build@" + d("2"), "cli " + tag + "-cli@" + d("4"),
		"node " + tag + "-node@" + d("5"), "run-arm64 " + tag + "-run-arm64@" + d("6")}
	if !slices.Equal(got, want) {
		t.Errorf("Images:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestManifestRegistryErrorsTransient(t *testing.T) {
	noRetry := remote.WithRetryBackoff(remote.Backoff{Steps: 1})
	tests := []struct {
		name      string
		pingOK    bool // whether /v2/ answers 200 and only the repo's URLs fail
		status    int
		transient bool
	}{
		{"unavailable", false, http.StatusServiceUnavailable, true},
		{"manifest unavailable", true, http.StatusServiceUnavailable, true},
		{"too many requests", true, http.StatusTooManyRequests, true},
		{"bad gateway", true, http.StatusBadGateway, true},
		{"forbidden", true, http.StatusForbidden, false},
		{"unauthorized", false, http.StatusUnauthorized, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.pingOK && r.URL.Path == "/v2/" {
					return
				}
				w.WriteHeader(tc.status)
			}))
			t.Cleanup(s.Close)
			repo := repoAt(t, s.URL)

			_, err := ReadManifest(context.Background(), repo, noRetry)
			if err == nil {
				t.Fatal("ReadManifest succeeded, want an error")
			}
			t.Logf("ReadManifest: %v", err)
			if !strings.Contains(err.Error(), repo.String()) {
				t.Errorf("error %q does not name the repo", err)
			}
			if got := transient.Is(err); got != tc.transient {
				t.Errorf("ReadManifest: transient.Is(%v) = %v, want %v", err, got, tc.transient)
			}

			e := Entry{Key: "sha256:" + strings.Repeat("1", 64), Run: "sha256:" + strings.Repeat("1", 64), Build: "sha256:" + strings.Repeat("2", 64)}
			err = Record(context.Background(), repo, e, noRetry)
			if err == nil {
				t.Fatal("Record succeeded, want an error")
			}
			if got := transient.Is(err); got != tc.transient {
				t.Errorf("Record: transient.Is(%v) = %v, want %v", err, got, tc.transient)
			}
		})
	}
}

func TestRecordTransientWriteFailure(t *testing.T) {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/manifests/"+ManifestTag) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	repo := repoAt(t, s.URL)

	err := Record(context.Background(), repo, testEntry(t, repo, "a", "8.2.29", "5.9.3"), remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err == nil {
		t.Fatal("Record succeeded, want an error")
	}
	t.Logf("Record: %v", err)
	if !transient.Is(err) {
		t.Errorf("Record error %v is not transient", err)
	}
}

func TestManifestConnectionRefusedTransient(t *testing.T) {
	s := httptest.NewServer(http.NotFoundHandler())
	repo := repoAt(t, s.URL)
	s.Close()

	_, err := ReadManifest(context.Background(), repo, remote.WithRetryBackoff(remote.Backoff{Steps: 1}))
	if err == nil {
		t.Fatal("ReadManifest succeeded, want an error")
	}
	t.Logf("ReadManifest: %v", err)
	if !transient.Is(err) {
		t.Errorf("transient.Is(%v) = false, want true", err)
	}
}

func TestReadManifestOrderTies(t *testing.T) {
	m := &v1.IndexManifest{}
	add := func(e Entry) {
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		m.Manifests = append(m.Manifests, v1.Descriptor{Annotations: map[string]string{
			annotationKey: e.Key, annotationRole: roleRun, annotationEntry: string(j),
		}}, v1.Descriptor{Annotations: map[string]string{annotationKey: e.Key, annotationRole: roleBuild}})
	}
	older := Entry{Key: "sha256:2", PHP: "8.2.29", Phalcon: "5.9.3", Built: "2025-01-01T00:00:00Z"}
	newer := Entry{Key: "sha256:1", PHP: "8.2.29", Phalcon: "5.9.3", Built: "2025-02-01T00:00:00Z"}
	rc := Entry{Key: "sha256:3", PHP: "8.2.29", Phalcon: "5.0.0RC4"}
	add(rc)
	add(older)
	add(newer)
	got, err := manifestEntries(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{newer, older, rc}, got); diff != "" {
		t.Errorf("manifestEntries order (-want +got):\n%s", diff)
	}
}
