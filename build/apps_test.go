package build_test

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/voltequiv"
	"github.com/phpbuild/phpbuild/testbed"
)

func TestBuildAssetsApp(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "assets")
	repo := testRepo(t, "assets")
	var rec recorder
	res, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"vendor", "autoload", "assets", "config", "app"}; !slices.Equal(got, want) {
		t.Errorf("built %q, want %q", got, want)
	}
	ctr, base := runImage(t, repo.Digest(res.Digest).String())
	p := get(t, base+"/")
	css := regexp.MustCompile(`/build/app\.[0-9a-f]{12}\.css`).FindString(p.body)
	if p.status != 200 || css == "" {
		t.Fatalf("GET / = %d %q; want a page linking the built css", p.status, p.body)
	}
	c := get(t, base+css)
	if c.status != 200 || !strings.Contains(c.body, "/* app.css */") {
		t.Errorf("GET %s = %d %q", css, c.status, c.body)
	}
	if cc := c.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") || strings.Contains(cc, "max-age=0") {
		t.Errorf("static file Cache-Control = %q, want a long max-age", cc)
	}
	out, _ := ctr.Exec(t, "sh", "-c", "ls /app; ls /app/public/build; find / -xdev -name node_modules -print 2>/dev/null | head -3")
	for _, absent := range []string{"package.json", "package-lock.json", "node_modules"} {
		if slices.Contains(strings.Fields(out), absent) || strings.Contains(out, "/node_modules") {
			t.Errorf("%s shipped:\n%s", absent, out)
		}
	}

	// A PHP-only change leaves the assets layer as it was.
	write(t, dir, "public/index.php", strings.Replace(readFile(t, dir+"/public/index.php"), "assets app", "assets app v2", 1))
	commit(t, dir, "php change", "2026-01-04T00:00:00Z")
	rec = recorder{}
	if _, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...); err != nil {
		t.Fatal(err)
	}
	if got := rec.built(); !slices.Equal(got, []string{"app"}) {
		t.Errorf("after a PHP change built %q, want only app", got)
	}
}

