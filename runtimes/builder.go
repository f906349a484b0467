package runtimes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	gwclient "github.com/moby/buildkit/frontend/gateway/client"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/transient"
)

// Builder builds runtime images with BuildKit, verifies them, pushes them
// and records them in the runtime repo's manifest.
type Builder struct {
	o builderOptions
}

type builderOptions struct {
	host     string
	launcher string
	progress chan<- *client.SolveStatus
	catalog  *Catalog
	remote   []remote.Option
	http     *http.Client
	now      func() time.Time
}

// BuilderOption configures a Builder.
type BuilderOption func(*builderOptions) error

// WithBuildkitHost sets buildkitd's address (BUILDKIT_HOST form).
func WithBuildkitHost(host string) BuilderOption {
	return func(o *builderOptions) error {
		if host == "" {
			return errors.New("empty buildkit host")
		}
		o.host = host
		return nil
	}
}

// WithLauncher sets the path of the static launcher binary put in run images.
func WithLauncher(path string) BuilderOption {
	return func(o *builderOptions) error { o.launcher = path; return nil }
}

// WithProgress receives BuildKit's status updates, for a progress display.
// The Builder never closes ch.
func WithProgress(ch chan<- *client.SolveStatus) BuilderOption {
	return func(o *builderOptions) error { o.progress = ch; return nil }
}

// WithBuildCatalog builds from cat instead of the embedded catalog.
func WithBuildCatalog(cat *Catalog) BuilderOption {
	return func(o *builderOptions) error { o.catalog = cat; return nil }
}

// WithRemoteOptions passes options (auth, transport) to registry calls.
func WithRemoteOptions(opts ...remote.Option) BuilderOption {
	return func(o *builderOptions) error { o.remote = append(o.remote, opts...); return nil }
}

// NewBuilder returns a Builder; the launcher must be set.
func NewBuilder(opts ...BuilderOption) (*Builder, error) {
	o := builderOptions{host: buildkit.DefaultHost, http: http.DefaultClient, now: time.Now}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.catalog == nil {
		cat, err := DefaultCatalog()
		if err != nil {
			return nil, err
		}
		o.catalog = cat
	}
	if o.launcher == "" {
		return nil, errors.New("no launcher binary given")
	}
	return &Builder{o: o}, nil
}

// BuildResult is a built, or found, runtime.
type BuildResult struct {
	Entry Entry `json:"entry"`
	// Reused is true when the manifest already had a runtime with the same
	// inputs and nothing was built.
	Reused      bool     `json:"reused"`
	RunTag      name.Tag `json:"runTag"`
	BuildTag    name.Tag `json:"buildTag"`
	ComposerTag name.Tag `json:"composerTag"`
	CLITag      name.Tag `json:"cliTag"`
	NodeTag     name.Tag `json:"nodeTag"`
}

