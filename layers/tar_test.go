package layers

import (
	"archive/tar"
	"io"
	"testing"
	"time"
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
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	owners := map[string]int{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		owners[h.Name] = h.Uid
	}
	for name, want := range map[string]int{"app/": 0, "app/src/": 0, "app/src/Page.php": 0, "app/var/": 1000, "app/var/cache/": 1000, "app/var/cache/.gitkeep": 1000} {
		if got, ok := owners[name]; !ok || got != want {
			t.Errorf("%s owned by %d (present %v), want %d; all: %v", name, got, ok, want, owners)
		}
	}
}
