package layers

import (
	"archive/tar"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestNewTarListedDirWinsOverImplied: a writable dir listed after a file
// inside it keeps its owner, not the root-owned parent the file implied,
// and so do the dirs between them.
func TestNewTarListedDirWinsOverImplied(t *testing.T) {
	entries := []Entry{
		{Path: "/app/var/cache/.gitkeep", Type: tar.TypeReg, Mode: 0o644},
		{Path: "/app/src/Page.php", Type: tar.TypeReg, Mode: 0o644},
		{Path: "/app/var", Type: tar.TypeDir, Mode: 0o755},
	}
	l, err := NewTar(Chown(entries, "/app/var"), time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]int{}
	for name, h := range headers(t, l) {
		owners[name] = h.Uid
	}
	for name, want := range map[string]int{"app/": 0, "app/src/": 0, "app/src/Page.php": 0, "app/var/": 1000, "app/var/cache/": 1000, "app/var/cache/.gitkeep": 1000} {
		if got, ok := owners[name]; !ok || got != want {
			t.Errorf("%s owned by %d (present %v), want %d; all: %v", name, got, ok, want, owners)
		}
	}
}

// TestNewTarTimes: a regular file's time follows its bytes (the same bytes
// from data or from a file, the same time; other bytes, another), an
// entry's own time wins, and directories are at the epoch.
func TestNewTarTimes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "logo.svg")
	if err := os.WriteFile(src, []byte("<svg/>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := Epoch.Add(time.Second)
	l, err := NewTar([]Entry{
		{Path: "/app/public/logo.svg", Type: tar.TypeReg, Mode: 0o644, Source: src},
		{Path: "/app/public/same.svg", Type: tar.TypeReg, Mode: 0o644, Data: []byte("<svg/>\n")},
		{Path: "/app/public/other.svg", Type: tar.TypeReg, Mode: 0o644, Data: []byte("<svg></svg>\n")},
		{Path: "/app/compiled/x.php", Type: tar.TypeReg, Mode: 0o644, Data: []byte("x"), ModTime: own},
	}, Epoch)
	if err != nil {
		t.Fatal(err)
	}
	times := map[string]time.Time{}
	for name, h := range headers(t, l) {
		times[name] = h.ModTime.UTC()
	}
	svg := ContentTime(Epoch, sha256.Sum256([]byte("<svg/>\n")))
	for name, want := range map[string]time.Time{"app/": Epoch, "app/public/": Epoch, "app/public/logo.svg": svg, "app/public/same.svg": svg, "app/compiled/x.php": own} {
		if !times[name].Equal(want) {
			t.Errorf("%s at %s, want %s", name, times[name], want)
		}
	}
	if times["app/public/other.svg"].Equal(svg) || times["app/public/other.svg"].Before(Epoch) {
		t.Errorf("other bytes, same time %s: nginx's ETag and Last-Modified would not change", svg)
	}
}

// headers are a layer's tar headers by name.
func headers(t *testing.T, l v1.Layer) map[string]*tar.Header {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}
