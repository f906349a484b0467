package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/attest"
	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/internal/regapi"
	"github.com/phpbuild/phpbuild/transient"
)

// A Publisher delivers a built image: to a registry, a docker daemon, an
// OCI layout or a tarball.
type Publisher interface {
	// Publish delivers img under each of tags, with docs attached where
	// the destination holds referrers (a registry, an OCI layout), and
	// says where it went.
	Publish(ctx context.Context, img v1.Image, tags []string, docs []attest.Document) (Published, error)
}

// Published says where a publisher put an image.
type Published struct {
	// Refs are repo:tag@digest for every tag pushed to a registry.
	Refs []string
	// Outputs are local copies: docker:REPO:TAG, oci:DIR, tar:FILE.
	Outputs []string
	// Uploaded is what a registry push sent; nil without one.
	Uploaded *Uploaded
	// Attached says whether the documents were attached.
	Attached bool
}

var (
	_ Publisher = (*registryPublisher)(nil)
	_ Publisher = (*localPublisher)(nil)
	_ Publisher = multiPublisher(nil)
)

// registryPublisher pushes to a repository.
type registryPublisher struct {
	repo     name.Repository
	progress chan<- v1.Update
	remote   []remote.Option // nil: DefaultRemote
	// prep is the push's start, made while the image is built (see
	// prepare); nil: Publish makes it.
	prep *par.Future[*pushPrep]
}

// pushPrep is what a push needs before there is an image: the transport
// that counts what is sent, authenticated for pushes to the repo (a ping,
// a token), uploads opened for the small blobs every build makes new
// (the image config, the provenance, most often the app layer), and
// whether the registry has the referrers API.
type pushPrep struct {
	counter *uploadCounter
	opts    []remote.Option // ggcr's, over counter
	api     *regapi.Repo
	// referrers is what prepare's probe found (attest.ProbeReferrers).
	referrers attest.Referrers

	mu     sync.Mutex
	opened []*url.URL
}

// uploadsOpened is how many uploads prepare opens.
const uploadsOpened = 3

// newPushPrep authenticates for pushes to repo over base (counted), ggcr
// with opts over it too.
func newPushPrep(ctx context.Context, repo name.Repository, base http.RoundTripper, opts []remote.Option) (*pushPrep, error) {
	counter := newUploadCounter(base)
	if len(opts) == 0 {
		opts = remoteVia(counter)
	} else {
		// The counter goes first: a transport in the caller's options (a
		// test's) replaces it, and ggcr's requests then count nothing.
		opts = append([]remote.Option{remote.WithTransport(counter)}, opts...)
	}
	auth, err := authn.Resolve(ctx, authn.DefaultKeychain, repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, counter, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("pushing to %s: %w", repo, err))
	}
	return &pushPrep{counter: counter, opts: opts, api: regapi.New(rt, repo)}, nil
}

// takeOpened is an opened upload, nil when none is left.
func (pp *pushPrep) takeOpened() *url.URL {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if len(pp.opened) == 0 {
		return nil
	}
	loc := pp.opened[len(pp.opened)-1]
	pp.opened = pp.opened[:len(pp.opened)-1]
	return loc
}

// prepare starts the push while the image is built (see pushPrep), with
// what the build found of the repo. What fails here is done again by
// Publish.
func (p *registryPublisher) prepare(ctx context.Context, t tagged) {
	p.prep = par.Go(func() (*pushPrep, error) {
		pp, err := p.newPrep(ctx)
		if err != nil {
			return nil, err
		}
		var wg sync.WaitGroup
		wg.Go(func() { pp.referrers = attest.ProbeReferrers(ctx, pp.api, t.holds(p.repo)) })
		for range uploadsOpened {
			wg.Go(func() {
				if loc, err := pp.api.Open(ctx); err == nil {
					pp.mu.Lock()
					pp.opened = append(pp.opened, loc)
					pp.mu.Unlock()
				}
			})
		}
		wg.Wait()
		return pp, nil
	})
}

