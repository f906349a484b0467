package build

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestNativeCode finds the ELF files of a vendor layer, and nothing else.
func TestNativeCode(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"app/vendor/", ""},
		{"app/vendor/acme/ffi/lib/libacme.so", "\x7fELF\x02\x01\x01rest"},
		{"app/vendor/acme/ffi/src/Acme.php", "<?php\nclass Acme {}\n"},
		{"app/vendor/bin/tool", "\x7fELF\x02\x01"},
		{"app/vendor/x", "ab"},
	} {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.body == "" {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	got, err := nativeCode(l, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"app/vendor/acme/ffi/lib/libacme.so", "app/vendor/bin/tool"}; !slices.Equal(got, want) {
		t.Errorf("nativeCode = %q, want %q", got, want)
	}
	if got, _ := nativeCode(l, 1); len(got) != 1 {
		t.Errorf("with max 1: %q", got)
	}
}
