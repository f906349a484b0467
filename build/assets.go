package build

import (
	"fmt"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
)

// assetsProducer makes the assets layer: the output of the app's node
// build.
type assetsProducer struct {
	l       *layers.Assets
	dir     string // the app dir
	webRoot string // the default output
	key     string
	image   llb.State
}

func (p *assetsProducer) step() (*llb.State, error) {
	outputs := p.l.Output
	if len(outputs) == 0 {
		outputs = []string{p.webRoot}
	}
	st := assetsStep(p.image, p.l, outputs, p.key)
	return &st, nil
}

func (p *assetsProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	made, err := stepEntries(out, p.dir, p.l.Files)
	if err != nil {
		return nil, err
	}
	return layers.NewTar(made, epoch)
}

// assetsStep runs the node build. Only its output dirs are kept, never
// node_modules.
func assetsStep(img llb.State, a *layers.Assets, outputs []string, key string) llb.State {
	var install, run string
	switch a.PackageManager {
	case "yarn":
		install, run = "yarn install --frozen-lockfile --non-interactive", "yarn run "
	case "pnpm":
		install, run = "pnpm install --frozen-lockfile", "pnpm run "
	default:
		install, run = "npm ci --no-audit --no-fund", "npm run "
		if !slices.Contains(a.Files, "package-lock.json") && !slices.Contains(a.Files, "npm-shrinkwrap.json") {
			install = "npm install --no-audit --no-fund"
		}
	}
	pm := strings.Fields(install)[0]
	// Detection requires a script named build; a.BuildScript is its command.
	script := fmt.Sprintf("command -v %s >/dev/null || { echo \"phpbuild: %s is not installed where the assets build runs; use npm (package-lock.json)\" >&2; exit 3; }\n%s\n%sbuild",
		pm, pm, install, run)
	changes := runStep(img, source(a.Files, key), script, "assets: "+pm+" run build ("+a.BuildScript+")", "npm")
	ci := &llb.CopyInfo{CopyDirContentsOnly: true, AllowWildcard: true, AllowEmptyWildcard: true, CreateDestPath: true,
		ExcludePatterns: []string{"node_modules", "**/node_modules"}}
	for _, o := range outputs {
		if o != "." {
			ci.IncludePatterns = append(ci.IncludePatterns, o)
		}
	}
	return llb.Scratch().File(llb.Copy(changes, "/", "/", ci), llb.WithCustomName("assets: keep "+strings.Join(outputs, ", ")))
}
