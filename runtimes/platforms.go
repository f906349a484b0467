package runtimes

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/phpbuild/phpbuild/badinput"
)

// PlatformRun is the run image of a runtime for another platform than the
// one it was built on. App builds run their steps on the builder's
// platform only (vendor, assets, Volt and config are architecture-
// independent) and put the same layers on each platform's run image, so
// only the run image is made for the others.
type PlatformRun struct {
	Platform string `json:"platform"` // linux/arm64
	Run      string `json:"run"`
	SBOM     string `json:"sbom,omitempty"`
}

// NativePlatform is the platform this phpbuild runs on, which builds
// every image of a runtime and every step of an app build.
func NativePlatform() string { return "linux/" + runtime.GOARCH }

// otherPlatforms reads --platform: the platforms besides the native one,
// normalized (linux/arm64) and sorted. Only linux platforms are known.
func otherPlatforms(list []string) ([]ocispecs.Platform, error) {
	var out []ocispecs.Platform
	seen := map[string]bool{NativePlatform(): true}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := platforms.Parse(s)
		if err != nil {
			return nil, &badinput.Error{Field: "--platform", Err: fmt.Errorf("%q: %w", s, err)}
		}
		p = platforms.Normalize(p)
		if p.OS != "linux" || (p.Architecture != "amd64" && p.Architecture != "arm64") {
			return nil, &badinput.Error{Field: "--platform", Err: fmt.Errorf("%q: runtimes are built for linux/amd64 and linux/arm64", s)}
		}
		p.Variant = "" // arm64's v8 is the only one Debian builds for
		k := platformString(p)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b ocispecs.Platform) int { return strings.Compare(platformString(a), platformString(b)) })
	return out, nil
}

func platformString(p ocispecs.Platform) string { return p.OS + "/" + p.Architecture }

// launcherFor is the launcher binary for p: the native one's path with
// -linux-ARCH appended (bin/launcher-linux-arm64, as `make build` makes
// it).
func launcherFor(native string, p ocispecs.Platform) (string, error) {
	l := native + "-" + p.OS + "-" + p.Architecture
	if _, err := os.Stat(l); err != nil {
		return "", badinput.New(l, "the launcher for %s: %v (build it with `make build`, or GOOS=%s GOARCH=%s CGO_ENABLED=0 go build -o %s ./cmd/launcher)",
			platformString(p), badinput.PathCause(err), p.OS, p.Architecture, path.Base(l))
	}
	return l, nil
}

// otherRun builds, verifies and pushes the run image for plat on base
// (resolved to an index that has it), compiling extensions for plat too,
// under emulation when plat is not the machine's. mounts gains the
// platform's launcher.
func (b *Builder) otherRun(ctx context.Context, bk *client.Client, repo name.Repository, mounts map[string]fsutil.FS, p *plan, plat ocispecs.Platform, base, key string, sources map[string]string) (digest.Digest, error) {
	on := llb.Platform(plat)
	baseSt := llb.Image(base, llb.WithCustomName("base "+base+" for "+platformString(plat)), on)
	compiled := map[string]llb.State{}
	for _, c := range p.compiled {
		src := llb.Local("ext-"+c.name, llb.SharedKeyHint("phpbuild-ext-"+c.name), contentID(sources[c.name]))
		compiled[c.name] = compileState(baseSt, p, c, src)
	}
	launcherKey := "launcher-" + plat.Architecture
	run := runState(baseSt, p, llb.Local(launcherKey, contentID(p.platforms[platformString(plat)])), compiled)
	return b.solve(ctx, bk, repo, mounts, func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		res, err := solveState(ctx, c, run)
		if err != nil {
			return nil, err
		}
		probes, err := probe(ctx, c, run, p)
		if err != nil {
			return nil, err
		}
		if err := verify(p, probes); err != nil {
			return nil, fmt.Errorf("%s: %w", platformString(plat), err)
		}
		cfg := imageConfig(p, key, "run", true)
		cfg.Platform = plat
		return res, addImageConfig(res, cfg)
	})
}

// checkBase makes sure ref has an image for plat: a base that is one
// image, for another architecture, would give a run image whose binaries
// are not plat's.
func (b *Builder) checkBase(ctx context.Context, bk *client.Client, ref string, plat ocispecs.Platform) error {
	var cfg []byte
	_, err := bk.Build(ctx, client.SolveOpt{}, "phpbuild", func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		var err error
		_, _, cfg, err = c.ResolveImageConfig(ctx, ref, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{Platform: &plat}})
		return gwclient.NewResult(), err
	}, nil)
	if err != nil {
		return fmt.Errorf("resolving base image %s for %s: %w", ref, platformString(plat), err)
	}
	var img ocispecs.Image
	if err := json.Unmarshal(cfg, &img); err != nil {
		return fmt.Errorf("base image %s: %w", ref, err)
	}
	if img.OS != plat.OS || img.Architecture != plat.Architecture {
		return &badinput.Error{Field: "--platform", Err: fmt.Errorf("the base image %s has no %s image (it resolves to %s/%s): use a base that is an index of several platforms, as Docker Hub's debian is", ref, platformString(plat), img.OS, img.Architecture)}
	}
	return nil
}
