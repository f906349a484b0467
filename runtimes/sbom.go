package runtimes

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/transient"
)

// contentsScript lists what the run image holds, for its SBOM: the Debian
// packages, the distribution, and every loaded extension with the
// version PHP reports.
const contentsScript = `cd /
dpkg-query -W -f '${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' > /sbom/dpkg
. /etc/os-release && echo "$ID-$VERSION_ID" > /sbom/os
php -r 'echo PHP_VERSION;' > /sbom/php
php -r 'foreach (array_merge(get_loaded_extensions(), get_loaded_extensions(true)) as $e) { echo strtolower($e), "\t", phpversion($e), "\n"; }' > /sbom/ext
`

// nativeSpec is NativePlatform as BuildKit takes it.
func nativeSpec() ocispecs.Platform {
	return ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH}
}

// recordSBOM reads the pushed run image runRef, for plat, attaches its SBOM to it in
// repo, and returns the SBOM blob's digest, which the app builds read.
// sources are the compiled extensions' source sha256s by name.
func (b *Builder) recordSBOM(ctx context.Context, bk *client.Client, repo name.Repository, runRef name.Digest, plat ocispecs.Platform, p *plan, sources map[string]string) (string, error) {
	run := llb.Image(runRef.String(), llb.WithCustomName("the "+platformString(plat)+" run image"), llb.Platform(plat))
	out := run.Run(sh(contentsScript, "list the run image's packages and extensions for its SBOM")...).AddMount("/sbom", llb.Scratch())
	files := map[string]string{}
	_, err := buildkit.Watch(b.o.progress, func(ch chan *client.SolveStatus) error {
		_, err := bk.Build(ctx, client.SolveOpt{Session: buildkit.Auth()}, "phpbuild", func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
			res, err := solveState(ctx, c, out)
			if err != nil {
				return nil, err
			}
			ref, err := res.SingleRef()
			if err != nil {
				return nil, err
			}
			for _, f := range []string{"dpkg", "os", "php", "ext"} {
				body, err := ref.ReadFile(ctx, gwclient.ReadRequest{Filename: f})
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", f, err)
				}
				files[f] = string(body)
			}
			return gwclient.NewResult(), nil
		}, ch)
		return err
	})
	if err != nil {
		if buildkit.Unavailable(err) {
			return "", transient.Mark(fmt.Errorf("listing the run image's packages: %w", err))
		}
		return "", fmt.Errorf("listing the run image's packages: %w", err)
	}
	facts, err := runtimeFacts(files, p, sources)
	if err != nil {
		return "", err
	}
	body, err := attest.RuntimeSBOM(facts)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(runRef, append(b.o.remote, remote.WithContext(ctx))...)
	if err != nil {
		return "", transient.Classify(fmt.Errorf("reading run image %s: %w", runRef, err))
	}
	if err := attest.Attach(ctx, repo, *desc, []attest.Document{{Type: attest.SBOMType, Body: body}}, b.o.remote...); err != nil {
		return "", transient.Classify(fmt.Errorf("in %s: %w", repo, err))
	}
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// runtimeFacts reads contentsScript's files.
func runtimeFacts(files map[string]string, p *plan, sources map[string]string) (attest.Runtime, error) {
	pkgs, err := attest.ParseDpkg(files["dpkg"])
	if err != nil {
		return attest.Runtime{}, fmt.Errorf("the run image's packages: %w", err)
	}
	rt := attest.Runtime{Distro: strings.TrimSpace(files["os"]), Packages: pkgs, PHP: strings.TrimSpace(files["php"])}
	compiled := map[string]ExtensionSource{}
	for _, c := range p.compiled {
		compiled[c.name] = c.source
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(files["ext"], "\n") {
		n, v, _ := strings.Cut(strings.TrimSpace(l), "\t")
		if n == "zend opcache" {
			n = "opcache"
		}
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		e := attest.Extension{Name: n, Version: v}
		if src, ok := compiled[n]; ok {
			e.SHA256 = sources[n]
			// A local path names the builder's machine, not a source
			// anyone else can fetch: the sha256 identifies it.
			if strings.Contains(src.Location, "://") {
				e.Location = src.Location
			}
		}
		rt.Extensions = append(rt.Extensions, e)
	}
	sort.Slice(rt.Extensions, func(i, j int) bool { return rt.Extensions[i].Name < rt.Extensions[j].Name })
	return rt, nil
}

// SBOMRef is the runtime's SBOM blob, repo@digest; "" for a runtime
// recorded before phpbuild recorded SBOMs.
func (e Entry) SBOMRef(repo name.Repository) string {
	if e.SBOM == "" {
		return ""
	}
	return repo.Digest(e.SBOM).String()
}