// Build makes the runtime spec asks for in repo, or returns the recorded one
// with identical inputs. Nothing is tagged or recorded unless both images
// were built and the run image passed verification.
func (b *Builder) Build(ctx context.Context, repo name.Repository, spec BuildSpec) (*BuildResult, error) {
	p, err := planBuild(b.o.catalog, spec)
	if err != nil {
		return nil, err
	}
	if p.minor.AptSource != "" {
		return nil, &badinput.Error{Field: "--php", Err: fmt.Errorf("PHP %s comes from an extra apt source, which runtime build does not support yet", p.minor.Minor)}
	}
	tmp, err := os.MkdirTemp("", "phpbuild-runtime-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	launcherSHA, err := fileSHA256(b.o.launcher)
	if err != nil {
		return nil, badinput.New(b.o.launcher, "reading the launcher binary: %v (build it with `make build`, or pass --launcher)", badinput.PathCause(err))
	}
	launcherDir := filepath.Join(tmp, "launcher")
	if err := os.MkdirAll(launcherDir, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(b.o.launcher, filepath.Join(launcherDir, "launcher")); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Join(launcherDir, "launcher"), 0o755); err != nil {
		return nil, err
	}
	mounts := map[string]fsutil.FS{}
	addMount := func(key, dir string) error {
		fs, err := fsutil.NewFS(dir)
		if err != nil {
			return err
		}
		mounts[key] = fs
		return nil
	}
	if err := addMount("launcher", launcherDir); err != nil {
		return nil, err
	}
	others, err := otherPlatforms(spec.Platforms)
	if err != nil {
		return nil, err
	}
	for _, plat := range others {
		l, err := launcherFor(b.o.launcher, plat)
		if err != nil {
			return nil, err
		}
		sha, err := fileSHA256(l)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(tmp, "launcher-"+plat.Architecture)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(l, filepath.Join(dir, "launcher")); err != nil {
			return nil, err
		}
		if err := os.Chmod(filepath.Join(dir, "launcher"), 0o755); err != nil {
			return nil, err
		}
		if err := addMount("launcher-"+plat.Architecture, dir); err != nil {
			return nil, err
		}
		if p.platforms == nil {
			p.platforms = map[string]string{}
		}
		p.platforms[platformString(plat)] = sha
	}
	sources := map[string]string{}
	for _, c := range p.compiled {
		fs, err := fetchSource(ctx, c.name, c.source, tmp, b.o.http, b.o.remote)
		if err != nil {
			return nil, err
		}
		sources[c.name] = fs.sha256
		if err := addMount("ext-"+c.name, fs.dir); err != nil {
			return nil, err
		}
	}

	bk, err := buildkit.Connect(ctx, b.o.host)
	if err != nil {
		return nil, err
	}
	defer bk.Close()
	baseDigest, err := b.resolveBase(ctx, bk, p.minor.Base)
	if err != nil {
		return nil, err
	}
	baseRef := p.minor.Base + "@" + baseDigest.String()
	for _, plat := range others {
		if err := b.checkBase(ctx, bk, baseRef, plat); err != nil {
			return nil, err
		}
	}
	base := llb.Image(baseRef, llb.WithCustomName("base "+p.minor.Base))
	compiled := map[string]llb.State{}
	for _, c := range p.compiled {
		src := llb.Local("ext-"+c.name, llb.SharedKeyHint("phpbuild-ext-"+c.name), contentID(sources[c.name]))
		compiled[c.name] = compileState(base, p, c, src)
	}
	run := runState(base, p, llb.Local("launcher", contentID(launcherSHA)), compiled)
	recipe, err := definitionDigest(ctx, buildState(run, p), nodeOn(cliState(base, p)))
	if err != nil {
		return nil, err
	}
	key := p.key(baseDigest.String(), sources, launcherSHA, recipe)
	entries, err := ReadManifest(ctx, repo, b.o.remote...)
	if err != nil {
		return nil, err
	}
	if e, ok := Find(entries, key); ok {
		// Recorded by an earlier phpbuild: what it did not record is added
		// (the SBOM, the run image's manifest and config), nothing built.
		if e.SBOM == "" || e.RunManifest == nil {
			if e.SBOM == "" {
				if e.SBOM, err = b.recordSBOM(ctx, bk, repo, e.RunRef(repo), nativeSpec(), p, sources); err != nil {
					return nil, err
				}
			}
			if err := Record(ctx, repo, e, b.o.remote...); err != nil {
				return nil, err
			}
		}
		res := newResult(repo, e)
		res.Reused = true
		return res, nil
	}

	var probes map[string]string
	runDigest, err := b.solve(ctx, bk, repo, mounts, func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		res, err := solveState(ctx, c, run)
		if err != nil {
			return nil, err
		}
		if probes, err = probe(ctx, c, run, p); err != nil {
			return nil, err
		}
		if err := verify(p, probes); err != nil {
			return nil, err
		}
		return res, addImageConfig(res, imageConfig(p, key, "run", true))
	})
	if err != nil {
		return nil, err
	}
	// Each image is built on the one pushed before it, by digest, not on
	// the state it was made from: its first layers are then that image's
	// blobs by construction, even when BuildKit ran a step again (a cache
	// record evicted, or the same step run by a concurrent build).
	derived := map[string]digest.Digest{}
	from := runDigest
	for _, d := range []struct {
		role string
		on   func(llb.State) llb.State
	}{{roleComposer, composerState}, {roleBuild, func(st llb.State) llb.State { return buildOn(st, p) }}} {
		dg, err := b.derive(ctx, bk, repo, mounts, p, key, d.role, from, d.on)
		if err != nil {
			return nil, err
		}
		derived[d.role] = dg
		from = dg
	}
	composerImage := llb.Image(repo.Digest(derived[roleComposer].String()).String(), llb.WithCustomName("the composer image"))
	cli := cliState(base, p)
	var platforms [2]map[string]string // the composer image's, the CLI image's
	derived[roleCLI], err = b.solveCompressed(ctx, bk, repo, mounts, layerCompression[roleCLI], func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		res, err := solveState(ctx, c, cli)
		if err != nil {
			return nil, err
		}
		for i, st := range []llb.State{composerImage, cli} {
			if platforms[i], err = probePlatform(ctx, c, st); err != nil {
				return nil, err
			}
		}
		return res, addImageConfig(res, imageConfig(p, key, roleCLI, false))
	})
	if err != nil {
		return nil, err
	}
	platform, hidden := platformConfig(platforms[0], platforms[1])
	// The node image is built on the CLI image as the build image on the
	// composer image: a fresh runner unpacks the CLI image's blobs once
	// for both.
	if derived[roleNode], err = b.derive(ctx, bk, repo, mounts, p, key, roleNode, derived[roleCLI], nodeOn); err != nil {
		return nil, err
	}
	var runs []PlatformRun
	for _, plat := range others {
		d, err := b.otherRun(ctx, bk, repo, mounts, p, plat, baseRef, key, sources)
		if err != nil {
			return nil, err
		}
		runs = append(runs, PlatformRun{Platform: platformString(plat), Run: d.String()})
	}

	e := Entry{
		Key: key, PHP: strings.TrimSpace(probes["php"]), PHPMinor: p.minor.Minor, Phalcon: riVersion(probes["phalcon"]),
		Extensions: modules(probes["modules"]), Base: p.minor.Base, BaseDigest: baseDigest.String(),
		Run: runDigest.String(), Build: derived[roleBuild].String(), Composer: derived[roleComposer].String(),
		CLI: derived[roleCLI].String(), Node: derived[roleNode].String(), Platform: platform, PlatformHidden: hidden, Built: b.o.now().UTC().Format(time.RFC3339),
		Native: NativePlatform(), Platforms: runs,
	}
	if e.SBOM, err = b.recordSBOM(ctx, bk, repo, e.RunRef(repo), nativeSpec(), p, sources); err != nil {
		return nil, err
	}
	for i, r := range e.Platforms {
		plat, err := otherPlatforms([]string{r.Platform})
		if err != nil || len(plat) != 1 {
			return nil, fmt.Errorf("platform %q: %v", r.Platform, err)
		}
		if e.Platforms[i].SBOM, err = b.recordSBOM(ctx, bk, repo, repo.Digest(r.Run), plat[0], p, sources); err != nil {
			return nil, err
		}
	}
	res := newResult(repo, e)
	for _, im := range e.images() {
		tag, d := imageTag(repo, e, im.role), im.digest
		desc, err := remote.Get(repo.Digest(d), append(b.o.remote, remote.WithContext(ctx))...)
		if err != nil {
			return nil, transient.Classify(fmt.Errorf("reading pushed image %s: %w", d, err))
		}
		if err := remote.Tag(tag, desc, append(b.o.remote, remote.WithContext(ctx))...); err != nil {
			return nil, transient.Classify(fmt.Errorf("tagging %s: %w", tag, err))
		}
	}
	if err := Record(ctx, repo, e, b.o.remote...); err != nil {
		return nil, err
	}
	return res, nil
}

