package build

import (
	"context"
	"path"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/runtimes"
)

// warmCLI has buildkitd pull and unpack the runtime's CLI image while the
// build reads the app and keys its layers, when the commit likely runs a
// composer step on it (see composerStepLikely): on a fresh runner that
// pull is the longest wait of a class added or a lock change, and the
// keying of a large app takes a second or two. The step then finds the
// image unpacked. Whatever goes wrong here, the step pulls the image
// itself. The cache image is being read (prev); the decision waits for it
// off the build's path. The returned func stops the warming and waits for
// it.
func (o *options) warmCLI(ctx context.Context, dir string, commit *git.Commit, prev *par.Future[*cacheImage], rt *runtimes.Runtime) func() {
	if rt.CLIImage == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if p, err := prev.Wait(); err != nil || !composerStepLikely(ctx, dir, commit, p) {
			return
		}
		bk, err := buildkit.Connect(ctx, o.buildkitHost)
		if err != nil {
			return
		}
		defer bk.Close()
		// Running a program is what makes buildkitd unpack an image.
		st := llb.Image(rt.CLIImage).Run(llb.Args([]string{"/bin/true"}), llb.WithCustomName("warm the CLI image")).Root()
		def, err := st.Marshal(ctx)
		if err != nil {
			return
		}
		_, _ = bk.Solve(ctx, def, client.SolveOpt{Session: buildkit.Auth()}, nil)
	}()
	return func() {
		cancel()
		<-done
	}
}

// composerStepLikely reports whether composer likely runs on the CLI image
// for commit: there is no cache image, or since the cache image's commit,
// composer's files changed or a PHP file was added or removed (a class
// added, removed or moved changes the class index). A code change that
// declares nothing new, the commonest, warms nothing: its build runs no
// step.
func composerStepLikely(ctx context.Context, dir string, commit *git.Commit, prev *cacheImage) bool {
	if prev == nil {
		return true
	}
	if prev.revision == "" || prev.revision == commit.SHA {
		return false
	}
	changes, err := prev.changes(ctx, dir, commit.SHA)
	if err != nil {
		return false
	}
	for _, c := range changes {
		switch {
		case c.Path == "composer.json" || c.Path == "composer.lock":
			return true
		case path.Ext(c.Path) == ".php" && c.Status != 'M':
			return true
		}
	}
	return false
}
