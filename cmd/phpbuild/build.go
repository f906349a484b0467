package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
)

// buildOptions are `phpbuild build`'s flags.
type buildOptions struct {
	Image          string   // REGISTRY/REPO; default $PHPBUILD_IMAGE
	Push, NoPush   bool     // --image implies --push
	Outputs        []string // docker, oci:DIR, tar:FILE
	ImageRefs      string   // file to write the pushed refs to
	CacheFrom      string
	NoCache, Force bool
	AllowDirty     bool
	runtimes       registryOptions
	buildkit       buildkitOptions
	output         outputOptions
	env            envDefaults
}

func (o *buildOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.Image, "image", "", "repository to push to, e.g. registry.example.com/team/app (default $PHPBUILD_IMAGE); implies --push")
	o.runtimes.AddFlags(cmd, "runtimes", "runtime repository (default $PHPBUILD_RUNTIME_REPO)")
	f.BoolVar(&o.Push, "push", false, "push to --image (the default when --image is given)")
	f.BoolVar(&o.NoPush, "no-push", false, "do not push even though --image is given (use with --output)")
	f.StringArrayVar(&o.Outputs, "output", nil, "also write the image: docker (load into the local daemon), oci:DIR, tar:FILE; repeatable")
	f.StringVar(&o.ImageRefs, "image-refs", "", "write each pushed ref (repo:tag@digest) to this file, one per line")
	f.StringVar(&o.CacheFrom, "cache-from", "", "image to reuse unchanged layers from (default: the nearest ancestor commit's image in --image)")
	f.BoolVar(&o.NoCache, "no-cache", false, "build every layer, reusing none")
	f.BoolVar(&o.AllowDirty, "allow-dirty", false, "build a work tree with uncommitted changes (the image gets no SHA tag)")
	f.BoolVar(&o.Force, "force", false, "build even if the commit's SHA tag is already in the repo")
	o.buildkit.AddFlags(cmd)
	o.output.AddFlags(cmd, "the result")
}

func newBuild(env envDefaults) *cobra.Command {
	o := &buildOptions{env: env}
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build the commit checked out in DIR into one layered OCI image, tagged with its git SHA and semver, and push it",
		Long: `Detects the app, resolves its runtime among those built in --runtimes, and assembles the image
from the run image plus the vendor, assets, volt, config and app layers. A layer whose key is the same as
in the cache image (--cache-from, default the image of the nearest ancestor commit in --image's repo) is
reused by digest: no BuildKit step, no upload. The others are produced in BuildKit (BUILDKIT_HOST).

Tags: the full git SHA, plus X.Y.Z when HEAD has the tag vX.Y.Z (otherwise X.Y.Z+1-dev.N.gSHA from
the nearest version tag, or 0.0.0-dev.N.gSHA). If the SHA tag is already in the repo, its digest is
printed and nothing is built (--force builds anyway). A dirty work tree is refused unless --allow-dirty,
which drops the SHA tag. The refs pushed go to stdout, progress to stderr.`,
		Args: maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, dirArg(args)) },
	}
	o.AddFlags(cmd)
	return cmd
}

// publishing is where the flags say the image goes.
type publishing struct {
	target *name.Repository // --image
	push   bool
	local  []build.Publisher // --output
}

// publishing reads --image, --push, --no-push and --output.
func (o *buildOptions) publishing() (publishing, error) {
	var p publishing
	image := o.Image
	if image == "" {
		image = o.env.Image
	}
	p.push = o.Push
	if image != "" {
		repo, err := name.NewRepository(image)
		if err != nil {
			return p, &usageError{fmt.Errorf("--image %q: %w", image, err)}
		}
		p.target = &repo
		p.push = !o.NoPush
	}
	if p.push && p.target == nil {
		return p, &usageError{fmt.Errorf("--push needs --image REGISTRY/REPO (or PHPBUILD_IMAGE)")}
	}
	for _, s := range o.Outputs {
		pub, err := build.ParseOutput(s, p.target)
		if err != nil {
			return p, err
		}
		p.local = append(p.local, pub)
	}
	if !p.push && len(p.local) == 0 {
		return p, &usageError{fmt.Errorf("nowhere to put the image: give --image REGISTRY/REPO to push, or --output docker|oci:DIR|tar:FILE")}
	}
	return p, nil
}

