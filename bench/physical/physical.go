// Package physical is the bench's physical limit of a code change's
// build: go-containerregistry pushing the app layer, and nothing else. It
// links go-containerregistry alone, so that the limit run as a program of
// its own (see ./limit) starts as fast as such a program can.
package physical

import (
	"archive/tar"
	"cmp"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/stream"
)

// Limit is the least a code change's build can do, with
// go-containerregistry and nothing else: read files from dir, write them
// as one tar under appDir, gzip it while it uploads to ref, and put a
// config and a manifest. It returns the time that took.
func Limit(dir, appDir string, files []string, ref name.Reference, opts ...remote.Option) (time.Duration, error) {
	start := time.Now()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, dir, appDir, files)) }()
	img, err := mutate.AppendLayers(empty.Image, stream.NewLayer(pr))
	if err != nil {
		return 0, err
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// writeTar writes files, read from dir, as a tar under appDir with their
// parent dirs, owned by root and dated at the epoch.
func writeTar(w io.Writer, dir, appDir string, files []string) error {
	tw := tar.NewWriter(w)
	appDir = strings.Trim(appDir, "/")
	seen := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			if seen[d] {
				break
			}
			seen[d] = true
		}
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	// Parents first: a dir's path is shorter than its children's.
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
	for _, d := range append([]string{""}, dirs...) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path.Join(appDir, d) + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	for _, f := range files {
		body, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(appDir, f), Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
	}
	return tw.Close()
}