func (p *registryPublisher) newPrep(ctx context.Context) (*pushPrep, error) {
	if len(p.remote) == 0 {
		return newPushPrep(ctx, p.repo, registryTransport, nil)
	}
	return newPushPrep(ctx, p.repo, remote.DefaultTransport, p.remote)
}

// NewRegistry pushes to repo (see Push); progress, when not nil, receives
// the upload's updates and is never closed. Without opts, DefaultRemote.
func NewRegistry(repo name.Repository, progress chan<- v1.Update, opts ...remote.Option) Publisher {
	return &registryPublisher{repo: repo, progress: progress, remote: opts}
}

func (p *registryPublisher) Publish(ctx context.Context, img v1.Image, tags []string, docs []attest.Document) (Published, error) {
	var pp *pushPrep
	if p.prep != nil {
		pp, _ = p.prep.Wait()
	}
	if pp == nil {
		var err error
		if pp, err = p.newPrep(ctx); err != nil {
			return Published{}, err
		}
	}
	refs, err := pushWith(ctx, img, p.repo, tags, docs, p.progress, pp)
	if err != nil {
		return Published{}, err
	}
	up, err := pp.counter.result(img)
	return Published{Refs: refs, Uploaded: &up, Attached: len(docs) > 0}, err
}

// Push uploads img's missing blobs (progress, when not nil, receives
// updates and is never closed), mounting those already in another repo
// of the registry, then puts the manifest under each tag, the SHA last: a
// build whose push failed has no SHA tag and is built again. Blobs that
// img says the repo holds (see KnownBlobs) are not even checked; should
// the registry have lost one, the push starts again checking all.
func Push(ctx context.Context, img v1.Image, repo name.Repository, tags []string, docs []attest.Document, progress chan<- v1.Update, opts ...remote.Option) ([]string, error) {
	pp, err := newPushPrep(ctx, repo, registryTransport, opts)
	if err != nil {
		return nil, err
	}
	return pushWith(ctx, img, repo, tags, docs, progress, pp)
}

// pushWith is Push from pp.
func pushWith(ctx context.Context, img v1.Image, repo name.Repository, tags []string, docs []attest.Document, progress chan<- v1.Update, pp *pushPrep) ([]string, error) {
	known := map[v1.Hash]bool{}
	if k, ok := img.(interface{ KnownBlobs() []v1.Hash }); ok {
		for _, h := range k.KnownBlobs() {
			known[h] = true
		}
	}
	refs, err := push(ctx, img, repo, tags, docs, progress, known, pp)
	if len(known) > 0 && blobUnknown(err) {
		refs, err = push(ctx, img, repo, tags, docs, progress, nil, pp)
	}
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("pushing to %s: %w", repo, err))
	}
	return refs, nil
}

