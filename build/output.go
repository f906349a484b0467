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
	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/transient"
)

// Output is where a built image goes besides the registry.
type Output struct {
	Kind string // "docker", "oci" or "tar"
	Path string // the dir or file for oci and tar
}

// ParseOutput reads --output: docker, oci:DIR, tar:FILE.
func ParseOutput(s string) (Output, error) {
	kind, p, _ := strings.Cut(s, ":")
	switch kind {
	case "docker":
		if p != "" {
			break
		}
		return Output{Kind: kind}, nil
	case "oci", "tar":
		if p == "" {
			return Output{}, &badinput.Error{Field: "--output", Err: fmt.Errorf("%s needs a path: %s:PATH", kind, kind)}
		}
		return Output{Kind: kind, Path: p}, nil
	}
	return Output{}, &badinput.Error{Field: "--output", Err: fmt.Errorf("%q is not one of docker, oci:DIR, tar:FILE", s)}
}

// Result is a finished build.
type Result struct {
	Digest string `json:"digest"`
	// Refs are repo:tag@digest for every tag written, when pushed.
	Refs []string `json:"refs"`
	// Existing is true when the commit's SHA tag was already in the repo
	// and nothing was built.
	Existing bool         `json:"existing"`
	SHA      string       `json:"sha"`
	Version  string       `json:"version"`
	Tags     []string     `json:"tags"`
	Layers   []LayerEvent `json:"layers"`
	Outputs  []string     `json:"outputs"`
	Warnings []string     `json:"warnings"`
}

// Run builds dir's commit and delivers the image: pushed to target (when
// push), and to each output. With an existing SHA tag in target and not
// force, nothing is built. The registry sees blobs first and tags last; a
// failure anywhere leaves no new tag.
func Run(ctx context.Context, dir string, target *name.Repository, push, force bool, outputs []Output, progress chan<- v1.Update, opts ...Option) (*Result, error) {
	if push && target == nil {
		return nil, &badinput.Error{Field: "--push", Err: errors.New("pushing needs --image REPO")}
	}
	if target != nil {
		opts = append(opts, WithTarget(*target))
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if push && !force {
		commit, err := git.ReadCommit(ctx, dir)
		if err != nil {
			return nil, err
		}
		if !commit.Dirty {
			desc, err := remote.Head(target.Tag(commit.SHA), o.remoteWith(ctx)...)
			switch {
			case err == nil:
				ref := target.Tag(commit.SHA).String() + "@" + desc.Digest.String()
				return &Result{Digest: desc.Digest.String(), Refs: []string{ref}, Existing: true, SHA: commit.SHA, Version: commit.Version,
					Tags: []string{commit.SHA}, Layers: []LayerEvent{}, Outputs: []string{}, Warnings: []string{}}, nil
			case !notFound(err):
				return nil, transient.Classify(fmt.Errorf("checking for %s: %w", target.Tag(commit.SHA), err))
			}
		}
	}
	img, err := Assemble(ctx, dir, opts...)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	res := &Result{Digest: img.Digest.String(), SHA: img.Commit.SHA, Version: img.Commit.Version, Tags: img.Tags,
		Layers: img.Layers, Refs: []string{}, Outputs: []string{}, Warnings: img.Plan.Warnings}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	if img.Commit.Shallow {
		res.Warnings = append(res.Warnings, "shallow clone: the version comes from the tags that were fetched; fetch with tags and history (fetch-depth: 0) for an exact semver")
	}
	if push {
		refs, err := Push(ctx, img.Image, *target, img.Tags, progress, o.remote...)
		if err != nil {
			return nil, err
		}
		res.Refs = refs
	}
	for _, out := range outputs {
		where, err := deliver(ctx, img, target, out)
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, where)
	}
	return res, nil
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

// deliver writes img to one output and says where it went.
func deliver(ctx context.Context, img *Image, target *name.Repository, out Output) (string, error) {
	repo := "phpbuild/app"
	if target != nil {
		repo = target.String()
	}
	refs := map[name.Reference]v1.Image{}
	var tags []name.Tag
	for _, t := range img.Tags {
		tag, err := name.NewTag(repo + ":" + t)
		if err != nil {
			return "", err
		}
		tags = append(tags, tag)
		refs[tag] = img.Image
	}
	first := tags[0]
	switch out.Kind {
	case "docker":
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return "", fmt.Errorf("connecting to docker: %w", err)
		}
		defer cli.Close()
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(tarball.MultiRefWrite(refs, pw)) }()
		resp, err := cli.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
		if err != nil {
			pr.CloseWithError(err)
			return "", transient.Mark(fmt.Errorf("loading into docker: %w", err))
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(body), `"errorDetail"`) {
			return "", fmt.Errorf("loading into docker: %s", strings.TrimSpace(string(body)))
		}
		return "docker:" + first.String(), nil
	case "tar":
		if err := os.MkdirAll(filepath.Dir(out.Path), 0o755); err != nil {
			return "", err
		}
		if err := tarball.MultiRefWriteToFile(out.Path, refs); err != nil {
			return "", fmt.Errorf("writing %s: %w", out.Path, err)
		}
		return "tar:" + out.Path, nil
	case "oci":
		p, err := layout.FromPath(out.Path)
		if err != nil {
			if p, err = layout.Write(out.Path, empty.Index); err != nil {
				return "", fmt.Errorf("writing %s: %w", out.Path, err)
			}
		}
		for _, tag := range tags {
			if err := p.AppendImage(img.Image, layout.WithAnnotations(map[string]string{
				"org.opencontainers.image.ref.name": tag.TagStr(),
			})); err != nil {
				return "", fmt.Errorf("writing %s: %w", out.Path, err)
			}
		}
		return "oci:" + out.Path, nil
	}
	return "", fmt.Errorf("unknown output %q", out.Kind)
}
