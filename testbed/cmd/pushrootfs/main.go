// Command pushrootfs pushes a root file system tarball to a registry as a one-layer image. The
// test bed uses it to serve debootstrapped Debian under the names Docker Hub gives it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pushrootfs: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("pushrootfs", flag.ContinueOnError)
	rootfs := flags.String("rootfs", "", "uncompressed tarball of the root file system")
	ref := flags.String("ref", "", "image reference to push to, e.g. 127.0.0.1:5000/library/debian:bookworm-slim")
	arch := flags.String("arch", runtime.GOARCH, "image architecture, as Debian and OCI name it")
	createdBy := flags.String("created-by", "", "how the root file system was made, for the image history")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *rootfs == "" || *ref == "" {
		return errors.New("-rootfs and -ref are required")
	}
	// The test bed's registry speaks plain HTTP.
	dst, err := name.ParseReference(*ref, name.Insecure)
	if err != nil {
		return fmt.Errorf("parsing -ref: %w", err)
	}

	img, err := image(*rootfs, *arch, *createdBy, time.Now().UTC())
	if err != nil {
		return err
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("pushing %s: %w", dst, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("computing digest: %w", err)
	}
	fmt.Println(dst.Context().Digest(digest.String()))
	return nil
}

func image(rootfs, arch, createdBy string, created time.Time) (v1.Image, error) {
	// Compressing once and keeping the result saves a second gzip pass over the root file
	// system when remote.Write uploads what the digest was computed from.
	layer, err := tarball.LayerFromFile(rootfs, tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", rootfs, err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the root file system layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	cfg = cfg.DeepCopy()
	// BuildKit refuses to export on top of a base whose config names no platform.
	cfg.Architecture = arch
	cfg.OS = "linux"
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cfg.Config.Cmd = []string{"bash"}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting image config: %w", err)
	}
	return mutate.CreatedAt(img, v1.Time{Time: created})
}
