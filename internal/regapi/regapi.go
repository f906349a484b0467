// Package regapi makes the distribution API's requests that
// go-containerregistry's remote package makes in more round trips than
// a push needs: a small blob in two round trips where remote takes four
// (see PutBlob), and manifests put as they are. A build's push is a chain of such round trips, so each one
// cut is time cut (see `make bench`).
package regapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/phpbuild/phpbuild/transient"
)

// Repo is one repository of a registry, reached through an authenticated
// transport (ggcr's transport.NewWithContext).
type Repo struct {
	c    *http.Client
	repo name.Repository
}

// New is repo reached through rt.
func New(rt http.RoundTripper, repo name.Repository) *Repo {
	return &Repo{c: &http.Client{Transport: rt}, repo: repo}
}

// URL is the API URL of path under the repo, as in URL("manifests/%s", tag).
func (r *Repo) URL(format string, args ...any) string {
	u := url.URL{Scheme: r.repo.Scheme(), Host: r.repo.RegistryStr()}
	u.Path = fmt.Sprintf("/v2/%s/", r.repo.RepositoryStr()) + fmt.Sprintf(format, args...)
	return u.String()
}

// Get asks for u, accepting the statuses ok.
func (r *Repo) Get(ctx context.Context, u string, ok ...int) (*http.Response, []byte, error) {
	return r.Send(ctx, http.MethodGet, u, "", nil, ok...)
}

// Send makes one request and reads its answer, a transport.Error unless
// its status is one of ok. body is sent as media type mt.
func (r *Repo) Send(ctx context.Context, method, u string, mt types.MediaType, body []byte, ok ...int) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", string(mt))
	} else {
		req.Header.Set("Accept", string(types.OCIImageIndex))
	}
	resp, err := r.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, ok...); err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, b, err
}

// PutManifest puts raw, of media type mt, under ref (a tag or a digest),
// again after trouble that retrying may cure.
func (r *Repo) PutManifest(ctx context.Context, ref string, mt types.MediaType, raw []byte) error {
	return Retry(ctx, func() error {
		_, _, err := r.Send(ctx, http.MethodPut, r.URL("manifests/%s", ref), mt, raw, http.StatusCreated, http.StatusOK, http.StatusAccepted)
		return err
	})
}

// SmallBlob is the size up to which PutBlob is worth it: it holds the
// blob in memory.
const SmallBlob = 1 << 20

// PutBlob uploads l whole unless the repo holds it, in two round trips
// where ggcr's remote takes four: HEAD asks for the blob while POST opens
// an upload; then, unless HEAD found it, one PUT sends the bytes and
// commits them under their digest (the distribution spec's monolithic
// upload). An upload opened for a blob that was there is left for the
// registry to expire. The whole is tried again after trouble that
// retrying may cure.
func (r *Repo) PutBlob(ctx context.Context, l v1.Layer) error {
	h, b, err := blob(l)
	if err != nil {
		return err
	}
	return Retry(ctx, func() error {
		var there bool
		var loc *url.URL
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error {
			resp, _, err := r.Send(gctx, http.MethodHead, r.URL("blobs/%s", h), "", nil, http.StatusOK, http.StatusNotFound)
			there = err == nil && resp.StatusCode == http.StatusOK
			return err
		})
		g.Go(func() (err error) {
			loc, err = r.open(gctx)
			return err
		})
		err := g.Wait()
		if there {
			return nil
		}
		if err != nil {
			return err
		}
		return r.commit(ctx, loc, h, b)
	})
}

// blob is l's digest and bytes.
func blob(l v1.Layer) (v1.Hash, []byte, error) {
	h, err := l.Digest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return h, b, err
}

// open opens an upload and gives where its bytes go.
func (r *Repo) open(ctx context.Context) (*url.URL, error) {
	resp, _, err := r.Send(ctx, http.MethodPost, r.URL("blobs/uploads/"), "", nil, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("starting an upload: %w", err)
	}
	return loc, nil
}

// commit sends b, whose digest is h, to the upload at loc, whole, and
// commits it.
func (r *Repo) commit(ctx context.Context, loc *url.URL, h v1.Hash, b []byte) error {
	u := *loc
	q := u.Query()
	q.Set("digest", h.String())
	u.RawQuery = q.Encode()
	_, _, err := r.Send(ctx, http.MethodPut, u.String(), "application/octet-stream", b, http.StatusCreated)
	return err
}

// Open opens an upload, as PutBlob's POST does, for PutAt: made while
// the blob is being made, it is one round trip fewer after.
func (r *Repo) Open(ctx context.Context) (*url.URL, error) {
	var loc *url.URL
	err := Retry(ctx, func() (err error) {
		loc, err = r.open(ctx)
		return err
	})
	return loc, err
}

// SmallNew is the size up to which PutAt sends a blob without asking
// whether the repo holds it: sending it costs less than the question.
const SmallNew = 64 << 10

// PutAt sends l whole, in one PUT, to the upload at loc (see Open),
// without asking whether the repo holds it; should that fail, PutBlob
// tries again from the start.
func (r *Repo) PutAt(ctx context.Context, loc *url.URL, l v1.Layer) error {
	h, b, err := blob(l)
	if err != nil {
		return err
	}
	if err := r.commit(ctx, loc, h, b); err == nil || ctx.Err() != nil {
		return err
	}
	return r.PutBlob(ctx, l)
}

// Retry runs f until it succeeds, fails in a way that retrying cannot
// cure, or has failed four times, waiting 0.1, 0.2 and 0.4 s between.
func Retry(ctx context.Context, f func() error) error {
	wait := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := f()
		if err == nil || try == 4 || errors.Is(err, context.Canceled) || !transient.Is(transient.Classify(err)) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
