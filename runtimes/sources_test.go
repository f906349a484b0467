package runtimes

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/transient"
)

func TestFetchSource(t *testing.T) {
	tarball := []byte("not really a tarball, but bytes to pin")
	sum := sha256.Sum256(tarball)
	good := hex.EncodeToString(sum[:])

	https := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ext.tgz":
			w.Write(tarball)
		case "/busy.tgz":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			http.NotFound(w, r)
		}
	}))
	defer https.Close()

	reg := httptest.NewServer(registry.New())
	defer reg.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(reg.URL, "http://") + "/ext/hello:1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	artifact, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(tarball, types.MediaType("application/vnd.oci.image.layer.v1.tar+gzip"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, artifact); err != nil {
		t.Fatal(err)
	}

	local := filepath.Join(t.TempDir(), "ext.tgz")
	if err := os.WriteFile(local, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		src       ExtensionSource
		wantErr   string
		badInput  bool
		transient bool
	}{
		{name: "https with the right sha256", src: ExtensionSource{Location: https.URL + "/ext.tgz", SHA256: good}},
		{name: "https with a wrong sha256", src: ExtensionSource{Location: https.URL + "/ext.tgz", SHA256: strings.Repeat("a", 64)}, wantErr: "sha256 mismatch", badInput: true},
		{name: "https not found", src: ExtensionSource{Location: https.URL + "/nope.tgz", SHA256: good}, wantErr: "404"},
		{name: "https busy", src: ExtensionSource{Location: https.URL + "/busy.tgz", SHA256: good}, wantErr: "503", transient: true},
		{name: "oci artifact", src: ExtensionSource{Location: "oci://" + ref.String(), SHA256: good}},
		{name: "local tarball without sha256", src: ExtensionSource{Location: local}},
		{name: "local dir without config.m4", src: ExtensionSource{Location: t.TempDir()}, wantErr: "must hold config.m4", badInput: true},
		{name: "local dir with config.m4", src: ExtensionSource{Location: "../testdata/ext/hello"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fetchSource(context.Background(), "hello", tc.src, t.TempDir(), https.Client(), nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if badinput.Is(err) != tc.badInput || transient.Is(err) != tc.transient {
					t.Errorf("error %v: bad input %v (want %v), transient %v (want %v)", err, badinput.Is(err), tc.badInput, transient.Is(err), tc.transient)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.tarball != "" {
				if got.sha256 != good {
					t.Errorf("sha256 %s, want %s", got.sha256, good)
				}
				b, err := os.ReadFile(filepath.Join(got.dir, got.tarball))
				if err != nil || string(b) != string(tarball) {
					t.Errorf("fetched tarball %q, %v", b, err)
				}
			} else if _, err := os.Stat(filepath.Join(got.dir, "config.m4")); err != nil {
				t.Errorf("source dir %s: %v", got.dir, err)
			}
		})
	}
}

func TestParseExtensionFlag(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		in      string
		want    ExtensionRequest
		wantErr string
	}{
		{in: "apcu", want: ExtensionRequest{Name: "apcu"}},
		{in: "ext-APCu", want: ExtensionRequest{Name: "apcu"}},
		{in: "hello@./ext/hello", want: ExtensionRequest{Name: "hello", Source: ExtensionSource{Location: "./ext/hello"}}},
		{in: "hello@https://x.example/h.tgz#sha256=" + sum, want: ExtensionRequest{Name: "hello", Source: ExtensionSource{Location: "https://x.example/h.tgz", SHA256: sum}}},
		{in: "hello@oci://r.example/ext/hello:1", want: ExtensionRequest{Name: "hello", Source: ExtensionSource{Location: "oci://r.example/ext/hello:1"}}},
		{in: "hello@https://x.example/h.tgz", wantErr: "needs #sha256"},
		{in: "hello@http://x.example/h.tgz#sha256=" + sum, wantErr: "plain http"},
		{in: "hello@./h.tgz#md5=abc", wantErr: "#sha256="},
		{in: "hello@", wantErr: "empty source"},
		{in: "he llo", wantErr: "not an extension name"},
		{in: "", wantErr: "not an extension name"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseExtensionFlag(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPhalconVersionIn(t *testing.T) {
	dir := t.TempDir()
	tgz := func(name string, files map[string]string) string {
		t.Helper()
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for n, body := range files {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
			tw.Write([]byte(body))
		}
		tw.Close()
		gz.Close()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := "#ifndef PHP_PHALCON_H\n#define PHP_PHALCON_NAME \"phalcon\"\n#define PHP_PHALCON_VERSION     \"5.18.1\"\n"
	good := tgz("phalcon.tgz", map[string]string{"phalcon-5.18.1/config.m4": "PHP_ARG_ENABLE\n", "phalcon-5.18.1/php_phalcon.h": header})
	if v, err := PhalconVersionIn(good); err != nil || v != "5.18.1" {
		t.Errorf("tarball: %q, %v; want 5.18.1", v, err)
	}
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "php_phalcon.h"), []byte(header), 0o644)
	if v, err := PhalconVersionIn(src); err != nil || v != "5.18.1" {
		t.Errorf("dir: %q, %v; want 5.18.1", v, err)
	}
	other := tgz("hello.tgz", map[string]string{"hello-1.0/config.m4": "x"})
	for _, p := range []string{other, filepath.Join(dir, "missing.tgz"), filepath.Join(src, "php_phalcon.h")} {
		if _, err := PhalconVersionIn(p); !badinput.Is(err) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want a bad-input error naming it", p, err)
		}
	}
}
