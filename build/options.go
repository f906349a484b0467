package build

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/phpbuild/phpbuild/git"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/buildkit/client"

	"github.com/phpbuild/phpbuild/internal/buildkit"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/runtimes"
)

type options struct {
	catalog      *runtimes.Catalog
	runtimeRepo  *name.Repository
	remote       []remote.Option
	buildkitHost string
	progress     chan<- *client.SolveStatus
	onLayer      func(LayerEvent)
	allowDirty   bool
	target       *name.Repository
	cacheFrom    name.Reference
	noCache      bool
	sourceURL    string
	skipExisting bool
	// builder is phpbuild's version, for provenance.
	builder string
	// rebaseTo is the runtime Rebase moves onto, by key or run digest;
	// "" for the newest compatible one.
	rebaseTo string
	// commit is dir's commit when Publish has read it already.
	commit *git.Commit
	// The runtime manifest, read while git is (see prefetch).
	entries *par.Future[[]runtimes.Entry]
	// tags lists the target repo's tags once, when asked (see listTags).
	tags *tagList
	// prev is the cache image being read, started by prepare.
	prev *par.Future[*cacheImage]
	// early are the reads started once git names HEAD and its parent
	// (see readEarly).
	early *earlyReads
	// puller reads for the whole build: one ping and one token per repo,
	// not one per request.
	puller *remote.Puller
}

// Option configures planning and building.
type Option func(*options) error

func newOptions(opts []Option) (*options, error) {
	o := &options{buildkitHost: buildkit.DefaultHost, builder: "dev", tags: &tagList{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.catalog == nil {
		cat, err := runtimes.DefaultCatalog()
		if err != nil {
			return nil, err
		}
		o.catalog = cat
	}
	if len(o.remote) == 0 {
		o.remote = DefaultRemote()
	}
	if o.puller == nil {
		p, err := remote.NewPuller(o.remote...)
		if err != nil {
			return nil, err
		}
		o.puller = p
	}
	o.remote = append(slices.Clone(o.remote), remote.Reuse(o.puller))
	if o.skipExisting && o.target == nil {
		return nil, errors.New("skipping an existing image needs a target repo (WithTarget)")
	}
	return o, nil
}

// DefaultRemote is how phpbuild talks to registries unless told otherwise:
// credentials from the docker config and its helpers, retries with backoff
// on server errors and broken connections, and each registry pinged once
// (see pingCache).
func DefaultRemote() []remote.Option { return remoteVia(registryTransport) }

// remoteVia is DefaultRemote over transport t.
func remoteVia(t http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithRetryBackoff(remote.Backoff{Duration: 500e6, Factor: 2, Jitter: 0.1, Steps: 5}),
		remote.WithRetryStatusCodes(500, 502, 503, 504, 429, 408),
		remote.WithTransport(t),
	}
}

// prefetch starts reading the runtime manifest, which needs no commit,
// unless started already.
func (o *options) prefetch(ctx context.Context) {
	if o.entries == nil && o.runtimeRepo != nil {
		repo := *o.runtimeRepo
		o.entries = par.Go(func() ([]runtimes.Entry, error) { return runtimes.ReadManifest(ctx, repo, o.remoteWith(ctx)...) })
	}
}

// tagList is the target repo's tags, listed once and only when asked:
// only a build whose parent has no image needs them, to find the nearest
// ancestor that has one. A repo gains three tags a build, and a registry
// lists a thousand at most a request: listing them on every build would
// cost a round trip more per thousand, and grow with the repo.
type tagList struct {
	once sync.Once
	tags *par.Future[[]string]
}

// listTags lists the target repo's tags, once.
func (o *options) listTags(ctx context.Context) *par.Future[[]string] {
	o.tags.once.Do(func() {
		repo := *o.target
		o.tags.tags = par.Go(func() ([]string, error) { return remote.List(repo, o.remoteWith(ctx)...) })
	})
	return o.tags.tags
}

// prefetched passes the reads prefetch and readEarly started, the tag
// list, the puller and the catalog on to another options.
func (o *options) prefetched(to *options) error {
	to.entries, to.tags, to.puller, to.early = o.entries, o.tags, o.puller, o.early
	if to.catalog == nil {
		to.catalog = o.catalog // parsed once
	}
	return nil
}

func (o *options) remoteWith(ctx context.Context) []remote.Option {
	return append(append([]remote.Option{}, o.remote...), remote.WithContext(ctx))
}

// WithCatalog resolves against cat instead of the embedded catalog.
func WithCatalog(cat *runtimes.Catalog) Option {
	return func(o *options) error {
		if cat == nil {
			return fmt.Errorf("nil catalog")
		}
		o.catalog = cat
		return nil
	}
}

// WithRuntimeRepo resolves against the runtimes built in repo (see
// `phpbuild runtime build`) instead of the catalog alone, so the plan names
// exact PHP versions and run image digests. Building needs it.
func WithRuntimeRepo(repo name.Repository, opts ...remote.Option) Option {
	return func(o *options) error {
		o.runtimeRepo = &repo
		if len(opts) > 0 {
			o.remote = opts
		}
		return nil
	}
}

// WithRemoteOptions replaces the registry options (auth, transport,
// retries) of every registry call.
func WithRemoteOptions(opts ...remote.Option) Option {
	return func(o *options) error { o.remote = opts; return nil }
}

// WithBuildkitHost sets buildkitd's address (BUILDKIT_HOST form).
func WithBuildkitHost(host string) Option {
	return func(o *options) error {
		if host == "" {
			return errors.New("empty buildkit host")
		}
		o.buildkitHost = host
		return nil
	}
}

// WithProgress receives BuildKit's status updates; it is never closed.
func WithProgress(ch chan<- *client.SolveStatus) Option {
	return func(o *options) error { o.progress = ch; return nil }
}

// WithLayerEvents calls fn as each layer is reused or built.
func WithLayerEvents(fn func(LayerEvent)) Option {
	return func(o *options) error { o.onLayer = fn; return nil }
}

// WithAllowDirty builds a work tree with uncommitted changes; the image
// gets no SHA tag.
func WithAllowDirty(allow bool) Option {
	return func(o *options) error { o.allowDirty = allow; return nil }
}

// WithTarget names the repo the image goes to; the cache image is looked
// up there unless WithCacheFrom names one.
func WithTarget(repo name.Repository) Option {
	return func(o *options) error { o.target = &repo; return nil }
}

// WithSkipExisting builds nothing when the target repo (WithTarget) holds
// the commit's SHA tag already: Publish returns that image, as Existing.
func WithSkipExisting() Option {
	return func(o *options) error { o.skipExisting = true; return nil }
}

// WithCacheFrom reuses the layers of ref whose keys are unchanged.
func WithCacheFrom(ref name.Reference) Option {
	return func(o *options) error { o.cacheFrom = ref; return nil }
}

// WithoutCache builds every layer.
func WithoutCache() Option {
	return func(o *options) error { o.noCache = true; return nil }
}

// WithSourceURL sets org.opencontainers.image.source.
func WithSourceURL(url string) Option {
	return func(o *options) error { o.sourceURL = url; return nil }
}

// WithBuilderVersion names the phpbuild version in the image's provenance.
func WithBuilderVersion(v string) Option {
	return func(o *options) error { o.builder = v; return nil }
}

// WithRebaseTo makes Rebase move onto the runtime whose key or run image
// digest (or their first 12 hex digits) is key, refusing one that is not
// compatible, instead of the newest compatible one.
func WithRebaseTo(key string) Option {
	return func(o *options) error { o.rebaseTo = key; return nil }
}
