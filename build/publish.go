package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/client"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/transient"
)

// A Publisher delivers a built image: to a registry, a docker daemon, an
// OCI layout or a tarball.
type Publisher interface {
	// Publish delivers img under each of tags and says where it went.
	Publish(ctx context.Context, img v1.Image, tags []string) (Published, error)
}

// Published says where a publisher put an image.
type Published struct {
	// Refs are repo:tag@digest for every tag pushed to a registry.
	Refs []string
	// Outputs are local copies: docker:REPO:TAG, oci:DIR, tar:FILE.
	Outputs []string
}

var (
	_ Publisher = (*registryPublisher)(nil)
	_ Publisher = (*daemonPublisher)(nil)
	_ Publisher = (*layoutPublisher)(nil)
	_ Publisher = (*tarballPublisher)(nil)
	_ Publisher = multiPublisher(nil)
)

// registryPublisher pushes to a repository.
type registryPublisher struct {
	repo     name.Repository
	progress chan<- v1.Update
	remote   []remote.Option
}

// NewRegistry pushes to repo (see Push); progress, when not nil, receives
// the upload's updates and is never closed. Without opts, DefaultRemote.
func NewRegistry(repo name.Repository, progress chan<- v1.Update, opts ...remote.Option) Publisher {
	if len(opts) == 0 {
		opts = DefaultRemote()
	}
	return &registryPublisher{repo: repo, progress: progress, remote: opts}
}

func (p *registryPublisher) Publish(ctx context.Context, img v1.Image, tags []string) (Published, error) {
	refs, err := Push(ctx, img, p.repo, tags, p.progress, p.remote...)
	return Published{Refs: refs}, err
}

// Push uploads img's missing blobs (progress, when not nil, receives
// updates and is never closed) (mounting those already in another repo
// of the registry), puts the manifest by digest, then each tag, the SHA
// last: a build whose push failed has no SHA tag and is built again.
func Push(ctx context.Context, img v1.Image, repo name.Repository, tags []string, progress chan<- v1.Update, opts ...remote.Option) ([]string, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	ro := append(append([]remote.Option{}, opts...), remote.WithContext(ctx), remote.WithJobs(4))
	var forwarded chan struct{}
	if progress != nil {
		// remote.Write closes its progress channel; the caller's stays open.
		updates := make(chan v1.Update, 16)
		forwarded = make(chan struct{})
		go func() {
			defer close(forwarded)
			for u := range updates {
				progress <- u
			}
		}()
		ro = append(ro, remote.WithProgress(updates))
	}
	err = remote.Write(repo.Digest(d.String()), img, ro...)
	if forwarded != nil {
		<-forwarded
	}
	if err != nil {
		return nil, transient.Classify(fmt.Errorf("pushing to %s: %w", repo, err))
	}
	ordered := append([]string{}, tags...)
	// SHA tags go last.
	for i := 0; i < len(ordered)-1; i++ {
		if isSHA(ordered[i]) {
			ordered = append(append(ordered[:i:i], ordered[i+1:]...), ordered[i])
			break
		}
	}
	var refs []string
	tagOpts := append(append([]remote.Option{}, opts...), remote.WithContext(ctx))
	for _, t := range ordered {
		tag := repo.Tag(t)
		if err := remote.Tag(tag, img, tagOpts...); err != nil {
			return nil, transient.Classify(fmt.Errorf("tagging %s: %w", tag, err))
		}
		refs = append(refs, tag.String()+"@"+d.String())
	}
	return refs, nil
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
		return NewDaemon(localRepo(target)), nil
	case "oci", "tar":
		if p == "" {
			return nil, &badinput.Error{Field: "--output", Err: fmt.Errorf("%s needs a path: %s:PATH", kind, kind)}
		}
		if kind == "oci" {
			return NewLayout(p, localRepo(target)), nil
		}
		return NewTarball(p, localRepo(target)), nil
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

// tagged names img under each of tags in repo.
func tagged(repo string, img v1.Image, tags []string) ([]name.Tag, map[name.Reference]v1.Image, error) {
	if len(tags) == 0 {
		return nil, nil, errors.New("an image without tags")
	}
	refs := map[name.Reference]v1.Image{}
	var out []name.Tag
	for _, t := range tags {
		tag, err := name.NewTag(repo + ":" + t)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, tag)
		refs[tag] = img
	}
	return out, refs, nil
}