// ImageRef is one of a runtime's images as tagged.
type ImageRef struct {
	Role   string   `json:"role"`
	Tag    name.Tag `json:"tag"`
	Digest string   `json:"digest"`
}

// Images are the runtime's images, the run image first; a runtime recorded
// by an earlier phpbuild lacks the later ones.
func (r *BuildResult) Images() []ImageRef {
	repo := r.RunTag.Context()
	var out []ImageRef
	for _, im := range r.Entry.images() {
		out = append(out, ImageRef{Role: im.role, Tag: imageTag(repo, r.Entry, im.role), Digest: im.digest})
	}
	return out
}

// derive builds role's image, on over the image from as pushed to repo,
// and pushes it by digest (see Build).
func (b *Builder) derive(ctx context.Context, bk *client.Client, repo name.Repository, mounts map[string]fsutil.FS, p *plan, key, role string, from digest.Digest, on func(llb.State) llb.State) (digest.Digest, error) {
	st := on(llb.Image(repo.Digest(from.String()).String(), llb.WithCustomName("the "+role+" image's base")))
	return b.solveCompressed(ctx, bk, repo, mounts, layerCompression[role], func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		res, err := solveState(ctx, c, st)
		if err != nil {
			return nil, err
		}
		return res, addImageConfig(res, imageConfig(p, key, role, false))
	})
}

