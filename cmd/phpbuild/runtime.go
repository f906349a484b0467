package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/runtimes"
)

func newRuntime(env envDefaults) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Build and list prebuilt runtimes (run + build images per PHP/Phalcon pair)",
	}
	cmd.AddCommand(newRuntimeBuild(env), newRuntimeLs(env), newRuntimeOutdated(env))
	return cmd
}

// runtimeSpecOptions are the inputs of one runtime.
type runtimeSpecOptions struct {
	PHP, Phalcon, PhalconSource string
	Extensions                  []string // NAME or NAME@SOURCE
	Launcher                    string
	Refresh                     bool
	Platforms                   []string
	env                         envDefaults
}

func (o *runtimeSpecOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.PHP, "php", "", "PHP minor, e.g. 8.2 (the catalog offers 8.2 and 8.4)")
	f.StringVar(&o.Phalcon, "phalcon", "", "Phalcon version to compile in, e.g. 5.18.1 (default with a local --phalcon-source: the version it reports)")
	f.StringVar(&o.PhalconSource, "phalcon-source", "", "Phalcon source: PATH, https://URL#sha256=HEX or oci://REF (default $PHPBUILD_PHALCON_SOURCE)")
	f.StringArrayVar(&o.Extensions, "ext", nil, "extension to add: NAME (a Debian package) or NAME@SOURCE (compiled); repeatable")
	f.StringVar(&o.Launcher, "launcher", "", "static launcher binary (default $PHPBUILD_LAUNCHER, or launcher next to phpbuild)")
	f.StringSliceVar(&o.Platforms, "platform", nil, "platforms to make run images for, e.g. linux/amd64,linux/arm64 (default this machine's; others run under emulation here, natively on a builder of that architecture); the launcher for linux/ARCH is --launcher's path plus -linux-ARCH")
	f.BoolVar(&o.Refresh, "refresh", false, "install the Debian packages again as the suite has them today (security updates): a new runtime with the same PHP minor, Phalcon and extensions, which `phpbuild rebase` moves images onto")
}