// daemonPublisher loads into the docker daemon.
type daemonPublisher struct {
	repo string
	// load is the daemon's image load; nil: the daemon DOCKER_HOST names.
	load func(ctx context.Context, tarball io.Reader) (io.ReadCloser, error)
}

// NewDaemon loads into the docker daemon DOCKER_HOST names, as repo:TAG
// (repo as in "phpbuild/app" or "registry.example/team/app").
func NewDaemon(repo string) Publisher { return &daemonPublisher{repo: repo} }

func (p *daemonPublisher) Publish(ctx context.Context, img v1.Image, tags []string) (Published, error) {
	names, refs, err := tagged(p.repo, img, tags)
	if err != nil {
		return Published{}, err
	}
	load := p.load
	if load == nil {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return Published{}, fmt.Errorf("connecting to docker: %w", err)
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
	go func() { pw.CloseWithError(tarball.MultiRefWrite(refs, pw)) }()
	body, err := load(ctx, pr)
	if err != nil {
		pr.CloseWithError(err)
		return Published{}, transient.Mark(fmt.Errorf("loading into docker: %w", err))
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if strings.Contains(string(b), `"errorDetail"`) {
		return Published{}, fmt.Errorf("loading into docker: %s", strings.TrimSpace(string(b)))
	}
	return Published{Outputs: []string{"docker:" + names[0].String()}}, nil
}

// layoutPublisher adds to an OCI image layout.
type layoutPublisher struct {
	dir  string
	repo string
}

// NewLayout adds the image to the OCI layout in dir, made when missing,
// once per tag (annotated org.opencontainers.image.ref.name=TAG).
func NewLayout(dir, repo string) Publisher {
	return &layoutPublisher{dir: dir, repo: repo}
}

func (p *layoutPublisher) Publish(ctx context.Context, img v1.Image, tags []string) (Published, error) {
	names, _, err := tagged(p.repo, img, tags)
	if err != nil {
		return Published{}, err
	}
	l, err := layout.FromPath(p.dir)
	if err != nil {
		if l, err = layout.Write(p.dir, empty.Index); err != nil {
			return Published{}, fmt.Errorf("writing %s: %w", p.dir, err)
		}
	}
	for _, tag := range names {
		if err := l.AppendImage(img, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": tag.TagStr(),
		})); err != nil {
			return Published{}, fmt.Errorf("writing %s: %w", p.dir, err)
		}
	}
	return Published{Outputs: []string{"oci:" + p.dir}}, nil
}

// tarballPublisher writes a docker image tarball.
type tarballPublisher struct {
	file string
	repo string
}

// NewTarball writes file, a tarball `docker load` reads, with the image as
// repo:TAG for each tag.
func NewTarball(file, repo string) Publisher {
	return &tarballPublisher{file: file, repo: repo}
}

func (p *tarballPublisher) Publish(ctx context.Context, img v1.Image, tags []string) (Published, error) {
	_, refs, err := tagged(p.repo, img, tags)
	if err != nil {
		return Published{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p.file), 0o755); err != nil {
		return Published{}, err
	}
	if err := tarball.MultiRefWriteToFile(p.file, refs); err != nil {
		return Published{}, fmt.Errorf("writing %s: %w", p.file, err)
	}
	return Published{Outputs: []string{"tar:" + p.file}}, nil
}

// multiPublisher publishes with each publisher in turn.
type multiPublisher []Publisher

// Multi publishes with each of pubs in order, and stops at the first that
// fails; what it returns adds up theirs.
func Multi(pubs ...Publisher) Publisher { return multiPublisher(pubs) }

func (m multiPublisher) Publish(ctx context.Context, img v1.Image, tags []string) (Published, error) {
	var all Published
	for _, p := range m {
		got, err := p.Publish(ctx, img, tags)
		if err != nil {
			return Published{}, err
		}
		all.Refs = append(all.Refs, got.Refs...)
		all.Outputs = append(all.Outputs, got.Outputs...)
	}
	return all, nil
}
