// Package voltequiv proves, on a built image, that phpbuild's precompiled
// Volt templates are exactly what Phalcon compiles at run time: it runs the
// image with the precompiled files removed, lets Phalcon compile every
// template as pages are requested, and compares the two byte for byte.
package voltequiv

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/testbed"
)

// Options say how to run the image and which pages render its templates.
type Options struct {
	// Image is a registry reference of an image phpbuild built.
	Image string
	// Env is the container's environment (database, secrets).
	Env []string
	// Visit requests every page of the app against base, so that each
	// template is rendered once; Crawl does it for linked GET pages.
	Visit func(t testing.TB, base string)
}

// Check runs the comparison and fails t, naming each template, when a
// precompiled file differs from Phalcon's own, is never compiled at run
// time (no visited page renders it), or when Phalcon compiles a template
// phpbuild did not precompile.
func Check(t testing.TB, o Options) {
	t.Helper()
	pre, err := Precompiled(o.Image)
	if err != nil {
		t.Fatal(err)
	}
	if len(pre) == 0 {
		t.Fatalf("%s has no precompiled templates in its volt layer", o.Image)
	}
	port := testbed.FreePort(t)
	// Writable, so Phalcon can compile at run time.
	c := testbed.StartContainer(t, testbed.ContainerSpec{Image: o.Image, Env: o.Env, HostPort: port, ContainerPort: 8080})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	c.WaitHealthy(t, base, 60*time.Second)
	// The health route renders no template, so nothing compiled is cached
	// by opcache yet: remove the precompiled files and let the app user
	// write where Phalcon compiles.
	files := slices.Sorted(func(yield func(string) bool) {
		for p := range pre {
			if !yield(p) {
				return
			}
		}
	})
	dirs := map[string]bool{}
	for _, p := range files {
		dirs[path.Dir(p)] = true
	}
	args := append([]string{"rm", "-f", "--"}, files...)
	if out, code := c.ExecAs(t, "0", args...); code != 0 {
		t.Fatalf("removing the precompiled templates: %d %s", code, out)
	}
	for d := range dirs {
		if out, code := c.ExecAs(t, "0", "chown", "1000:1000", d); code != 0 {
			t.Fatalf("chown %s: %d %s", d, code, out)
		}
	}
	o.Visit(t, base)

	got := map[string][]byte{}
	for d := range dirs {
		for p, b := range c.ReadFiles(t, d) {
			// Compiled names embed the template's, .volt included; other
			// files there (.gitkeep) are the app's.
			if !strings.HasSuffix(p, ".volt") && strings.Contains(path.Base(p), ".volt") {
				got[p] = b
			}
		}
	}
	var problems []string
	for _, p := range files {
		b, ok := got[p]
		switch {
		case !ok && parentOnly(p, got):
			// A layout every page extends is compiled in extends mode only;
			// its plain form is precompiled in case a page renders it.
			t.Logf("%s: not compiled at run time; its template is only ever extended", p)
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: Phalcon never compiled it at run time: no visited page renders its template", p))
		case !bytes.Equal(b, pre[p]):
			problems = append(problems, fmt.Sprintf("%s differs from Phalcon's own compile:\n%s", p, firstDiff(pre[p], b)))
		}
	}
	for p := range got {
		if _, ok := pre[p]; !ok {
			problems = append(problems, fmt.Sprintf("%s: compiled at run time, but phpbuild did not precompile it", p))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) == 0 {
		t.Logf("%d compiled templates byte-identical to Phalcon's run-time compile", len(files))
	}
}

// parentOnly reports whether the template p is the compiled form of was
// compiled at run time in another mode only: as the parent of an extends.
func parentOnly(p string, got map[string][]byte) bool {
	i := strings.LastIndex(p, ".volt")
	if i < 0 {
		return false
	}
	stem := p[:i+len(".volt")]
	for g := range got {
		if g != p && strings.HasPrefix(g, stem) {
			return true
		}
	}
	return false
}

// Precompiled reads the compiled templates (every regular file that is not
// a .volt template) from the volt layer of a phpbuild image.
func Precompiled(ref string) (map[string][]byte, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	layer, err := build.LayerNamed(img, "volt")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	return compiledIn(layer)
}

func compiledIn(l v1.Layer) (map[string][]byte, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || strings.HasSuffix(h.Name, ".volt") {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[path.Clean("/"+h.Name)] = b
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("  line %d precompiled: %q\n  line %d at run time: %q", i+1, wl, i+1, gl)
		}
	}
	return "  (same lines, different bytes)"
}

var hrefRE = regexp.MustCompile(`href="([^"#]*)`)

// Crawl GETs start and every same-site page linked from the pages it gets,
// up to limit pages, with one cookie jar (so a login the caller made with
// client holds); it never follows a link to a path containing "logout".
// It returns the paths visited.
func Crawl(t testing.TB, client *http.Client, base string, start []string, limit int) []string {
	t.Helper()
	if client == nil {
		client = NewClient(t)
	}
	seen := map[string]bool{}
	queue := append([]string{}, start...)
	var visited []string
	for len(queue) > 0 && len(visited) < limit {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		resp, err := client.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		visited = append(visited, p)
		if !strings.Contains(resp.Header.Get("Content-Type"), "html") {
			continue
		}
		for _, m := range hrefRE.FindAllStringSubmatch(string(b), -1) {
			u, err := url.Parse(m[1])
			if err != nil || (u.Host != "" && base != u.Scheme+"://"+u.Host) || u.Path == "" || !strings.HasPrefix(u.Path, "/") {
				continue
			}
			if strings.Contains(u.Path, "logout") || strings.Contains(path.Base(u.Path), ".") {
				continue // static files render no template
			}
			if !seen[u.Path] {
				queue = append(queue, u.Path)
			}
		}
	}
	return visited
}

// NewClient is an HTTP client with a cookie jar that does not follow
// redirects.
func NewClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
