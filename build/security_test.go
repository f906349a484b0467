package build_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/testbed"
)

// Values committed to the app, tracked by git, that must never ship: the
// test proves phpbuild's own excludes, not .gitignore.
const (
	prodSecret  = "phpbuild-test-prod-secret-9d3e71"
	keyMaterial = "phpbuild-test-key-material-b52c0e"
)

var (
	fakeKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n" + keyMaterial + "\n-----END OPENSSH PRIVATE KEY-----\n"
	// secrets are the values no byte of the image may hold.
	secrets      = []string{buildtest.SecretValue, prodSecret, keyMaterial}
	privateKeyRE = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----`)
)

// TestImageSecurity builds each app CI can build (phalcon needs a Phalcon
// source) with secrets committed next to the code, and proves that nothing
// secret reaches any layer, the config or the manifest, that the app's
// files are root-owned and read-only to the app user, and that nginx never
// serves what it must not.
func TestImageSecurity(t *testing.T) {
	rt := testRuntimes(t)
	host := testbed.BuildkitHost(t)
	var bases baseScans
	for _, app := range []string{"plain", "assets", "bare"} {
		t.Run(app, func(t *testing.T) {
			t.Parallel()
			ctx := ctxT(t)
			dir := gitApp(t, app)
			write(t, dir, ".env.production", "DB_PASSWORD="+prodSecret+"\n")
			write(t, dir, "deploy/id_rsa", fakeKey)
			commit(t, dir, "files that must never ship", "2026-01-03T00:00:00Z")
			git(t, dir, "ls-files", "--error-unmatch", ".env.production", "deploy/id_rsa")
			det, err := detect.Detect(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			repo := testRepo(t, "security-"+app)
			res, err := push(ctx, dir, repo, build.WithRuntimeRepo(rt), build.WithBuildkitHost(host))
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			ref := repo.Digest(res.Digest)
			img, err := remote.Image(ref, remote.WithContext(ctx))
			if err != nil {
				t.Fatalf("reading %s: %v", ref, err)
			}
			scans := scanImage(t, img, res, &bases)

			t.Run("layers hold no secret", func(t *testing.T) {
				for _, s := range scans {
					for _, l := range s.leaks {
						t.Errorf("layer %d (%s): %s", s.index, s.name, l)
					}
				}
			})
			t.Run("config and manifest hold no secret", func(t *testing.T) {
				checkConfigAndManifest(t, img)
			})
			t.Run("app files are root's, writable dirs the app user's", func(t *testing.T) {
				for _, s := range scans[len(scans)-len(res.Layers):] {
					checkOwnership(t, s, det.Writable)
				}
			})
			t.Run("running", func(t *testing.T) {
				files := map[string]bool{}
				for _, s := range scans {
					for _, p := range s.files {
						files[p] = true
					}
				}
				checkRunning(t, ref.String(), det, files)
			})
		})
	}
}

// layerScan is what one layer's tar showed.
type layerScan struct {
	index int
	name  string // the phpbuild layer, or "runtime"
	// leaks say what must not be there and where.
	leaks []string
	// headers are kept for the app's own layers only.
	headers []*tar.Header
	// files are the regular files and symlinks under /app.
	files []string
}

// baseScans remembers the runtime's layers: every app shares them, and the
// secrets looked for are the same for each.
type baseScans struct {
	mu    sync.Mutex
	scans map[v1.Hash]*baseScan
}

type baseScan struct {
	once sync.Once
	scan layerScan
	err  error
}

func (b *baseScans) get(h v1.Hash) *baseScan {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.scans == nil {
		b.scans = map[v1.Hash]*baseScan{}
	}
	if b.scans[h] == nil {
		b.scans[h] = &baseScan{}
	}
	return b.scans[h]
}

// scanImage reads every layer of img, the runtime's included. The app's
// layers are the last len(res.Layers).
func scanImage(t *testing.T, img v1.Image, res *build.Result, bases *baseScans) []layerScan {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	first := len(ls) - len(res.Layers)
	if first < 1 {
		t.Fatalf("image has %d layers, the build made %d: no runtime under them", len(ls), len(res.Layers))
	}
	out := make([]layerScan, len(ls))
	for i, l := range ls {
		if i >= first {
			s, err := scanLayer(l, true)
			if err != nil {
				t.Fatalf("layer %d (%s): %v", i, res.Layers[i-first].Name, err)
			}
			s.index, s.name = i, res.Layers[i-first].Name
			out[i] = s
			continue
		}
		h, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		b := bases.get(h)
		b.once.Do(func() { b.scan, b.err = scanLayer(l, false) })
		if b.err != nil {
			t.Fatalf("layer %d (runtime %s): %v", i, h, b.err)
		}
		s := b.scan
		s.index, s.name = i, "runtime"
		out[i] = s
	}
	return out
}

// contentDirs are where file contents are read: the app and the config
// phpbuild writes. The rest of the base image is checked by name only.
var contentDirs = []string{"/app", "/etc/phpbuild", "/etc/php"}

func scanLayer(l v1.Layer, keepHeaders bool) (layerScan, error) {
	rc, err := uncompressed(l)
	if err != nil {
		return layerScan{}, err
	}
	s, err := scanTar(tar.NewReader(rc), keepHeaders)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return s, err
}

func scanTar(tr *tar.Reader, keepHeaders bool) (layerScan, error) {
	var s layerScan
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return s, nil
		}
		if err != nil {
			return s, fmt.Errorf("reading tar: %w", err)
		}
		p := path.Clean("/" + h.Name)
		if keepHeaders {
			s.headers = append(s.headers, h)
		}
		leak := func(format string, args ...any) {
			s.leaks = append(s.leaks, p+": "+fmt.Sprintf(format, args...))
		}
		for _, c := range strings.Split(p, "/") {
			switch {
			case c == ".env" || strings.HasPrefix(c, ".env."):
				leak("an env file (%s)", c)
			case c == ".git":
				leak("a .git component")
			}
		}
		inApp := under(p, "/app")
		if inApp {
			if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeSymlink {
				s.files = append(s.files, p)
			}
			base := path.Base(p)
			if strings.HasPrefix(base, "id_rsa") || strings.HasPrefix(base, "id_ed25519") || strings.HasPrefix(base, "id_ecdsa") || strings.HasSuffix(base, ".pem") || strings.HasSuffix(base, ".key") {
				leak("a private key's file name")
			}
		}
		if h.Typeflag != tar.TypeReg || !slices.ContainsFunc(contentDirs, func(d string) bool { return under(p, d) }) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return s, fmt.Errorf("reading %s: %w", p, err)
		}
		for _, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				leak("holds the secret %q", v)
			}
		}
		if inApp && privateKeyRE.Match(b) {
			leak("holds a private key (%q)", privateKeyRE.Find(b))
		}
	}
}

// uncompressed is l's tar. gzip runs outside the test binary: inflating
// the runtime's hundreds of MB in Go under -race takes over a minute.
func uncompressed(l v1.Layer) (io.ReadCloser, error) {
	mt, err := l.MediaType()
	if err != nil {
		return nil, err
	}
	gz, err := exec.LookPath("gzip")
	if err != nil || (mt != types.OCILayer && mt != types.DockerLayer) {
		return l.Uncompressed()
	}
	zr, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(gz, "-dc")
	cmd.Stdin = zr
	out, err := cmd.StdoutPipe()
	if err != nil {
		zr.Close()
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		zr.Close()
		return nil, err
	}
	return &gunzip{ReadCloser: out, cmd: cmd, in: zr, stderr: &stderr}, nil
}

type gunzip struct {
	io.ReadCloser
	cmd    *exec.Cmd
	in     io.Closer
	stderr *bytes.Buffer
}

// Close reports a corrupt stream or a digest mismatch, which the tar
// reader may not have read far enough to see.
func (g *gunzip) Close() error {
	io.Copy(io.Discard, g.ReadCloser)
	err := g.cmd.Wait()
	if cerr := g.in.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gzip -dc: %w: %s", err, strings.TrimSpace(g.stderr.String()))
	}
	return nil
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func checkConfigAndManifest(t *testing.T, img v1.Image) {
	t.Helper()
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "1000:1000" {
		t.Errorf("config User = %q, want 1000:1000", cfg.Config.User)
	}
	encoded, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range []struct {
		what string
		b    []byte
	}{{"config (history, labels, env)", encoded}, {"raw config", raw}, {"manifest", manifest}} {
		for _, v := range secrets {
			if bytes.Contains(doc.b, []byte(v)) {
				t.Errorf("%s holds the secret %q", doc.what, v)
			}
		}
		if privateKeyRE.Match(doc.b) {
			t.Errorf("%s holds a private key", doc.what)
		}
	}
}

// checkOwnership: in the app's layers, everything is root's and writable by
// no one else, except inside the writable dirs, which are the app user's.
func checkOwnership(t *testing.T, s layerScan, writable []string) {
	t.Helper()
	for _, h := range s.headers {
		p := path.Clean("/" + h.Name)
		if slices.ContainsFunc(writable, func(w string) bool { return under(p, path.Join("/app", w)) }) {
			if h.Uid != 1000 || h.Gid != 1000 {
				t.Errorf("layer %d (%s): %s is owned by %d:%d, want 1000:1000 (a writable dir)", s.index, s.name, p, h.Uid, h.Gid)
			}
			continue
		}
		if h.Uid != 0 {
			t.Errorf("layer %d (%s): %s is owned by uid %d, want 0", s.index, s.name, p, h.Uid)
		}
		// A symlink's own mode is never used.
		if h.Typeflag != tar.TypeSymlink && h.Mode&0o022 != 0 {
			t.Errorf("layer %d (%s): %s has mode %#o: writable by group or others", s.index, s.name, p, h.Mode)
		}
	}
}

// checkRunning starts the image read-only, as a release does, and probes
// it from inside and over HTTP. files are the paths under /app the image
// holds.
func checkRunning(t *testing.T, ref string, det *detect.App, files map[string]bool) {
	t.Helper()
	ctr, base := runImage(t, ref, det.Writable...)
	web := path.Join("/app", det.WebRoot)
	touched := []string{"/app/x", path.Join(web, "x"), path.Join(web, "index.php")}
	script := "id -u"
	for _, f := range touched {
		script += "; touch " + f + " 2>&1"
	}
	out, code := ctr.Exec(t, "sh", "-c", script+"; echo ok")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < 2 || lines[len(lines)-1] != "ok" {
		t.Fatalf("exec = %d %q", code, out)
	}
	if lines[0] != "1000" {
		t.Errorf("exec runs as uid %q, want 1000", lines[0])
	}
	for _, f := range touched {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "touch:") && strings.Contains(l, f) }) {
			t.Errorf("the app user could write %s:\n%s", f, out)
		}
	}

	// Never served whatever the app holds: dotfiles, composer's files,
	// templates, and vendor/ where the php location or a denial covers it.
	denied := []string{"/.env", "/.env.production", "/.git/HEAD", "/composer.json", "/composer.lock", "/vendor/autoload.php", "/index.volt", "/x.volt"}
	// Elsewhere a path that is no file of the web root is the front
	// controller's to answer; one that is must not be served.
	others := []string{"/deploy/id_rsa", "/.well-known/x"}
	if det.WebRoot == "." {
		denied = append(denied, "/vendor/composer/installed.json")
	} else {
		others = append(others, "/vendor/composer/installed.json")
	}
	for _, p := range append(denied, others...) {
		g := get(t, base+p)
		for _, v := range secrets {
			if strings.Contains(g.body, v) {
				t.Errorf("GET %s = %d: the body holds the secret %q", p, g.status, v)
			}
		}
		if privateKeyRE.MatchString(g.body) {
			t.Errorf("GET %s = %d: the body holds a private key", p, g.status)
		}
		mustDeny := slices.Contains(denied, p) || files[path.Join(web, p)]
		switch {
		case g.status >= 500:
			t.Errorf("GET %s = %d %q, want no server error", p, g.status, g.body)
		case mustDeny && g.status != 404 && g.status != 403:
			t.Errorf("GET %s = %d %q, want 404 or 403 (%s is in the image: %v)", p, g.status, g.body, path.Join(web, p), files[path.Join(web, p)])
		}
	}
}