func (o *runtimeSpecOptions) spec(cmd *cobra.Command) (runtimes.BuildSpec, error) {
	if o.PHP == "" {
		return runtimes.BuildSpec{}, &usageError{fmt.Errorf("%s: --php X.Y is required", cmd.CommandPath())}
	}
	spec := runtimes.BuildSpec{PHPMinor: o.PHP, Phalcon: o.Phalcon, Platforms: o.Platforms}
	if o.Refresh {
		// One refresh a day: the same day's runs find it by key.
		spec.Refresh = time.Now().UTC().Format("2006-01-02")
	}
	for _, e := range o.Extensions {
		r, err := runtimes.ParseExtensionFlag(e)
		if err != nil {
			return spec, &usageError{err}
		}
		spec.Extensions = append(spec.Extensions, r)
	}
	src := o.PhalconSource
	if src == "" {
		src = o.env.PhalconSource
	}
	if src != "" {
		r, err := runtimes.ParseExtensionFlag("phalcon@" + src)
		if err != nil {
			return spec, &usageError{err}
		}
		spec.PhalconSource = r.Source
		if err := phalconVersionFromSource(&spec, o.PhalconSource != ""); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

func (o *runtimeSpecOptions) launcher() string {
	if o.Launcher != "" {
		return o.Launcher
	}
	return o.env.Launcher
}

func newRuntimeBuild(env envDefaults) *cobra.Command {
	var (
		spec = runtimeSpecOptions{env: env}
		reg  = registryOptions{Default: env.RuntimeRepo}
		bk   = buildkitOptions{Host: env.BuildkitHost}
		out  outputOptions
	)
	cmd := &cobra.Command{
		Use:   "build --php X.Y [--phalcon VERSION] [--ext NAME[@SOURCE]]... --repo REGISTRY/REPO",
		Short: "Build, verify, push and record the run image and the step images of one PHP/Phalcon runtime",
		Long: `Builds five images with BuildKit (BUILDKIT_HOST, default ` + buildkit.DefaultHost + `):
the run image (PHP, php-fpm, nginx, extensions, the launcher, user app uid 1000), the composer image
(run image + composer, git, unzip), the build image (composer image + php-dev, nodejs, npm), the CLI
image (base + PHP's CLI, curl, composer, unzip) and the node image (CLI image + nodejs, npm). Extensions given a SOURCE are compiled from
a PECL-style tarball or directory: a local PATH, https://URL#sha256=HEX, or oci://REF. Phalcon's source
comes from --phalcon-source or PHPBUILD_PHALCON_SOURCE. The run image is verified (php -v, php -m,
php --ri phalcon, php-fpm -t, nginx -t) before anything is tagged or recorded. A runtime whose
inputs are already recorded in REPO is not built again.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := reg.requiredRepository(cmd)
			if err != nil {
				return err
			}
			s, err := spec.spec(cmd)
			if err != nil {
				return err
			}
			status, wait, err := bk.showProgress(ctx, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			res, err := buildRuntime(ctx, repo, s, status,
				runtimes.WithBuildkitHost(bk.Host), runtimes.WithLauncher(spec.launcher()), runtimes.WithRemoteOptions(reg.remote()...))
			wait()
			if err != nil {
				return err
			}
			return out.print(cmd, res, func(w io.Writer) error {
				if res.Reused {
					fmt.Fprintln(cmd.ErrOrStderr(), "runtime already built with identical inputs; nothing to do")
				}
				for _, im := range res.Images() {
					fmt.Fprintf(w, "%-9s %s@%s\n", im.Role, im.Tag, im.Digest)
				}
				return nil
			})
		},
	}
	spec.AddFlags(cmd)
	reg.AddFlags(cmd, "repo", "runtime repository, e.g. registry.example.com/team/php-runtimes (default $PHPBUILD_RUNTIME_REPO)")
	bk.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	return cmd
}

// buildRuntime builds spec into repo, sending progress to status and
// closing it when done.
func buildRuntime(ctx context.Context, repo name.Repository, spec runtimes.BuildSpec, status chan *client.SolveStatus, opts ...runtimes.BuilderOption) (*runtimes.BuildResult, error) {
	defer close(status)
	b, err := runtimes.NewBuilder(append(opts, runtimes.WithProgress(status))...)
	if err != nil {
		return nil, err
	}
	return b.Build(ctx, repo, spec)
}

func newRuntimeLs(env envDefaults) *cobra.Command {
	var (
		reg = registryOptions{Default: env.RuntimeRepo}
		out outputOptions
	)
	cmd := &cobra.Command{
		Use:   "ls --repo REGISTRY/REPO",
		Short: "List the runtimes recorded in a runtime repository",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := reg.requiredRepository(cmd)
			if err != nil {
				return err
			}
			entries, err := runtimes.ReadManifest(cmd.Context(), repo, reg.remote()...)
			if err != nil {
				return err
			}
			if entries == nil {
				entries = []runtimes.Entry{} // JSON []
			}
			return out.print(cmd, entries, func(w io.Writer) error {
				printEntries(w, entries)
				return nil
			})
		},
	}
	reg.AddFlags(cmd, "repo", "runtime repository (default $PHPBUILD_RUNTIME_REPO)")
	out.AddFlags(cmd, "the runtimes")
	return cmd
}

func printEntries(w io.Writer, entries []runtimes.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no runtimes recorded")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHP\tPHALCON\tEXTENSIONS\tPLATFORMS\tRUN\tBUILD\tBUILT")
	for _, e := range entries {
		ph := e.Phalcon
		if ph == "" {
			ph = "-"
		}
		plats := []string{e.NativePlatform()}
		for _, p := range e.Platforms {
			plats = append(plats, p.Platform)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.PHP, ph, len(e.Extensions), strings.Join(plats, ","), short(e.Run), short(e.Build), e.Built)
	}
	tw.Flush()
}

func short(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

// phalconVersionFromSource reads the version a local Phalcon source
// reports: it is --phalcon when that is not given with --phalcon-source,
// and a mismatch is caught now rather than after a half-hour compile.
func phalconVersionFromSource(spec *runtimes.BuildSpec, explicit bool) error {
	loc := spec.PhalconSource.Location
	if strings.Contains(loc, "://") || (spec.Phalcon == "" && !explicit) {
		return nil
	}
	v, err := runtimes.PhalconVersionIn(loc)
	if err != nil {
		if spec.Phalcon != "" {
			return nil // the build names what is wrong with the source
		}
		return err
	}
	switch {
	case spec.Phalcon == "":
		spec.Phalcon = v
	case spec.Phalcon != v:
		return &badinput.Error{File: loc, Field: "--phalcon", Err: fmt.Errorf("the source is Phalcon %s, not %s; pass --phalcon %s or another source", v, spec.Phalcon, v)}
	}
	return nil
}
