package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/runtimes"
)

func newRuntime() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runtime",
		Short: "Build and list prebuilt runtimes (run + build images per PHP/Phalcon pair)",
	}
	cmd.AddCommand(newRuntimeBuild(), newRuntimeLs())
	return cmd
}

// repoFlag reads --repo, defaulting to $PHPBUILD_RUNTIME_REPO.
func repoFlag(cmd *cobra.Command, v string) (name.Repository, error) {
	if v == "" {
		v = os.Getenv("PHPBUILD_RUNTIME_REPO")
	}
	if v == "" {
		return name.Repository{}, &usageError{fmt.Errorf("%s: --repo REGISTRY/REPO is required (or set PHPBUILD_RUNTIME_REPO)", cmd.CommandPath())}
	}
	repo, err := name.NewRepository(v)
	if err != nil {
		return name.Repository{}, &usageError{fmt.Errorf("--repo %q: %w", v, err)}
	}
	return repo, nil
}

func remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithContext(ctx)}
}

func newRuntimeBuild() *cobra.Command {
	var (
		php, phalcon, phalconSource, repoName, launcher, progress string
		exts                                                      []string
		asJSON                                                    bool
	)
	cmd := &cobra.Command{
		Use:   "build --php X.Y [--phalcon VERSION] [--ext NAME[@SOURCE]]... --repo REGISTRY/REPO",
		Short: "Build, verify, push and record the run, composer and build images of one PHP/Phalcon runtime",
		Long: `Builds three images with BuildKit (BUILDKIT_HOST, default ` + buildkit.DefaultHost + `):
the run image (PHP, php-fpm, nginx, extensions, the launcher, user app uid 1000), the composer image
(run image + composer, git, unzip) and the build image (composer image + php-dev, nodejs, npm). Extensions given a SOURCE are compiled from
a PECL-style tarball or directory: a local PATH, https://URL#sha256=HEX, or oci://REF. Phalcon's source
comes from --phalcon-source or PHPBUILD_PHALCON_SOURCE. The run image is verified (php -v, php -m,
php --ri phalcon, php-fpm -t, nginx -t) before anything is tagged or recorded. A runtime whose
inputs are already recorded in REPO is not built again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, err := repoFlag(cmd, repoName)
			if err != nil {
				return err
			}
			if php == "" {
				return &usageError{fmt.Errorf("%s: --php X.Y is required", cmd.CommandPath())}
			}
			spec := runtimes.BuildSpec{PHPMinor: php, Phalcon: phalcon}
			for _, e := range exts {
				r, err := runtimes.ParseExtensionFlag(e)
				if err != nil {
					return &usageError{err}
				}
				spec.Extensions = append(spec.Extensions, r)
			}
			explicit := phalconSource != ""
			if phalconSource == "" {
				phalconSource = os.Getenv("PHPBUILD_PHALCON_SOURCE")
			}
			if phalconSource != "" {
				r, err := runtimes.ParseExtensionFlag("phalcon@" + phalconSource)
				if err != nil {
					return &usageError{err}
				}
				spec.PhalconSource = r.Source
				if err := phalconVersionFromSource(&spec, explicit); err != nil {
					return err
				}
			}
			if launcher == "" {
				launcher = defaultLauncher()
			}
			mode, err := progressMode(progress)
			if err != nil {
				return err
			}
			host := buildkit.HostFromEnv()
			status, wait, err := showProgress(ctx, cmd.ErrOrStderr(), mode)
			if err != nil {
				return err
			}
			b, err := runtimes.NewBuilder(runtimes.WithBuildkitHost(host), runtimes.WithLauncher(launcher),
				runtimes.WithProgress(status), runtimes.WithRemoteOptions(remoteOptions(ctx)...))
			if err != nil {
				close(status)
				wait()
				return err
			}
			res, err := b.Build(ctx, repo, spec)
			close(status)
			wait()
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			if res.Reused {
				fmt.Fprintln(cmd.ErrOrStderr(), "runtime already built with identical inputs; nothing to do")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run      %s@%s\nbuild    %s@%s\ncomposer %s@%s\n", res.RunTag, res.Entry.Run, res.BuildTag, res.Entry.Build, res.ComposerTag, res.Entry.Composer)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&php, "php", "", "PHP minor, e.g. 8.2 (the catalog offers 8.2 and 8.4)")
	f.StringVar(&phalcon, "phalcon", "", "Phalcon version to compile in, e.g. 5.18.1 (default with a local --phalcon-source: the version it reports)")
	f.StringVar(&phalconSource, "phalcon-source", "", "Phalcon source: PATH, https://URL#sha256=HEX or oci://REF (default $PHPBUILD_PHALCON_SOURCE)")
	f.StringArrayVar(&exts, "ext", nil, "extension to add: NAME (a Debian package) or NAME@SOURCE (compiled); repeatable")
	f.StringVar(&repoName, "repo", "", "runtime repository, e.g. registry.example.com/team/php-runtimes (default $PHPBUILD_RUNTIME_REPO)")
	f.StringVar(&launcher, "launcher", "", "static launcher binary (default $PHPBUILD_LAUNCHER, or launcher next to phpbuild)")
	f.StringVar(&progress, "progress", "auto", "progress output: auto, tty, plain or quiet")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

func newRuntimeLs() *cobra.Command {
	var repoName string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ls --repo REGISTRY/REPO",
		Short: "List the runtimes recorded in a runtime repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := repoFlag(cmd, repoName)
			if err != nil {
				return err
			}
			entries, err := runtimes.ReadManifest(cmd.Context(), repo, remoteOptions(cmd.Context())...)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []runtimes.Entry{}
				}
				return writeJSON(cmd.OutOrStdout(), entries)
			}
			printEntries(cmd.OutOrStdout(), entries)
			return nil
		},
	}
	cmd.Flags().StringVar(&repoName, "repo", "", "runtime repository (default $PHPBUILD_RUNTIME_REPO)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the runtimes as JSON")
	return cmd
}

func printEntries(w io.Writer, entries []runtimes.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no runtimes recorded")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHP\tPHALCON\tEXTENSIONS\tRUN\tBUILD\tBUILT")
	for _, e := range entries {
		ph := e.Phalcon
		if ph == "" {
			ph = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", e.PHP, ph, len(e.Extensions), short(e.Run), short(e.Build), e.Built)
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

func defaultLauncher() string {
	if p := os.Getenv("PHPBUILD_LAUNCHER"); p != "" {
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		return "launcher"
	}
	return filepath.Join(filepath.Dir(exe), "launcher")
}

func progressMode(s string) (progressui.DisplayMode, error) {
	switch s {
	case "auto":
		return progressui.AutoMode, nil
	case "tty":
		return progressui.TtyMode, nil
	case "plain":
		return progressui.PlainMode, nil
	case "quiet":
		return progressui.QuietMode, nil
	}
	return "", &usageError{fmt.Errorf("--progress %q: want auto, tty, plain or quiet", s)}
}

// showProgress starts BuildKit's progress display on w; close the returned
// channel, then call wait.
func showProgress(ctx context.Context, w io.Writer, mode progressui.DisplayMode) (chan *client.SolveStatus, func(), error) {
	ch := make(chan *client.SolveStatus)
	d, err := progressui.NewDisplay(w, mode) // auto: a console when w is one, else plain
	if err != nil {
		return nil, nil, &usageError{fmt.Errorf("--progress %s: stderr is not a terminal; use auto or plain", mode)}
	}
	done := make(chan struct{})
	go func() {
		// The display ends with the channel; its own errors only concern drawing.
		_, _ = d.UpdateFrom(context.WithoutCancel(ctx), ch)
		close(done)
	}()
	return ch, func() { <-done }, nil
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