// newResult names the tags of e's images.
func newResult(repo name.Repository, e Entry) *BuildResult {
	res := &BuildResult{Entry: e, RunTag: imageTag(repo, e, roleRun), BuildTag: imageTag(repo, e, roleBuild)}
	if e.Composer != "" {
		res.ComposerTag = imageTag(repo, e, roleComposer)
	}
	if e.CLI != "" {
		res.CLITag = imageTag(repo, e, roleCLI)
	}
	if e.Node != "" {
		res.NodeTag = imageTag(repo, e, roleNode)
	}
	return res
}

// imageTag is the tag of e's image in role: runTag, with "-build",
// "-composer", "-cli" or "-node" for those images.
func imageTag(repo name.Repository, e Entry, role string) name.Tag {
	if role == roleRun {
		return repo.Tag(runTag(e))
	}
	return repo.Tag(runTag(e) + "-" + role)
}

// runTag is a tag people can read: the exact PHP and Phalcon, plus the
// start of the inputs' key so different builds never collide.
func runTag(e Entry) string {
	t := "php" + e.PHP
	if e.Phalcon != "" {
		t += "-phalcon" + e.Phalcon
	}
	return t + "-" + strings.TrimPrefix(e.Key, "sha256:")[:12]
}

// resolveBase asks buildkitd for the base image's digest, so that its
// registry mirrors and credentials apply.
func (b *Builder) resolveBase(ctx context.Context, bk *client.Client, ref string) (digest.Digest, error) {
	var d digest.Digest
	_, err := bk.Build(ctx, client.SolveOpt{}, "phpbuild", func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
		var err error
		_, d, _, err = c.ResolveImageConfig(ctx, ref, sourceresolver.Opt{ImageOpt: &sourceresolver.ResolveImageOpt{
			Platform: &ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH},
		}})
		return gwclient.NewResult(), err
	}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		err = fmt.Errorf("resolving base image %s: %w", ref, err)
		if buildkit.Unavailable(err) {
			return "", transient.Mark(err)
		}
		return "", err
	}
	return d, nil
}

// solve runs one build and pushes its result to repo by digest only: no tag
// points at it until everything succeeded.
func (b *Builder) solve(ctx context.Context, bk *client.Client, repo name.Repository, mounts map[string]fsutil.FS, fn gwclient.BuildFunc) (digest.Digest, error) {
	return b.solveCompressed(ctx, bk, repo, mounts, "", fn)
}

// layerCompression is how the images that only BuildKit pulls, for the
// steps of app builds, are compressed: zstd, which buildkitd unpacks
// several times faster than gzip, where a fresh runner waits for the
// unpack. Every layer is compressed again, the base image's too: without
// force-compression BuildKit keeps the gzip blob it has cached for a
// layer, so the same runtime would come out gzip on one builder and zstd
// on another. The run and composer images stay gzip, which every docker
// reads. It is an input of the runtime key.
var layerCompression = map[string]string{
	// The CLI image: a class added or a lock change waits for it.
	roleCLI: "zstd",
	// The build image: php-dev, nodejs and npm over the composer image's
	// layers (which it then no longer shares with it, in the registry).
	roleBuild: "zstd",
	// The node image: a cold build with assets waits for it. Its first
	// layers are the CLI image's zstd blobs.
	roleNode: "zstd",
}

