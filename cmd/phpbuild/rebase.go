package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
)

func newRebase(env envDefaults) *cobra.Command {
	var (
		reg     = registryOptions{Default: env.RuntimeRepo}
		runtime string
		out     outputOptions
	)
	cmd := &cobra.Command{
		Use:   "rebase IMAGE",
		Short: "Move an app image onto the newest build of its runtime, without building",
		Long: `Swaps the runtime layers under IMAGE (a tag or a digest of an image phpbuild built) for those of the
newest runtime recorded after its own with the same PHP minor, Phalcon version and extensions: the
one ` + "`phpbuild runtime build --refresh`" + ` makes with Debian's security updates. No step runs; the app's layers
keep their digests; the config keeps the commit time, the labels and the env the app set, and names
the new run image. The image's SHA and semver tags then point at the new digest, with a new SBOM and
a provenance of the rebase attached. The old digest stays in the registry untagged, and releases
and rollbacks that name it by digest still reach it (until registry garbage collection deletes
untagged manifests).

--runtimes looks for newer runtimes in another repo (default: the repo of IMAGE's run image);
--runtime KEY picks one by key or run digest, refused if its PHP minor, Phalcon or extensions differ.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{fmt.Errorf("%s takes one IMAGE (a tag or a digest), got %d arguments", cmd.CommandPath(), len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.ParseReference(args[0])
			if err != nil {
				return &usageError{fmt.Errorf("IMAGE %q: %w", args[0], err)}
			}
			opts := []build.Option{build.WithBuilderVersion(version), build.WithRebaseTo(runtime)}
			if repo, ok, err := reg.repository(); err != nil {
				return err
			} else if ok && reg.Repo != "" {
				opts = append(opts, build.WithRuntimeRepo(repo))
			}
			res, err := build.Rebase(cmd.Context(), ref, opts...)
			if err != nil {
				return err
			}
			return out.print(cmd, res, func(w io.Writer) error {
				stderr := cmd.ErrOrStderr()
				for _, warning := range res.Warnings {
					fmt.Fprintln(stderr, "warning:", warning)
				}
				if res.Unchanged {
					fmt.Fprintf(stderr, "%s is on the newest compatible runtime (%s); nothing to do\n", args[0], res.FromRuntime)
					return nil
				}
				fmt.Fprintf(stderr, "rebased %s onto %s: %d app layers kept, %s → %s\n", args[0], res.ToRuntime, res.AppLayers, short(res.From), short(res.Digest))
				for _, r := range res.Refs {
					fmt.Fprintln(w, r)
				}
				return nil
			})
		},
	}
	reg.AddFlags(cmd, "runtimes", "runtime repository to look for newer runtimes in (default: the repo of IMAGE's run image)")
	cmd.Flags().StringVar(&runtime, "runtime", "", "rebase onto this runtime (its key or run image digest, or their first 12 hex digits)")
	out.AddFlags(cmd, "the result")
	return cmd
}

func newRuntimeOutdated(env envDefaults) *cobra.Command {
	var (
		image string
		reg   = registryOptions{Default: env.RuntimeRepo}
		out   outputOptions
	)
	cmd := &cobra.Command{
		Use:   "outdated --image REPO",
		Short: "List the tags of an app repo whose runtime has a newer build to rebase onto",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if image == "" {
				image = env.Image
			}
			if image == "" {
				return &usageError{fmt.Errorf("%s: --image REGISTRY/REPO is required (or set PHPBUILD_IMAGE)", cmd.CommandPath())}
			}
			repo, err := name.NewRepository(image)
			if err != nil {
				return &usageError{fmt.Errorf("--image %q: %w", image, err)}
			}
			var opts []build.Option
			if rt, ok, err := reg.repository(); err != nil {
				return err
			} else if ok && reg.Repo != "" {
				opts = append(opts, build.WithRuntimeRepo(rt))
			}
			tags, err := build.Outdated(cmd.Context(), repo, opts...)
			if err != nil {
				return err
			}
			return out.print(cmd, tags, func(w io.Writer) error {
				if len(tags) == 0 {
					fmt.Fprintln(w, "every tag is on the newest build of its runtime")
					return nil
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tRUN IMAGE\tNEWER\tBUILT")
				for _, t := range tags {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Tag, short(digestOf(t.Runtime)), short(digestOf(t.Newer)), t.NewerBuilt)
				}
				tw.Flush()
				fmt.Fprintf(cmd.ErrOrStderr(), "rebase each with: phpbuild rebase %s:TAG\n", repo)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "app image repository, e.g. registry.example.com/team/app (default $PHPBUILD_IMAGE)")
	reg.AddFlags(cmd, "runtimes", "runtime repository to look for newer runtimes in (default: each image's own)")
	out.AddFlags(cmd, "the tags")
	return cmd
}
