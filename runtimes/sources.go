package runtimes

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/transient"
)

// fetchedSource is an extension source on local disk, ready to hand to
// BuildKit as a local mount.
type fetchedSource struct {
	dir     string // what BuildKit mounts
	tarball string // file name inside dir, or "" when dir is the source tree
	sha256  string
}

// fetchSource brings src to local disk under tmp and pins it by sha256. A
// given sha256 that does not match is input the user must fix.
func fetchSource(ctx context.Context, ext string, src ExtensionSource, tmp string, httpClient *http.Client, ropts []remote.Option) (*fetchedSource, error) {
	field := "--ext " + ext
	if ext == "phalcon" {
		field = "phalcon source"
	}
	loc := src.Location
	var file string
	switch {
	case strings.HasPrefix(loc, "https://"):
		file = filepath.Join(tmp, ext+".tgz")
		if err := download(ctx, httpClient, loc, file); err != nil {
			return nil, fmt.Errorf("fetching %s source %s: %w", ext, loc, err)
		}
	case strings.HasPrefix(loc, "oci://"):
		file = filepath.Join(tmp, ext+".tgz")
		if err := pullArtifact(ctx, strings.TrimPrefix(loc, "oci://"), file, ropts); err != nil {
			return nil, fmt.Errorf("fetching %s source %s: %w", ext, loc, err)
		}
	default:
		fi, err := os.Stat(loc)
		if err != nil {
			return nil, &badinput.Error{File: loc, Field: field, Err: badinput.PathCause(err)}
		}
		if fi.IsDir() {
			if src.SHA256 != "" {
				return nil, &badinput.Error{File: loc, Field: field, Err: fmt.Errorf("a directory cannot be pinned by #sha256=; give a tarball, or drop the sha256")}
			}
			if _, err := os.Stat(filepath.Join(loc, "config.m4")); err != nil {
				return nil, &badinput.Error{File: loc, Field: field, Err: fmt.Errorf("a source directory must hold config.m4 (phpize reads it)")}
			}
			sum, err := fileSHA256(loc)
			if err != nil {
				return nil, badinput.New(loc, "reading: %v", badinput.PathCause(err))
			}
			return &fetchedSource{dir: loc, sha256: sum}, nil
		}
		file = loc
	}
	sum, err := fileSHA256(file)
	if err != nil {
		return nil, badinput.New(file, "reading: %v", badinput.PathCause(err))
	}
	if src.SHA256 != "" && src.SHA256 != sum {
		return nil, &badinput.Error{File: loc, Field: field, Err: fmt.Errorf("sha256 mismatch: want %s, got %s", src.SHA256, sum)}
	}
	// BuildKit mounts directories: give the tarball one of its own.
	dir := filepath.Join(tmp, "src-"+ext)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(file, filepath.Join(dir, "source.tar")); err != nil {
		return nil, err
	}
	return &fetchedSource{dir: dir, tarball: "source.tar", sha256: sum}, nil
}

func download(ctx context.Context, c *http.Client, url, to string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return transient.Classify(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("GET %s: %s", url, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return transient.Mark(err)
		}
		return err
	}
	return transient.Classify(writeFile(to, resp.Body))
}

// pullArtifact writes the single layer of an OCI artifact (the tarball, as
// pushed by e.g. `oras push` or `crane append`) to file.
func pullArtifact(ctx context.Context, ref, file string, ropts []remote.Option) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	img, err := remote.Image(r, append(ropts, remote.WithContext(ctx))...)
	if err != nil {
		return transient.Classify(err)
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	if len(ls) != 1 {
		return fmt.Errorf("want an artifact with one layer (the source tarball), got %d", len(ls))
	}
	rc, err := ls[0].Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return transient.Classify(writeFile(file, rc))
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeFile(to, in)
}

// writeFile creates file with r's content.
func writeFile(file string, r io.Reader) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// phalconVersionRE is how Phalcon's php_phalcon.h names the version that
// `php --ri phalcon` reports.
var phalconVersionRE = regexp.MustCompile(`#define\s+PHP_PHALCON_VERSION\s+"([^"]+)"`)

// PhalconVersionIn reads the version a local Phalcon source tarball (.tgz)
// or source dir will report once compiled, from its php_phalcon.h.
func PhalconVersionIn(src string) (string, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return "", badinput.New(src, "reading: %v", badinput.PathCause(err))
	}
	if fi.IsDir() {
		b, err := os.ReadFile(filepath.Join(src, "php_phalcon.h"))
		if err != nil {
			return "", badinput.New(src, "no php_phalcon.h: %v", badinput.PathCause(err))
		}
		if m := phalconVersionRE.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		return "", badinput.New(filepath.Join(src, "php_phalcon.h"), "no PHP_PHALCON_VERSION")
	}
	f, err := os.Open(src)
	if err != nil {
		return "", badinput.New(src, "reading: %v", badinput.PathCause(err))
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", badinput.New(src, "not a gzip tarball: %v", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", badinput.New(src, "no php_phalcon.h with PHP_PHALCON_VERSION: not a Phalcon source tarball")
		}
		if err != nil {
			return "", badinput.New(src, "reading the tarball: %v", err)
		}
		if path.Base(h.Name) != "php_phalcon.h" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
		if err != nil {
			return "", badinput.New(src, "reading the tarball: %v", err)
		}
		if m := phalconVersionRE.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
	}
}