// solveCompressed is solve with every layer compressed as compression
// ("zstd", see layerCompression); "": BuildKit's default, gzip.
func (b *Builder) solveCompressed(ctx context.Context, bk *client.Client, repo name.Repository, mounts map[string]fsutil.FS, compression string, fn gwclient.BuildFunc) (digest.Digest, error) {
	attrs := map[string]string{
		"name": repo.String(), "push": "true", "push-by-digest": "true",
		"registry.insecure": fmt.Sprint(repo.Registry.Scheme() == "http"),
		"oci-mediatypes":    "true",
	}
	if compression != "" {
		attrs["compression"], attrs["force-compression"] = compression, "true"
	}
	opt := client.SolveOpt{
		LocalMounts: mounts,
		Session:     buildkit.Auth(),
		Exports:     []client.ExportEntry{{Type: client.ExporterImage, Attrs: attrs}},
	}
	// BuildKit returns the build function's error as a gRPC status, which
	// loses its type; keep the original to report it as it was.
	var fnErr error
	var resp *client.SolveResponse
	tap, err := buildkit.Watch(b.o.progress, func(ch chan *client.SolveStatus) (err error) {
		resp, err = bk.Build(ctx, opt, "phpbuild", func(ctx context.Context, c gwclient.Client) (*gwclient.Result, error) {
			res, err := fn(ctx, c)
			fnErr = err
			return res, err
		}, ch)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		var ve *VerifyError
		if errors.As(fnErr, &ve) {
			return "", ve
		}
		return "", explain(tap, err)
	}
	d, err := digest.Parse(resp.ExporterResponse[exptypes.ExporterImageDigestKey])
	if err != nil {
		return "", fmt.Errorf("buildkitd reported no image digest: %w", err)
	}
	return d, nil
}

// definitionDigest digests the LLB ops of st (BuildKit marshals them
// deterministically: they are its cache keys). Local sources appear by name
// only; the key adds their content.
func definitionDigest(ctx context.Context, states ...llb.State) (string, error) {
	h := sha256.New()
	for _, st := range states {
		def, err := st.Marshal(ctx, localID)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%d ops:", len(def.Def))
		for _, op := range def.Def {
			fmt.Fprintf(h, "%d:", len(op))
			h.Write(op)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// localID replaces the random per-process ID BuildKit gives local sources:
// with it, the same inputs marshal to the same ops in every run.
var localID = llb.LocalUniqueID("phpbuild-runtime")

// contentID names a local source by its content's digest. buildkitd treats
// two local sources with the same ID as one vertex and may hand a new
// build the files an earlier one synced: an ID that stayed the same while
// the files changed gave run images a stale launcher.
func contentID(sha256 string) llb.ConstraintsOpt {
	return llb.LocalUniqueID("phpbuild-sha256-" + sha256)
}

func solveState(ctx context.Context, c gwclient.Client, st llb.State) (*gwclient.Result, error) {
	def, err := st.Marshal(ctx, localID)
	if err != nil {
		return nil, err
	}
	return c.Solve(ctx, gwclient.SolveRequest{Definition: def.ToPB(), Evaluate: true})
}

// probePlatform lists the platform packages composer sees in img, by
// name: `composer show --platform`.
func probePlatform(ctx context.Context, c gwclient.Client, img llb.State) (map[string]string, error) {
	ex := img.Run(sh("cd /tmp && COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_HOME=/tmp/composer-home composer show --platform --format=json --no-interaction --no-ansi > /probe/platform.json",
		"list the platform composer sees (composer show --platform)")...)
	res, err := solveState(ctx, c, ex.AddMount("/probe", llb.Scratch()))
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	b, err := ref.ReadFile(ctx, gwclient.ReadRequest{Filename: "platform.json"})
	if err != nil {
		return nil, fmt.Errorf("reading the platform probe: %w", err)
	}
	return parsePlatform(b)
}

// parsePlatform reads `composer show --platform --format=json`.
func parsePlatform(b []byte) (map[string]string, error) {
	var doc struct {
		Platform []struct{ Name, Version string } `json:"platform"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading composer show --platform: %w", err)
	}
	out := map[string]string{}
	for _, p := range doc.Platform {
		out[p.Name] = p.Version
	}
	if len(out) == 0 {
		return nil, errors.New("composer show --platform listed nothing")
	}
	return out, nil
}

// platformConfig is composer's platform config on the CLI image that
// makes it see the composer image's: every extension and library of the
// composer image at its version, and those only the CLI image has hidden.
// PHP and composer's own packages are the same in both and left real.
func platformConfig(composer, cli map[string]string) (map[string]string, []string) {
	faked := func(name string) bool { return strings.HasPrefix(name, "ext-") || strings.HasPrefix(name, "lib-") }
	platform := map[string]string{}
	for n, v := range composer {
		if faked(n) {
			platform[n] = v
		}
	}
	var hidden []string
	for n := range cli {
		if _, ok := composer[n]; !ok && faked(n) {
			hidden = append(hidden, n)
		}
	}
	sort.Strings(hidden)
	return platform, hidden
}

// probe runs verifyScript in the run image and reads what it wrote.
func probe(ctx context.Context, c gwclient.Client, run llb.State, p *plan) (map[string]string, error) {
	ex := run.Run(sh(verifyScript(p), "verify the run image (php -v, php -m, php-fpm -t, nginx -t)")...)
	out := ex.AddMount("/verify", llb.Scratch())
	res, err := solveState(ctx, c, out)
	if err != nil {
		return nil, err
	}
	ref, err := res.SingleRef()
	if err != nil {
		return nil, err
	}
	names := []string{"php", "modules", "fpm", "nginx"}
	if p.phalcon != "" {
		names = append(names, "phalcon")
	}
	got := map[string]string{}
	for _, n := range names {
		for _, f := range []string{n, n + ".rc"} {
			b, err := ref.ReadFile(ctx, gwclient.ReadRequest{Filename: f})
			if err != nil {
				return nil, fmt.Errorf("reading probe %s: %w", f, err)
			}
			got[f] = string(b)
		}
	}
	return got, nil
}

// VerifyError is a run image that does not have what was asked for.
type VerifyError struct {
	Problems []string
}

func (e *VerifyError) Error() string {
	return "verifying the run image: " + strings.Join(e.Problems, "; ")
}

// verify compares probes with the plan; every difference is listed.
func verify(p *plan, probes map[string]string) error {
	var problems []string
	failed := func(n string) bool { return strings.TrimSpace(probes[n+".rc"]) != "0" }
	if v := strings.TrimSpace(probes["php"]); failed("php") || !strings.HasPrefix(v, p.minor.Minor+".") {
		problems = append(problems, fmt.Sprintf("php -v: want PHP %s.x, got %q", p.minor.Minor, v))
	}
	have := map[string]bool{}
	for _, m := range modules(probes["modules"]) {
		have[m] = true
	}
	var missing []string
	for _, want := range p.loaded {
		if !have[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 || failed("modules") {
		problems = append(problems, fmt.Sprintf("php -m does not list %s (output: %s)", strings.Join(missing, ", "), oneLine(probes["modules"])))
	}
	if p.phalcon != "" {
		if v := riVersion(probes["phalcon"]); v != p.phalcon {
			problems = append(problems, fmt.Sprintf("php --ri phalcon: want version %s, got %q (is the source Phalcon %s?)", p.phalcon, v, p.phalcon))
		}
	}
	if failed("fpm") {
		problems = append(problems, "php-fpm -t: "+oneLine(probes["fpm"]))
	}
	if failed("nginx") {
		problems = append(problems, "nginx -t: "+oneLine(probes["nginx"]))
	}
	if len(problems) > 0 {
		return &VerifyError{Problems: problems}
	}
	return nil
}

// modules parses `php -m`: lower-case names, sorted, without headers.
func modules(out string) []string {
	seen := map[string]bool{}
	var mods []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" || strings.HasPrefix(l, "[") || strings.Contains(l, " ") {
			continue
		}
		if l == "zend opcache" {
			l = "opcache"
		}
		if !seen[l] {
			seen[l] = true
			mods = append(mods, l)
		}
	}
	if !seen["opcache"] && strings.Contains(strings.ToLower(out), "zend opcache") {
		mods = append(mods, "opcache")
	}
	sort.Strings(mods)
	return mods
}

// riVersion reads "Version => X" from `php --ri`.
func riVersion(out string) string {
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, "=>")
		if ok && strings.EqualFold(strings.TrimSpace(k), "version") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func imageConfig(p *plan, key, role string, entrypoint bool) ocispecs.Image {
	img := ocispecs.Image{
		Platform: ocispecs.Platform{OS: "linux", Architecture: runtime.GOARCH},
		Config: ocispecs.ImageConfig{
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			WorkingDir: AppDir,
			Labels: map[string]string{
				"dev.phpbuild.runtime.key":       key,
				"dev.phpbuild.runtime.role":      role,
				"dev.phpbuild.runtime.php-minor": p.minor.Minor,
				"dev.phpbuild.runtime.phalcon":   p.phalcon,
			},
		},
	}
	if entrypoint {
		img.Config.Entrypoint = []string{LauncherPath}
		img.Config.User = fmt.Sprintf("%d:%d", AppUID, AppUID)
	}
	return img
}

func addImageConfig(res *gwclient.Result, img ocispecs.Image) error {
	b, err := json.Marshal(img)
	if err != nil {
		return err
	}
	res.AddMeta(exptypes.ExporterImageConfigKey, b)
	return nil
}

// explain turns a solve error into one that names the failed step and
// shows its last output lines; a failed extension compile is input the
// user must fix.
func explain(tap *buildkit.StatusTap, err error) error {
	if f, ok := tap.Failed(); ok {
		if ext, ok := strings.CutPrefix(f.Name, "compile ext-"); ok {
			ext, _, _ = strings.Cut(ext, " ")
			return &badinput.Error{Field: "--ext " + ext, Err: fmt.Errorf("the extension does not compile; last output:%s", f.Tail(20))}
		}
		return fmt.Errorf("step %q failed: %s%s", f.Name, f.Error, f.Tail(20))
	}
	if buildkit.Unavailable(err) {
		return transient.Mark(err)
	}
	return err
}
