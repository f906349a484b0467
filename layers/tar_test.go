package layers

import (
	"archive/tar"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// TestTarFileEntries: a step's output read from a tar gives the entries
// (and so the layer) its exported dir gives, a hard link read as a copy.
func TestTarFileEntries(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"vendor/a/src/A.php": "<?php class A {}", "vendor/bin/tool": "#!/bin/sh\n", "composer.json": "{}", "vendor/a/empty/": ""}
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "vendor/bin/tool"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a/src/A.php", filepath.Join(dir, "vendor/bin/a")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "vendor/a/src/A.php"), filepath.Join(dir, "vendor/a/src/B.php")); err != nil {
		t.Fatal(err)
	}
	skipDir := func(rel string) bool { return rel == "composer.json" }
	want, err := WalkEntries(dir, AppPath, skipDir)
	if err != nil {
		t.Fatal(err)
	}
	tarFile := filepath.Join(t.TempDir(), "out.tar")
	out, err := exec.Command("tar", "-C", dir, "-cf", tarFile, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	got, err := TarFileEntries(tarFile, AppPath, func(rel string, _ int64, _ []byte) bool { return skipDir(rel) })
	if err != nil {
		t.Fatal(err)
	}
	layer := func(es []Entry) string {
		t.Helper()
		l, err := NewTar(es, Epoch)
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	if g, w := layer(got), layer(want); g != w || len(got) != len(want) {
		t.Errorf("from the tar: %d entries, layer %s; from the dir: %d entries, layer %s\n%+v\n%+v", len(got), g, len(want), w, got, want)
	}
}

// TestLessPath: paths order as if each "/" were "\x00", parents before
// their children, "a/b" before "a-b" and "a.b".
func TestLessPath(t *testing.T) {
	paths := []string{"/app", "/app/a", "/app/a/b", "/app/a-b", "/app/a.b", "/app/a0", "/app/a/", "/app/ab", "/app/a b", "/", ""}
	for _, a := range paths {
		for _, b := range paths {
			want := strings.ReplaceAll(a, "/", "\x00") < strings.ReplaceAll(b, "/", "\x00")
			if got := lessPath(a, b); got != want {
				t.Errorf("lessPath(%q, %q) = %v, want %v", a, b, got, want)
			}
		}
	}
}