// options maps the other flags to build options; layer events go to onLayer.
func (o *buildOptions) options(p publishing, onLayer func(build.LayerEvent)) ([]build.Option, error) {
	o.runtimes.Default = o.env.RuntimeRepo
	rrepo, ok, err := o.runtimes.repository()
	if err == nil && !ok {
		err = &usageError{fmt.Errorf("--runtimes REGISTRY/REPO is required (or set PHPBUILD_RUNTIME_REPO): the repo `phpbuild runtime build` pushed to")}
	}
	if err != nil {
		return nil, err
	}
	if _, err := progressMode(o.buildkit.Progress); err != nil {
		return nil, err
	}
	opts := []build.Option{build.WithRuntimeRepo(rrepo), build.WithBuildkitHost(o.buildkit.Host), build.WithAllowDirty(o.AllowDirty), build.WithLayerEvents(onLayer), build.WithBuilderVersion(version)}
	if p.target != nil {
		opts = append(opts, build.WithTarget(*p.target))
		if p.push && !o.Force {
			opts = append(opts, build.WithSkipExisting())
		}
	}
	if o.NoCache {
		opts = append(opts, build.WithoutCache())
	}
	if o.CacheFrom != "" {
		ref, err := name.ParseReference(o.CacheFrom)
		if err != nil {
			return nil, &usageError{fmt.Errorf("--cache-from %q: %w", o.CacheFrom, err)}
		}
		opts = append(opts, build.WithCacheFrom(ref))
	}
	if o.env.SourceURL != "" {
		opts = append(opts, build.WithSourceURL(o.env.SourceURL))
	}
	return opts, nil
}

func (o *buildOptions) run(cmd *cobra.Command, dir string) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	p, err := o.publishing()
	if err != nil {
		return err
	}
	o.buildkit.Host = o.env.BuildkitHost
	var mu sync.Mutex
	quiet := o.buildkit.Progress == "quiet"
	opts, err := o.options(p, func(ev build.LayerEvent) {
		if quiet {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		printLayer(stderr, ev)
	})
	if err != nil {
		return err
	}
	status, wait, err := o.buildkit.showProgress(ctx, stderr)
	if err != nil {
		return err
	}
	opts = append(opts, build.WithProgress(status))
	var updates chan v1.Update
	pushDone := make(chan struct{})
	pubs := p.local
	if p.push {
		if !quiet {
			updates = make(chan v1.Update, 16)
			go func() { showPush(stderr, updates); close(pushDone) }()
		}
		pubs = append([]build.Publisher{build.NewRegistry(*p.target, updates)}, pubs...)
	}
	if updates == nil {
		close(pushDone)
	}
	start := time.Now()
	res, err := build.Publish(ctx, dir, build.Multi(pubs...), opts...)
	close(status)
	wait()
	if updates != nil {
		close(updates)
	}
	<-pushDone
	if err != nil {
		return err
	}
	return o.print(cmd, res, p.target, time.Since(start))
}

// print writes the refs file, then the result: JSON, or text lines.
func (o *buildOptions) print(cmd *cobra.Command, res *build.Result, target *name.Repository, took time.Duration) error {
	if o.ImageRefs != "" {
		if err := os.WriteFile(o.ImageRefs, []byte(strings.Join(res.Refs, "\n")+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing --image-refs: %w", err)
		}
	}
	return o.output.print(cmd, res, func(stdout io.Writer) error {
		stderr := cmd.ErrOrStderr()
		for _, w := range res.Warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		if res.Existing {
			fmt.Fprintf(stderr, "%s is already in %s; nothing built (--force rebuilds)\n", res.SHA[:12], target)
		} else if o.buildkit.Progress != "quiet" {
			fmt.Fprintf(stderr, "built %s in %s\n", short(res.Digest), took.Round(100*time.Millisecond))
			if u := res.Uploaded; u != nil {
				fmt.Fprintf(stderr, "pushed %s (%s); %s already there\n", humanBytes(u.Bytes), plural(u.Blobs, "blob", "blobs"), humanBytes(u.AlreadyThere))
			}
			if len(res.Attachments) > 0 {
				var kinds []string
				for _, a := range res.Attachments {
					kinds = append(kinds, a.Type)
				}
				fmt.Fprintf(stderr, "attached %s (phpbuild sbom / phpbuild provenance IMAGE)\n", strings.Join(kinds, " and "))
			}
		}
		for _, r := range res.Refs {
			fmt.Fprintln(stdout, r)
		}
		for _, r := range res.Outputs {
			fmt.Fprintln(stdout, r)
		}
		return nil
	})
}

// printLayer is the line for one layer reused or built.
func printLayer(w io.Writer, ev build.LayerEvent) {
	what, took := "built ", "  "+ev.Duration.Round(100*time.Millisecond).String()
	if ev.Reused {
		what, took = "reused", ""
	}
	fmt.Fprintf(w, "layer %-8s %s %9s  %s%s\n", ev.Name, what, humanBytes(ev.Size), short(ev.Digest), took)
}

// showPush prints a line per 10% of the push: of the image's blobs checked
// (already there) or sent; the final line says how much was really sent.
func showPush(w interface{ Write([]byte) (int, error) }, updates <-chan v1.Update) {
	last := -1
	for u := range updates {
		if u.Error != nil || u.Total == 0 {
			continue
		}
		pct := int(u.Complete * 100 / u.Total)
		if pct/10 != last/10 {
			last = pct
			fmt.Fprintf(w, "push %3d%%  %s of %s checked or sent\n", pct, humanBytes(u.Complete), humanBytes(u.Total))
		}
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// plural is n with the noun that fits it.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
