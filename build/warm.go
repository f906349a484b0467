package build

import (
	"context"
	"path"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/runtimes"
)

// warm has buildkitd pull and unpack one of the runtime's step images
// while the build reads the app and keys its layers (see toWarm): on a
// fresh runner that pull is the longest wait of a class added, a lock
// change or a cold build, and the keying of a large app takes a second or
// two. The steps then find the image unpacked. Whatever goes wrong here,
// the steps pull the image themselves. The cache image is being read
// (prev); the decision waits for it off the build's path. The returned
// func stops the warming and waits for it.
func (o *options) warm(ctx context.Context, dir string, commit *git.Commit, prev *par.Future[*cacheImage], app *detect.App, rt *runtimes.Runtime) func() {
	if rt.CLIImage == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p, err := prev.Wait()
		if err != nil {
			return
		}
		ref := toWarm(ctx, dir, commit, p, app, rt)
		if ref == "" {
			return
		}
		bk, err := buildkit.Connect(ctx, o.buildkitHost)
		if err != nil {
			return
		}
		defer bk.Close()
		// Running a program is what makes buildkitd unpack an image.
		st := llb.Image(ref).Run(llb.Args([]string{"/bin/true"}), llb.WithCustomName("warm "+ref)).Root()
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

// toWarm is the image to warm for commit, "" for none. Without a cache
// image an app with assets warms the node image, whose first layers are
// the CLI image's: the composer steps find it unpacked too. Otherwise the
// CLI image, when a composer step on it is likely.
func toWarm(ctx context.Context, dir string, commit *git.Commit, prev *cacheImage, app *detect.App, rt *runtimes.Runtime) string {
	switch {
	case prev == nil && app.Node != nil && rt.NodeImage != "":
		return rt.NodeImage
	case composerStepLikely(ctx, dir, commit, prev):
		return rt.CLIImage
	}
	return ""
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
