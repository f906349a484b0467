package build

import (
	"context"
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/transient"
)

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
	// Uploaded is what the push really sent; absent without a push.
	Uploaded *Uploaded `json:"uploaded,omitempty"`
	// Attachments are the SBOM and provenance attached to the image as
	// referrers; empty when no output holds referrers (docker, tar).
	Attachments []Attachment `json:"attachments"`
}

// Publish builds dir's commit and hands the image to pub (nil: nowhere).
// With WithSkipExisting and the commit's SHA tag already in the target
// repo, nothing is built.
func Publish(ctx context.Context, dir string, pub Publisher, opts ...Option) (*Result, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.skipExisting {
		o.prefetch(ctx)
		commit, err := git.ReadCommitEarly(ctx, dir, o.readEarly(ctx, dir))
		if err != nil {
			return nil, err
		}
		if res, err := o.existing(ctx, commit); res != nil || err != nil {
			return res, err
		}
		// Read once: Assemble builds this commit.
		opts = append(slices.Clone(opts), func(n *options) error { n.commit = commit; return o.prefetched(n) })
	}
	if pr, ok := pub.(preparer); ok {
		// The push starts while the image is built.
		t := tagged{found: o.holdsTags}
		if o.target != nil {
			t.repo = *o.target
		}
		pr.prepare(ctx, t)
	}
	img, err := Assemble(ctx, dir, opts...)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	res := &Result{Digest: img.Digest.String(), SHA: img.Commit.SHA, Version: img.Commit.Version, Tags: img.Tags,
		Layers: img.Layers, Refs: []string{}, Outputs: []string{}, Warnings: img.Plan.Warnings, Attachments: []Attachment{}}
	if res.Warnings == nil {
		res.Warnings = []string{}
	}
	if img.Commit.Shallow {
		res.Warnings = append(res.Warnings, "shallow clone: the version comes from the tags that were fetched; fetch with tags and history (fetch-depth: 0) for an exact semver")
	}
	if pub == nil {
		return res, nil
	}
	p, err := pub.Publish(ctx, img.Image, img.Tags, img.Documents)
	if err != nil {
		return nil, err
	}
	if p.Attached {
		res.Attachments = describeAttachments(img.Documents)
	}
	res.Refs = append(res.Refs, p.Refs...)
	res.Outputs = append(res.Outputs, p.Outputs...)
	res.Uploaded = p.Uploaded
	return res, nil
}

// existing is the result for the image the target repo holds under the
// commit's SHA tag; nil when it holds none or the tree is dirty.
func (o *options) existing(ctx context.Context, commit *git.Commit) (*Result, error) {
	if commit.Dirty {
		return nil, nil
	}
	tag := o.target.Tag(commit.SHA)
	var desc *v1.Descriptor
	var err error
	if e := o.early; e != nil && e.headTag != nil && e.head == commit.SHA {
		desc, err = e.headTag.Wait() // asked while git was read
	} else {
		desc, err = remote.Head(tag, o.remoteWith(ctx)...)
	}
	switch {
	case err == nil:
		return &Result{Digest: desc.Digest.String(), Refs: []string{tag.String() + "@" + desc.Digest.String()}, Existing: true, SHA: commit.SHA, Version: commit.Version,
			Tags: []string{commit.SHA}, Layers: []LayerEvent{}, Outputs: []string{}, Warnings: []string{}, Attachments: []Attachment{}}, nil
	case notFound(err):
		return nil, nil
	}
	return nil, transient.Classify(fmt.Errorf("checking for %s: %w", tag, err))
}
