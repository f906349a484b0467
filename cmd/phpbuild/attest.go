package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/transient"
)

// newAttached is a command that prints the document of artifactType
// attached to an image: `phpbuild sbom` and `phpbuild provenance`.
func newAttached(use, artifactType, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " IMAGE",
		Short: short,
		Long:  long,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("%s takes one IMAGE (a tag or a digest), got %d arguments", cmd.CommandPath(), len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return &usageError{fmt.Errorf("IMAGE %q: %w", args[0], err)}
			}
			opts := append(build.DefaultRemote(), remote.WithContext(ctx))
			d, ok := ref.(name.Digest)
			if !ok {
				desc, err := remote.Head(ref, opts...)
				var terr *transport.Error
				if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
					return &badinput.Error{Field: "IMAGE", Err: fmt.Errorf("%s: no such image in the registry", args[0])}
				}
				if err != nil {
					return transient.Classify(fmt.Errorf("reading %s: %w", ref, err))
				}
				d = ref.Context().Digest(desc.Digest.String())
			}
			body, err := attest.Read(ctx, d, artifactType, build.DefaultRemote()...)
			if errors.Is(err, attest.ErrNone) {
				return &badinput.Error{Field: "IMAGE", Err: fmt.Errorf("%s has no %s attached: was it built by phpbuild before it attached them, or copied without its referrers?", args[0], attest.Describe(artifactType))}
			}
			if err != nil {
				return transient.Classify(err)
			}
			_, err = cmd.OutOrStdout().Write(body)
			return err
		},
	}
}

func newSBOM() *cobra.Command {
	return newAttached("sbom", attest.SBOMType, "Print the CycloneDX SBOM attached to an image phpbuild built",
		`Prints the CycloneDX JSON SBOM that phpbuild build attached to IMAGE (a tag or a digest) as an OCI
referrer: the run image's Debian packages, PHP and each extension (compiled ones with their source's
sha256), every composer package that ships, and the npm packages the assets step used (scope
"excluded": build time only). Registries without the referrers API are read through the
referrers tag (sha256-HEX).`)
}

func newProvenance() *cobra.Command {
	return newAttached("provenance", attest.ProvenanceType, "Print the SLSA provenance attached to an image phpbuild built",
		`Prints the in-toto statement with a SLSA v1 provenance predicate that phpbuild build attached to
IMAGE as an OCI referrer: the git commit and remote, phpbuild's version, the runtime's images by
digest, every layer's key and digest (and whether it was reused), and the build's options.`)
}
