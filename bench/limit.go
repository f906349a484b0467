package bench

import (
	"archive/tar"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/phpbuild/phpbuild/build"
)

// AppLayerFiles lists the regular files of a phpbuild image's app layer,
// relative to the app dir (the layer's paths under appDir).
func AppLayerFiles(img v1.Image, appDir string) ([]string, error) {
	layer, err := build.LayerNamed(img, "app")
	if err != nil {
		return nil, err
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var files []string
	prefix := strings.Trim(appDir, "/") + "/"
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if rel, ok := strings.CutPrefix(strings.TrimPrefix(h.Name, "/"), prefix); ok && h.Typeflag == tar.TypeReg {
			files = append(files, rel)
		}
	}
}