// TestBuildPhalconApp builds the small Phalcon app on a runtime with real
// Phalcon (buildtest.PhalconRuntimes; compiled once per machine).
func TestBuildPhalconApp(t *testing.T) {
	rtRepo, _ := buildtest.PhalconRuntimes(t)
	ctx := ctxT(t) // after the runtime, whose first build takes most of an hour
	dir := gitApp(t, "phalcon")
	repo := testRepo(t, "phalcon")
	var rec recorder
	res, err := push(ctx, dir, repo, buildOpts(t, rtRepo, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"vendor", "autoload", "volt", "config", "app"}; !slices.Equal(got, want) {
		t.Errorf("built %q, want %q", got, want)
	}
	ctr, base := runImage(t, repo.Digest(res.Digest).String())
	list := func() string {
		out, code := ctr.Exec(t, "sh", "-c", "cd /app/compiled/volt && ls -la --time-style=+%s . | sort")
		if code != 0 {
			t.Fatalf("listing compiled templates: %d\n%s", code, out)
		}
		return out
	}
	before := list()
	for _, n := range []string{"_app_app_views_index_index.volt.php", "_app_app_views_layouts_main.volt_e_.php"} {
		if !strings.Contains(before, n) {
			t.Errorf("compiled dir lacks %s:\n%s", n, before)
		}
	}
	p := get(t, base+"/")
	if p.status != 200 || !strings.Contains(p.body, "<h1>TESTER!</h1>") || !strings.Contains(p.body, "<header>phpbuild testdata</header>") || !strings.Contains(p.body, "<title>Hello</title>") {
		t.Errorf("GET / = %d %q; want the layout, the partial and the custom filter", p.status, p.body)
	}
	if h := get(t, base+"/health"); h.status != 200 || h.body != "ok\n" {
		t.Errorf("GET /health = %d %q; want the app's HealthController", h.status, h.body)
	}
	if g := get(t, base+"/index.volt"); g.status != 404 && g.status != 403 {
		t.Errorf("GET /index.volt = %d", g.status)
	}
	// Outside the web root: the front controller answers (this app has no
	// 404 page), never the files.
	for _, n := range []string{"/../app/views/index/index.volt", "/compiled/volt/_app_app_views_index_index.volt.php"} {
		if g := get(t, base+n); g.status == 200 || strings.Contains(g.body, "{%") || strings.Contains(g.body, "<?php") {
			t.Errorf("GET %s = %d %q", n, g.status, g.body)
		}
	}
	if after := list(); after != before {
		t.Errorf("templates were compiled at run time:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	t.Run("precompiled templates are Phalcon's own", func(t *testing.T) {
		voltequiv.Check(t, voltequiv.Options{Image: repo.Digest(res.Digest).String(), Visit: func(t testing.TB, base string) {
			voltequiv.Crawl(t, nil, base, []string{"/"}, 20)
		}})
	})

	t.Run("a Volt syntax error names the template and line", func(t *testing.T) {
		write(t, dir, "app/views/partials/header.volt", "<header>\n{{ oops( }}\n</header>\n")
		commit(t, dir, "broken template", "2026-01-05T00:00:00Z")
		_, err := push(ctx, dir, repo, buildOpts(t, rtRepo)...)
		var bad *badinput.Error
		if !errors.As(err, &bad) || !strings.HasSuffix(bad.File, filepath.Join("app", "views", "partials", "header.volt")) || bad.Line != 2 {
			t.Fatalf("err = %#v (%v), want a bad-input error at header.volt:2", err, err)
		}
	})
}

// TestBuildOutputs builds the bare app (no composer, web root ".") to the
// local daemon, a tarball and an OCI layout, without a registry target.
func TestBuildOutputs(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	dir := gitApp(t, "bare")
	tarPath := filepath.Join(t.TempDir(), "out", "image.tar")
	ociPath := filepath.Join(t.TempDir(), "oci")
	outs := build.Multi(output(t, "docker"), output(t, "tar:"+tarPath), output(t, "oci:"+ociPath))
	res, err := build.Publish(ctx, dir, outs, buildOpts(t, rt)...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	sha := git(t, dir, "rev-parse", "HEAD")
	if want := []string{"docker:phpbuild/app:" + sha, "tar:" + tarPath, "oci:" + ociPath}; !slices.Equal(res.Outputs, want) {
		t.Errorf("outputs = %q, want %q", res.Outputs, want)
	}
	fromTar, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(ociPath)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(res.Digest)
	fromOCI, err := idx.Image(h)
	if err != nil {
		t.Fatalf("OCI layout lacks %s: %v", res.Digest, err)
	}
	// docker's tarball format keeps no manifest; the config identifies the
	// image there.
	c1, _ := fromTar.ConfigName()
	c2, _ := fromOCI.ConfigName()
	if c1 != c2 {
		t.Errorf("tarball config %s, OCI layout config %s", c1, c2)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range m.Manifests {
		if name, ok := d.Annotations["org.opencontainers.image.ref.name"]; ok {
			got = append(got, name+"@"+d.Digest.String())
			continue
		}
		// The SBOM and the provenance, untagged, refer to the image.
		a, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		am, err := a.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if am.Subject == nil || am.Subject.Digest.String() != res.Digest {
			t.Errorf("OCI layout manifest %s: subject %v, want the image %s", d.Digest, am.Subject, res.Digest)
		}
		got = append(got, am.ArtifactType)
	}
	if want := []string{sha + "@" + res.Digest, "1.0.0@" + res.Digest, attest.SBOMType, attest.ProvenanceType}; !slices.Equal(got, want) {
		t.Errorf("OCI layout has %q, want %q", got, want)
	}
	if len(res.Attachments) != 2 {
		t.Errorf("result's attachments %+v, want the SBOM and the provenance", res.Attachments)
	}
	_, base := runSpec(t, testbed.ContainerSpec{Image: "phpbuild/app:1.0.0", Local: true})
	if p := get(t, base+"/"); p.status != 200 || !strings.Contains(p.body, "bare") {
		t.Errorf("GET / = %d %q", p.status, p.body)
	}
	for _, p := range []string{"/vendor/x.php", "/.env", "/.gitignore", "/.git/HEAD"} {
		if g := get(t, base+p); g.status != 404 && g.status != 403 {
			t.Errorf("GET %s = %d %q (web root is the app root)", p, g.status, g.body)
		}
	}
}
