package runtimes_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/testbed"
)

// launcherBinary builds cmd/launcher statically, as `make build` does.
func launcherBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "launcher")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "../cmd/launcher")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the launcher: %v\n%s", err, b)
	}
	return out
}

// testRepo is a repository no earlier run used, so a build really builds.
func testRepo(t *testing.T, registry, purpose string) name.Repository {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(fmt.Sprintf("%s/phpbuild-test/%s-%x", registry, purpose, b))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// peclTarball packs a source dir the way PECL does: NAME-VERSION/ holding
// the sources, package.xml beside it.
func peclTarball(t *testing.T, dir, prefix string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := prefix + "/" + filepath.ToSlash(rel)
		if rel == "package.xml" {
			name = "package.xml"
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), prefix+".tgz")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return file, hex.EncodeToString(sum[:])
}

func newBuilder(t *testing.T) *runtimes.Builder {
	t.Helper()
	b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(testbed.BuildkitHost(t)), runtimes.WithLauncher(launcherBinary(t)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRuntimeBuild builds, verifies and records PHP 8.2 (bookworm) and 8.4
// (trixie) runtimes with an extension compiled from source, then runs
// them: the extension's function answers, the user is not root, no compiler
// is left, the build image has composer and node, and the node image node
// on the CLI image.
func TestRuntimeBuild(t *testing.T) {
	registry := testbed.Registry(t)
	b := newBuilder(t)
	repo := testRepo(t, registry, "runtimes")
	tarball, sum := peclTarball(t, "../testdata/ext/hello", "hello-1.0.0")
	for _, tc := range []struct {
		minor  string
		source runtimes.ExtensionSource
	}{
		{"8.2", runtimes.ExtensionSource{Location: "../testdata/ext/hello"}},
		{"8.4", runtimes.ExtensionSource{Location: tarball, SHA256: sum}},
	} {
		t.Run("php"+tc.minor, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
			defer cancel()
			spec := runtimes.BuildSpec{PHPMinor: tc.minor, Extensions: []runtimes.ExtensionRequest{{Name: "hello", Source: tc.source}, {Name: "gmp"}}}
			start := time.Now()
			res, err := b.Build(ctx, repo, spec)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			t.Logf("built PHP %s in %s: run %s, build %s", res.Entry.PHP, time.Since(start).Round(time.Second), res.Entry.Run, res.Entry.Build)
			if res.Reused {
				t.Error("first build of a fresh repo reported Reused")
			}
			if !strings.HasPrefix(res.Entry.PHP, tc.minor+".") || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(res.Entry.PHP) {
				t.Errorf("recorded PHP %q, want an exact %s.x", res.Entry.PHP, tc.minor)
			}
			for _, ext := range []string{"hello", "gmp", "opcache", "mbstring", "intl", "xml", "curl", "zip", "gd", "pdo_mysql", "pdo_pgsql", "pdo_sqlite", "bcmath", "redis"} {
				if !slices.Contains(res.Entry.Extensions, ext) {
					t.Errorf("recorded extensions %v lack %s", res.Entry.Extensions, ext)
				}
			}

			run := res.RunTag.String()
			out, errOut, code := testbed.DockerRun(t, run, []string{"php"}, "-r", `echo hello_phpbuild("ci"), "\n", posix_geteuid(), "\n", PHP_VERSION, "\n";`)
			if code != 0 || out != "hello ci, from a compiled extension\n1000\n"+res.Entry.PHP+"\n" {
				t.Errorf("run image php: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			out, _, _ = testbed.DockerRun(t, run, []string{"/bin/sh"}, "-c", "command -v gcc cc make phpize || echo no-compiler; ls /var/lib/apt/lists | wc -l; ls -l "+runtimes.LauncherPath+"; stat -c '%u %a' "+runtimes.RunDir)
			if !strings.HasPrefix(out, "no-compiler\n0\n") || !strings.Contains(out, "-rwxr-xr-x") || !strings.HasSuffix(out, "\n1000 755\n") {
				t.Errorf("run image is not slim or lacks the launcher:\n%s", out)
			}
			// Through buildkitd, which reads its zstd layer (see
			// layerCompression) where the test bed's docker 20.10 cannot.
			out, code = testbed.BuildkitRun(t, res.BuildTag.String(), "composer --version && node --version && npm --version && php -r 'echo hello_phpbuild(\"b\");'")
			if code != 0 || !strings.Contains(out, "Composer") || !strings.Contains(out, "hello b") {
				t.Errorf("build image: exit %d, stdout %q", code, out)
			}
			if types := layerTypes(t, res.BuildTag.String()); slices.ContainsFunc(types, func(mt string) bool { return mt != "application/vnd.oci.image.layer.v1.tar+zstd" }) {
				t.Errorf("the build image's layers are %v, want all zstd", types)
			}
			out, errOut, code = testbed.DockerRun(t, res.ComposerTag.String(), []string{"/bin/sh"}, "-c", "composer --version && git --version && php -r 'echo hello_phpbuild(\"c\");' && (command -v node || echo no-node)")
			if code != 0 || !strings.Contains(out, "Composer") || !strings.Contains(out, "hello c") || !strings.HasSuffix(out, "no-node\n") {
				t.Errorf("composer image: exit %d, stdout %q, stderr %q; want composer, git and PHP, and no node", code, out, errOut)
			}
			// The composer image plus one layer (compressed again: see
			// layerCompression).
			if bl, cl := layerDigests(t, res.BuildTag.String()), layerDigests(t, res.ComposerTag.String()); len(bl) != len(cl)+1 {
				t.Errorf("the build image has %d layers, want the composer image's %d and one more", len(bl), len(cl))
			}
			// The CLI image: the same PHP and composer as the composer
			// image, with curl and unzip, on the base image, without the
			// run image's servers and extensions; the platform composer
			// sees in the composer image is recorded.
			// Through buildkitd, the one that pulls it: its zstd layers are
			// more than the test bed's docker 20.10 reads.
			out, code = testbed.BuildkitRun(t, res.CLITag.String(),
				"php -r 'echo PHP_VERSION, \"\\n\";' && composer --version --no-ansi 2>/dev/null | head -n 1 && php -r 'echo function_exists(\"curl_init\") ? \"curl\\n\" : \"no-curl\\n\";' && unzip -v >/dev/null && (command -v php-fpm nginx git node || echo no-servers) && (php -m | grep -qx hello && echo has-hello || echo no-hello)")
			composerVersion, _, _ := testbed.DockerRun(t, res.ComposerTag.String(), []string{"/bin/sh"}, "-c", "composer --version --no-ansi 2>/dev/null | head -n 1")
			if code != 0 || !strings.HasPrefix(out, res.Entry.PHP+"\n"+composerVersion) || !strings.HasSuffix(out, "curl\nno-servers\nno-hello\n") {
				t.Errorf("CLI image: exit %d, stdout %q; want PHP %s, the composer image's %q, curl, unzip, no php-fpm, nginx, git, node or compiled extension", code, out, res.Entry.PHP, composerVersion)
			}
			// Two layers, the base's and one, both zstd (see layerCompression).
			if types := layerTypes(t, res.CLITag.String()); len(types) != 2 || types[0] != "application/vnd.oci.image.layer.v1.tar+zstd" || types[1] != types[0] {
				t.Errorf("the CLI image's layers are %v, want the base's and one more, zstd", types)
			}
			// The node image: the CLI image's blobs and one zstd layer with
			// node and npm, which run; no PHP headers or compilers.
			out, code = testbed.BuildkitRun(t, res.NodeTag.String(), "node --version && npm --version && php -r 'echo PHP_VERSION, \"\\n\";' && (command -v phpize gcc cc || echo no-compiler)")
			if code != 0 || !regexp.MustCompile(`^v\d+\.\d+\.\d+\n\d+\.\d+\.\d+\n`+regexp.QuoteMeta(res.Entry.PHP)+`\nno-compiler\n$`).MatchString(out) {
				t.Errorf("node image: exit %d, stdout %q; want node's and npm's versions, PHP %s and no compiler", code, out, res.Entry.PHP)
			}
			nl, cl := layerDigests(t, res.NodeTag.String()), layerDigests(t, res.CLITag.String())
			if len(nl) != len(cl)+1 || !slices.Equal(nl[:len(cl)], cl) {
				t.Errorf("the node image's layers are %v, want the CLI image's %v and one more", nl, cl)
			}
			if types := layerTypes(t, res.NodeTag.String()); slices.ContainsFunc(types, func(mt string) bool { return mt != "application/vnd.oci.image.layer.v1.tar+zstd" }) {
				t.Errorf("the node image's layers are %v, want all zstd", types)
			}
			for _, ext := range []string{"ext-hello", "ext-gmp", "ext-intl"} {
				if res.Entry.Platform[ext] == "" {
					t.Errorf("recorded platform lacks %s: %v", ext, res.Entry.Platform)
				}
			}
			if !slices.Contains(res.Entry.PlatformHidden, "ext-curl") && res.Entry.Platform["ext-curl"] == "" {
				t.Errorf("ext-curl is neither the composer image's nor hidden: %v, %v", res.Entry.Platform, res.Entry.PlatformHidden)
			}

			start = time.Now()
			again, err := b.Build(ctx, repo, spec)
			if err != nil {
				t.Fatalf("rebuild: %v", err)
			}
			took := time.Since(start)
			t.Logf("no-op rebuild took %s", took.Round(time.Millisecond))
			if !again.Reused || again.Entry.Run != res.Entry.Run || again.Entry.Build != res.Entry.Build || again.Entry.Node != res.Entry.Node {
				t.Errorf("rebuild with identical inputs: reused=%v run %s build %s, want the recorded %s %s", again.Reused, again.Entry.Run, again.Entry.Build, res.Entry.Run, res.Entry.Build)
			}
			if took > 10*time.Second {
				t.Errorf("no-op rebuild took %s, want under 10s", took)
			}
		})
	}
	entries, err := runtimes.ReadManifest(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	var minors []string
	for _, e := range entries {
		minors = append(minors, e.PHPMinor)
	}
	if !slices.Equal(minors, []string{"8.4", "8.2"}) {
		t.Errorf("manifest lists minors %v, want [8.4 8.2]", minors)
	}
}

// TestRuntimeBuildBadInput: each case fails with a clear error, and nothing
// is tagged or recorded in the repo.
func TestRuntimeBuildBadInput(t *testing.T) {
	registry := testbed.Registry(t)
	b := newBuilder(t)
	tarball, sum := peclTarball(t, "../testdata/ext/hello", "hello-1.0.0")
	wrong := strings.Repeat("0", 64)
	for _, tc := range []struct {
		name string
		spec runtimes.BuildSpec
		is   error
		want []string
	}{
		{name: "unknown PHP minor", spec: runtimes.BuildSpec{PHPMinor: "8.3"}, is: runtimes.ErrUnknownMinor, want: []string{"8.3", "8.4, 8.2"}},
		{name: "Phalcon incompatible with the PHP", spec: runtimes.BuildSpec{PHPMinor: "8.2", Phalcon: "4.1.3", PhalconSource: runtimes.ExtensionSource{Location: tarball}}, want: []string{"Phalcon 4.1.3 supports PHP >=7.2 <7.5, not 8.2"}},
		{name: "Phalcon 5.5 on 8.4", spec: runtimes.BuildSpec{PHPMinor: "8.4", Phalcon: "5.5.0", PhalconSource: runtimes.ExtensionSource{Location: tarball}}, want: []string{"not 8.4"}},
		{name: "Phalcon without a source", spec: runtimes.BuildSpec{PHPMinor: "8.2", Phalcon: "5.18.1"}, want: []string{"PHPBUILD_PHALCON_SOURCE"}},
		{name: "extension Debian lacks", spec: runtimes.BuildSpec{PHPMinor: "8.4", Extensions: []runtimes.ExtensionRequest{{Name: "imap"}}}, want: []string{"ext-imap", "--ext imap@"}},
		{name: "wrong sha256", spec: runtimes.BuildSpec{PHPMinor: "8.2", Extensions: []runtimes.ExtensionRequest{{Name: "hello", Source: runtimes.ExtensionSource{Location: tarball, SHA256: wrong}}}}, want: []string{"sha256 mismatch", sum}},
		{name: "missing source", spec: runtimes.BuildSpec{PHPMinor: "8.2", Extensions: []runtimes.ExtensionRequest{{Name: "hello", Source: runtimes.ExtensionSource{Location: "../testdata/ext/nope"}}}}, want: []string{"testdata/ext/nope", "no such file"}},
		{name: "source that does not compile", spec: runtimes.BuildSpec{PHPMinor: "8.2", Extensions: []runtimes.ExtensionRequest{{Name: "broken", Source: runtimes.ExtensionSource{Location: "../testdata/ext/broken"}}}},
			want: []string{"--ext broken", "does not compile", "this_is_not_c", "error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			repo := testRepo(t, registry, "bad")
			_, err := b.Build(ctx, repo, tc.spec)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if !badinput.Is(err) {
				t.Errorf("error is not input the user must fix: %v", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			entries, err := runtimes.ReadManifest(ctx, repo)
			if err != nil || len(entries) != 0 {
				t.Errorf("manifest after a failed build: %v, %v; want none", entries, err)
			}
			if tags, err := remote.List(repo, remote.WithContext(ctx)); err == nil && len(tags) > 0 {
				t.Errorf("tags after a failed build: %v", tags)
			}
		})
	}
}

// TestRuntimeBuildPhalcon compiles real Phalcon (15 minutes on 2 cores) from
// PHPBUILD_PHALCON_SOURCE; without it the test skips, saying so.
func TestRuntimeBuildPhalcon(t *testing.T) {
	src := os.Getenv("PHPBUILD_PHALCON_SOURCE")
	if src == "" {
		t.Skip("SKIPPED, NOT PASSED: set PHPBUILD_PHALCON_SOURCE to a Phalcon source tarball (its ext/ folder) to compile and verify real Phalcon")
	}
	version, err := runtimes.PhalconVersionIn(src)
	if err != nil {
		t.Fatal(err)
	}
	registry := testbed.Registry(t)
	b := newBuilder(t)
	repo := testRepo(t, registry, "phalcon")
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	res, err := b.Build(ctx, repo, runtimes.BuildSpec{PHPMinor: "8.2", Phalcon: version, PhalconSource: runtimes.ExtensionSource{Location: src}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if res.Entry.Phalcon != version {
		t.Errorf("recorded Phalcon %q, want %s", res.Entry.Phalcon, version)
	}
	out, errOut, code := testbed.DockerRun(t, res.RunTag.String(), []string{"php"}, "--ri", "phalcon")
	if code != 0 || !strings.Contains(out, version) {
		t.Errorf("php --ri phalcon: exit %d, %q %q", code, out, errOut)
	}
}

// layerDigests lists an image's layer digests, in order.
func layerDigests(t *testing.T, ref string) []string {
	t.Helper()
	var out []string
	for _, l := range manifestOf(t, ref).Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

func layerTypes(t *testing.T, ref string) []string {
	t.Helper()
	var out []string
	for _, l := range manifestOf(t, ref).Layers {
		out = append(out, string(l.MediaType))
	}
	return out
}

func manifestOf(t *testing.T, ref string) *v1.Manifest {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
