package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/release"
)

// The flags commands share, one struct per concern, each binding its own
// flags in AddFlags; commands map them to library options.

// registryOptions is the runtime repository and how registries are reached.
type registryOptions struct {
	Repo    string // REGISTRY/REPO; default Default
	Default string // from the environment (PHPBUILD_RUNTIME_REPO)
	flag    string // --repo or --runtimes
}

// AddFlags binds --NAME (the command's name for the runtime repo) with usage.
func (o *registryOptions) AddFlags(cmd *cobra.Command, flag, usage string) {
	o.flag = flag
	cmd.Flags().StringVar(&o.Repo, flag, "", usage)
}

// repository is the runtime repo given, if any.
func (o *registryOptions) repository() (repo name.Repository, ok bool, err error) {
	v := o.Repo
	if v == "" {
		v = o.Default
	}
	if v == "" {
		return name.Repository{}, false, nil
	}
	repo, err = name.NewRepository(v)
	if err != nil {
		return name.Repository{}, false, &usageError{fmt.Errorf("--%s %q: %w", o.flag, v, err)}
	}
	return repo, true, nil
}

// requiredRepository is repository for commands that cannot go without one.
func (o *registryOptions) requiredRepository(cmd *cobra.Command) (name.Repository, error) {
	repo, ok, err := o.repository()
	if err == nil && !ok {
		err = &usageError{fmt.Errorf("%s: --%s REGISTRY/REPO is required (or set PHPBUILD_RUNTIME_REPO)", cmd.CommandPath(), o.flag)}
	}
	return repo, err
}

// remote is what `build` uses too: docker config credentials, and retries
// with backoff on server errors and broken connections.
func (o *registryOptions) remote() []remote.Option { return build.DefaultRemote() }

// buildkitOptions is where BuildKit solves run and how their progress shows.
type buildkitOptions struct {
	Host     string // BUILDKIT_HOST; no flag, as for buildctl
	Progress string // auto, tty, plain or quiet
}

func (o *buildkitOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Progress, "progress", "auto", "progress output: auto, tty, plain or quiet")
}

// showProgress starts the progress display on w; close the channel, then
// call wait.
func (o *buildkitOptions) showProgress(ctx context.Context, w io.Writer) (chan *client.SolveStatus, func(), error) {
	mode, err := progressMode(o.Progress)
	if err != nil {
		return nil, nil, err
	}
	return showProgress(ctx, w, mode)
}

// outputOptions is how a result is printed: as text, or as JSON.
type outputOptions struct {
	JSON bool
}

// AddFlags binds --json; what is the result, e.g. "the plan".
func (o *outputOptions) AddFlags(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print "+what+" as JSON")
}

// print writes v to stdout as JSON, or calls text.
func (o *outputOptions) print(cmd *cobra.Command, v any, text func(w io.Writer) error) error {
	if o.JSON {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	return text(cmd.OutOrStdout())
}

// envOptions selects the environment the release commands act on.
type envOptions struct {
	Name string // an [environments.NAME] of DIR's project.toml
}

func (o *envOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Name, "env", "", "environment, an [environments.NAME] of project.toml (required)")
}

// load reads the environment from the app dir in args.
func (o *envOptions) load(cmd *cobra.Command, args []string) (string, *release.Environment, error) {
	dir := dirArg(args)
	if o.Name == "" {
		return "", nil, &usageError{fmt.Errorf("%s: --env NAME is required", cmd.CommandPath())}
	}
	env, err := release.LoadEnvironment(dir, o.Name)
	return dir, env, err
}

// run is a RunE that loads the environment, then calls fn.
func (o *envOptions) run(fn func(cmd *cobra.Command, dir string, env *release.Environment) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		dir, env, err := o.load(cmd, args)
		if err != nil {
			return err
		}
		return fn(cmd, dir, env)
	}
}

// changeOptions are what commands that change an environment share.
type changeOptions struct {
	Message  string
	LockWait time.Duration
}

func (o *changeOptions) AddFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Message, "message", "", "why, for the release log and the lock")
	cmd.Flags().DurationVar(&o.LockWait, "lock-wait", 0, "wait this long for another release of the environment to finish")
}

// options are release.Options with progress on cmd's stderr.
func (o *changeOptions) options(cmd *cobra.Command) release.Options {
	w := cmd.ErrOrStderr()
	progress := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	return release.Options{Message: o.Message, LockWait: o.LockWait, Progress: progress}
}

// progressMode reads --progress.
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