func push(ctx context.Context, img v1.Image, repo name.Repository, tags []string, docs []attest.Document, progress chan<- v1.Update, known map[v1.Hash]bool, pp *pushPrep) ([]string, error) {
	// ggcr's pusher for large blobs and mounts; the rest, small blobs and
	// manifests, in as few round trips as the API allows (see regapi).
	pusher, err := remote.NewPusher(append(append([]remote.Option{}, pp.opts...), remote.WithContext(ctx))...)
	if err != nil {
		return nil, err
	}
	api := pp.api
	// top is what the tags name: the image, or the index of a
	// multi-platform image, whose images are put by digest first.
	var top manifested = img
	images := []v1.Image{img}
	if idx := indexOf(img); idx != nil {
		top = idx
		if images, err = imagesOf(idx); err != nil {
			return nil, err
		}
	}
	d, err := partial.Digest(top)
	if err != nil {
		return nil, err
	}
	var blobs []v1.Layer
	for _, im := range images {
		ls, err := im.Layers()
		if err != nil {
			return nil, err
		}
		cfg, err := partial.ConfigLayer(im)
		if err != nil {
			return nil, err
		}
		blobs = append(append(blobs, ls...), cfg)
	}
	if len(docs) > 0 {
		blobs = append(blobs, attest.Blobs(docs)...)
	}
	var total, done atomic.Int64
	var missing []v1.Layer
	sent := map[v1.Hash]bool{}
	for _, l := range blobs {
		h, err := l.Digest()
		if err != nil {
			return nil, err
		}
		size, err := l.Size()
		if err != nil {
			return nil, err
		}
		total.Add(size)
		if known[h] || sent[h] {
			done.Add(size)
			continue
		}
		sent[h] = true // a layer listed twice is sent once
		missing = append(missing, l)
	}
	report := func() {
		if progress != nil {
			progress <- v1.Update{Complete: done.Load(), Total: total.Load()}
		}
	}
	report()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, l := range missing {
		g.Go(func() error {
			size, err := l.Size()
			if err != nil {
				return err
			}
			_, mountable := l.(*remote.MountableLayer)
			switch {
			case mountable || size > regapi.SmallBlob:
				err = pusher.Upload(gctx, repo, l)
			case size <= regapi.SmallNew:
				if loc := pp.takeOpened(); loc != nil {
					err = api.PutAt(gctx, loc, l)
					break
				}
				fallthrough
			default:
				err = api.PutBlob(gctx, l)
			}
			if err != nil {
				return err
			}
			done.Add(size)
			report()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(images) > 1 {
		g, gctx := errgroup.WithContext(ctx)
		for _, im := range images {
			g.Go(func() error {
				h, err := im.Digest()
				if err != nil {
					return err
				}
				return putManifest(gctx, api, h.String(), im)
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	// The documents are attached while the other tags are put; the SHA
	// tag waits for both.
	refer := make(chan error, 1)
	if len(docs) > 0 {
		go func() { refer <- referTo(ctx, top.(partial.Describable), api, docs, pp.referrers) }()
	} else {
		refer <- nil
	}
	ordered := append([]string{}, tags...)
	// SHA tags go last.
	for i := 0; i < len(ordered)-1; i++ {
		if isSHA(ordered[i]) {
			ordered = append(append(ordered[:i:i], ordered[i+1:]...), ordered[i])
			break
		}
	}
	if len(ordered) == 0 {
		if err := putManifest(ctx, api, d.String(), top); err != nil {
			return nil, err
		}
		return nil, <-refer
	}
	var refs []string
	for i, t := range ordered {
		if i == len(ordered)-1 {
			if err := <-refer; err != nil {
				return nil, err
			}
		}
		tag := repo.Tag(t)
		if err := putManifest(ctx, api, t, top); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", tag, err)
		}
		refs = append(refs, tag.String()+"@"+d.String())
	}
	return refs, nil
}

// manifested is an image or an index: what a registry puts under a tag.
type manifested interface {
	RawManifest() ([]byte, error)
	MediaType() (types.MediaType, error)
}

// putManifest puts m's manifest in api's repo under ref.
func putManifest(ctx context.Context, api *regapi.Repo, ref string, m manifested) error {
	raw, err := m.RawManifest()
	if err != nil {
		return err
	}
	mt, err := m.MediaType()
	if err != nil {
		return err
	}
	return api.PutManifest(ctx, ref, mt, raw)
}

// referTo attaches docs to img through api (see attest.Refer).
func referTo(ctx context.Context, img partial.Describable, api *regapi.Repo, docs []attest.Document, known attest.Referrers) error {
	desc, err := partial.Descriptor(img)
	if err != nil {
		return err
	}
	return attest.Refer(ctx, api, *desc, docs, known)
}

// blobUnknown is a registry's refusal of a manifest whose blob it lacks.
func blobUnknown(err error) bool {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return false
	}
	for _, e := range terr.Errors {
		if e.Code == transport.ManifestBlobUnknownErrorCode || e.Code == transport.BlobUnknownErrorCode {
			return true
		}
	}
	return false
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// ParseOutput reads --output (docker, oci:DIR, tar:FILE) as the publisher
// it names. The image is named there target:TAG, or phpbuild/app:TAG
// without a target.
func ParseOutput(s string, target *name.Repository) (Publisher, error) {
	kind, p, _ := strings.Cut(s, ":")
	switch kind {
	case "docker":
		if p != "" {
			break
		}
		return newDaemon(localRepo(target), nil), nil
	case "oci", "tar":
		if p == "" {
			return nil, &badinput.Error{Field: "--output", Err: fmt.Errorf("%s needs a path: %s:PATH", kind, kind)}
		}
		if kind == "oci" {
			return newLayout(p, localRepo(target)), nil
		}
		return newTarball(p, localRepo(target)), nil
	}
	return nil, &badinput.Error{Field: "--output", Err: fmt.Errorf("%q is not one of docker, oci:DIR, tar:FILE", s)}
}

// localRepo names the image in local outputs.
func localRepo(target *name.Repository) string {
	if target != nil {
		return target.String()
	}
	return "phpbuild/app"
}

// localPublisher writes the image on this machine, named repo:TAG for
// each tag.
type localPublisher struct {
	repo string
	// dest is the destination as --output names it: docker, oci:DIR, tar:FILE.
	dest string
	// write writes img under names, with docs attached where it can, and
	// says where it went and whether it attached them.
	write func(ctx context.Context, img v1.Image, names []name.Tag, docs []attest.Document) (string, bool, error)
}

func (p *localPublisher) Publish(ctx context.Context, img v1.Image, tags []string, docs []attest.Document) (Published, error) {
	if len(tags) == 0 {
		return Published{}, errors.New("an image without tags")
	}
	var names []name.Tag
	for _, t := range tags {
		tag, err := name.NewTag(p.repo + ":" + t)
		if err != nil {
			return Published{}, err
		}
		names = append(names, tag)
	}
	where, attached, err := p.write(ctx, img, names, docs)
	if err != nil {
		return Published{}, err
	}
	return Published{Outputs: []string{where}, Attached: attached}, nil
}

// byTag is what tarballs are written from: img under each of names.
func byTag(img v1.Image, names []name.Tag) map[name.Reference]v1.Image {
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		refs[n] = img
	}
	return refs
}

// loadFunc is a docker daemon's image load: it reads a tarball and
// answers with the daemon's JSON messages.
type loadFunc func(ctx context.Context, tarball io.Reader) (io.ReadCloser, error)

// NewDaemon loads into the docker daemon DOCKER_HOST names, as repo:TAG
// (repo as in "phpbuild/app" or "registry.example/team/app").
func NewDaemon(repo string) Publisher { return newDaemon(repo, nil) }

// newDaemon loads with load; nil: into the daemon DOCKER_HOST names.
func newDaemon(repo string, load loadFunc) *localPublisher {
	return &localPublisher{repo: repo, dest: "docker", write: func(ctx context.Context, img v1.Image, names []name.Tag, _ []attest.Document) (string, bool, error) {
		load := load
		if load == nil {
			cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			if err != nil {
				return "", false, fmt.Errorf("connecting to docker: %w", err)
			}
			defer cli.Close()
			load = func(ctx context.Context, r io.Reader) (io.ReadCloser, error) {
				resp, err := cli.ImageLoad(ctx, r, client.ImageLoadWithQuiet(true))
				if err != nil {
					return nil, err
				}
				return resp.Body, nil
			}
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarball.MultiRefWrite(byTag(img, names), pw)) }()
		body, err := load(ctx, pr)
		if err != nil {
			pr.CloseWithError(err)
			return "", false, transient.Mark(fmt.Errorf("loading into docker: %w", err))
		}
		defer body.Close()
		b, _ := io.ReadAll(body)
		if strings.Contains(string(b), `"errorDetail"`) {
			return "", false, fmt.Errorf("loading into docker: %s", strings.TrimSpace(string(b)))
		}
		return "docker:" + names[0].String(), false, nil
	}}
}

// NewLayout adds the image to the OCI layout in dir, made when missing,
// once per tag (annotated org.opencontainers.image.ref.name=TAG).
func NewLayout(dir, repo string) Publisher { return newLayout(dir, repo) }

func newLayout(dir, repo string) *localPublisher {
	return &localPublisher{repo: repo, dest: "oci:" + dir, write: func(ctx context.Context, img v1.Image, names []name.Tag, docs []attest.Document) (string, bool, error) {
		l, err := layout.FromPath(dir)
		if err != nil {
			if l, err = layout.Write(dir, empty.Index); err != nil {
				return "", false, fmt.Errorf("writing %s: %w", dir, err)
			}
		}
		var top partial.Describable = img
		for _, tag := range names {
			named := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.TagStr()})
			if idx := indexOf(img); idx != nil {
				top = idx
				err = l.AppendIndex(idx, named)
			} else {
				err = l.AppendImage(img, named)
			}
			if err != nil {
				return "", false, fmt.Errorf("writing %s: %w", dir, err)
			}
		}
		// Referrers in a layout are manifests in its index with a subject.
		if len(docs) > 0 {
			desc, err := partial.Descriptor(top)
			if err != nil {
				return "", false, err
			}
			for _, d := range docs {
				a, err := attest.Artifact(d, *desc)
				if err != nil {
					return "", false, err
				}
				if err := l.AppendImage(a); err != nil {
					return "", false, fmt.Errorf("writing %s: %w", dir, err)
				}
			}
		}
		return "oci:" + dir, len(docs) > 0, nil
	}}
}

// NewTarball writes file, a tarball `docker load` reads, with the image as
// repo:TAG for each tag.
func NewTarball(file, repo string) Publisher { return newTarball(file, repo) }

func newTarball(file, repo string) *localPublisher {
	return &localPublisher{repo: repo, dest: "tar:" + file, write: func(ctx context.Context, img v1.Image, names []name.Tag, _ []attest.Document) (string, bool, error) {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return "", false, err
		}
		if err := tarball.MultiRefWriteToFile(file, byTag(img, names)); err != nil {
			return "", false, fmt.Errorf("writing %s: %w", file, err)
		}
		return "tar:" + file, false, nil
	}}
}

// multiPublisher publishes with each publisher in turn.
type multiPublisher []Publisher

// preparer is a publisher that can start before there is an image (see
// registryPublisher.prepare).
type preparer interface {
	prepare(ctx context.Context, t tagged)
}

func (m multiPublisher) prepare(ctx context.Context, t tagged) {
	for _, p := range m {
		if pr, ok := p.(preparer); ok {
			pr.prepare(ctx, t)
		}
	}
}

// tagged is whether the build found the target repo holds tags: its
// parent commit's image (see earlyReads); found waits for the read, and
// is nil when there was none.
type tagged struct {
	repo  name.Repository
	found func() bool
}

// holds reports whether repo is the target and holds tags.
func (t tagged) holds(repo name.Repository) bool {
	return t.found != nil && t.repo.String() == repo.String() && t.found()
}

// Multi publishes with each of pubs in order, and stops at the first that
// fails; what it returns adds up theirs.
func Multi(pubs ...Publisher) Publisher { return multiPublisher(pubs) }

func (m multiPublisher) Publish(ctx context.Context, img v1.Image, tags []string, docs []attest.Document) (Published, error) {
	var all Published
	for _, p := range m {
		got, err := p.Publish(ctx, img, tags, docs)
		if err != nil {
			return Published{}, err
		}
		all.Refs = append(all.Refs, got.Refs...)
		all.Outputs = append(all.Outputs, got.Outputs...)
		if got.Uploaded != nil {
			all.Uploaded = got.Uploaded
		}
		all.Attached = all.Attached || got.Attached
	}
	return all, nil
}

// indexOf is the index of a multi-platform image (see multiPlatform), nil
// for an image of one platform.
func indexOf(img v1.Image) v1.ImageIndex {
	if m, ok := img.(interface{ Index() v1.ImageIndex }); ok {
		return m.Index()
	}
	return nil
}

// imagesOf are idx's images, in its order.
func imagesOf(idx v1.ImageIndex) ([]v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []v1.Image
	for _, d := range m.Manifests {
		im, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, nil
}
