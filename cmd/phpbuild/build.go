package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildkit"
)

func newBuild() *cobra.Command {
	var (
		image, runtimeRepo, cacheFrom, imageRefs, progress string
		outputs                                            []string
		push, noPush, allowDirty, force, noCache, asJSON   bool
	)
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
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if image == "" {
				image = os.Getenv("PHPBUILD_IMAGE")
			}
			var target *name.Repository
			if image != "" {
				repo, err := name.NewRepository(image)
				if err != nil {
					return &usageError{fmt.Errorf("--image %q: %w", image, err)}
				}
				target = &repo
				push = !noPush
			}
			if push && target == nil {
				return &usageError{fmt.Errorf("--push needs --image REGISTRY/REPO (or PHPBUILD_IMAGE)")}
			}
			var outs []build.Output
			for _, s := range outputs {
				o, err := build.ParseOutput(s)
				if err != nil {
					return err
				}
				outs = append(outs, o)
			}
			if !push && len(outs) == 0 {
				return &usageError{fmt.Errorf("nowhere to put the image: give --image REGISTRY/REPO to push, or --output docker|oci:DIR|tar:FILE")}
			}
			if runtimeRepo == "" {
				runtimeRepo = os.Getenv("PHPBUILD_RUNTIME_REPO")
			}
			if runtimeRepo == "" {
				return &usageError{fmt.Errorf("--runtimes REGISTRY/REPO is required (or set PHPBUILD_RUNTIME_REPO): the repo `phpbuild runtime build` pushed to")}
			}
			rrepo, err := name.NewRepository(runtimeRepo)
			if err != nil {
				return &usageError{fmt.Errorf("--runtimes %q: %w", runtimeRepo, err)}
			}
			mode, err := progressMode(progress)
			if err != nil {
				return err
			}
			host := buildkit.HostFromEnv()
			stderr := cmd.ErrOrStderr()
			var mu sync.Mutex
			opts := []build.Option{
				build.WithRuntimeRepo(rrepo), build.WithBuildkitHost(host), build.WithAllowDirty(allowDirty),
				build.WithLayerEvents(func(ev build.LayerEvent) {
					if mode == "quiet" {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					what := "built "
					if ev.Reused {
						what = "reused"
					}
					took := ""
					if !ev.Reused {
						took = "  " + ev.Duration.Round(100*time.Millisecond).String()
					}
					fmt.Fprintf(stderr, "layer %-7s %s %9s  %s%s\n", ev.Name, what, humanBytes(ev.Size), short(ev.Digest), took)
				}),
			}
			if noCache {
				opts = append(opts, build.WithoutCache())
			}
			if cacheFrom != "" {
				ref, err := name.ParseReference(cacheFrom)
				if err != nil {
					return &usageError{fmt.Errorf("--cache-from %q: %w", cacheFrom, err)}
				}
				opts = append(opts, build.WithCacheFrom(ref))
			}
			if src := gitSource(); src != "" {
				opts = append(opts, build.WithSourceURL(src))
			}
			status, wait, err := showProgress(ctx, stderr, mode)
			if err != nil {
				return err
			}
			opts = append(opts, build.WithProgress(status))
			var updates chan v1.Update
			pushDone := make(chan struct{})
			if push && mode != "quiet" {
				updates = make(chan v1.Update, 16)
				go func() { showPush(stderr, updates); close(pushDone) }()
			} else {
				close(pushDone)
			}
			start := time.Now()
			res, err := build.Run(ctx, dir, target, push, force, outs, updates, opts...)
			close(status)
			wait()
			if updates != nil {
				close(updates)
			}
			<-pushDone
			if err != nil {
				return err
			}
			if imageRefs != "" {
				if err := os.WriteFile(imageRefs, []byte(strings.Join(res.Refs, "\n")+"\n"), 0o644); err != nil {
					return fmt.Errorf("writing --image-refs: %w", err)
				}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(stderr, "warning:", w)
			}
			if res.Existing {
				fmt.Fprintf(stderr, "%s is already in %s; nothing built (--force rebuilds)\n", res.SHA[:12], target)
			} else if mode != "quiet" {
				fmt.Fprintf(stderr, "built %s in %s\n", short(res.Digest), time.Since(start).Round(100*time.Millisecond))
			}
			for _, r := range res.Refs {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			for _, o := range res.Outputs {
				fmt.Fprintln(cmd.OutOrStdout(), o)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "", "repository to push to, e.g. registry.example.com/team/app (default $PHPBUILD_IMAGE); implies --push")
	f.StringVar(&runtimeRepo, "runtimes", "", "runtime repository (default $PHPBUILD_RUNTIME_REPO)")
	f.BoolVar(&push, "push", false, "push to --image (the default when --image is given)")
	f.BoolVar(&noPush, "no-push", false, "do not push even though --image is given (use with --output)")
	f.StringArrayVar(&outputs, "output", nil, "also write the image: docker (load into the local daemon), oci:DIR, tar:FILE; repeatable")
	f.StringVar(&imageRefs, "image-refs", "", "write each pushed ref (repo:tag@digest) to this file, one per line")
	f.StringVar(&cacheFrom, "cache-from", "", "image to reuse unchanged layers from (default: the nearest ancestor commit's image in --image)")
	f.BoolVar(&noCache, "no-cache", false, "build every layer, reusing none")
	f.BoolVar(&allowDirty, "allow-dirty", false, "build a work tree with uncommitted changes (the image gets no SHA tag)")
	f.BoolVar(&force, "force", false, "build even if the commit's SHA tag is already in the repo")
	f.StringVar(&progress, "progress", "auto", "progress output: auto, tty, plain or quiet")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// gitSource is org.opencontainers.image.source from CI's usual variables;
// a remote URL from git config may hold credentials, so it is not read.
func gitSource() string {
	if s := os.Getenv("PHPBUILD_SOURCE_URL"); s != "" {
		return s
	}
	if server, repo := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		return server + "/" + repo
	}
	return os.Getenv("CI_PROJECT_URL") // GitLab
}

// showPush prints a line per 10% of the upload.
func showPush(w interface{ Write([]byte) (int, error) }, updates <-chan v1.Update) {
	last := -1
	for u := range updates {
		if u.Error != nil || u.Total == 0 {
			continue
		}
		pct := int(u.Complete * 100 / u.Total)
		if pct/10 != last/10 {
			last = pct
			fmt.Fprintf(w, "push %3d%%  %s of %s\n", pct, humanBytes(u.Complete), humanBytes(u.Total))
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
