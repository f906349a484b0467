package build

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Uploaded is what a push really sent, as against what the image weighs:
// blobs already in the repo, or mounted from another repo of the registry,
// cost nothing.
type Uploaded struct {
	// Bytes are the blob bytes sent in upload requests (a retried upload
	// counts again).
	Bytes int64 `json:"bytes"`
	// Blobs is how many blobs were uploaded.
	Blobs int `json:"blobs"`
	// AlreadyThere are the bytes of the image's blobs that were not
	// uploaded: in the repo already, or mounted.
	AlreadyThere int64 `json:"alreadyThere"`
}

// uploadCounter is a transport that counts the blob bytes a push sends and
// the blobs whose upload completed, by digest.
type uploadCounter struct {
	inner http.RoundTripper
	bytes atomic.Int64
	mu    sync.Mutex
	blobs map[string]bool
}

func newUploadCounter(inner http.RoundTripper) *uploadCounter {
	return &uploadCounter{inner: inner, blobs: map[string]bool{}}
}

func (c *uploadCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	upload := strings.Contains(req.URL.Path, "/blobs/uploads/") && (req.Method == http.MethodPatch || req.Method == http.MethodPut)
	if upload && req.Body != nil {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: &c.bytes}
	}
	resp, err := c.inner.RoundTrip(req)
	if err == nil && upload && req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated {
		if d := req.URL.Query().Get("digest"); d != "" {
			c.mu.Lock()
			c.blobs[d] = true
			c.mu.Unlock()
		}
	}
	return resp, err
}

// result is what the push of img sent.
func (c *uploadCounter) result(img v1.Image) (Uploaded, error) {
	u := Uploaded{Bytes: c.bytes.Load()}
	images := []v1.Image{img}
	if idx := indexOf(img); idx != nil {
		var err error
		if images, err = imagesOf(idx); err != nil {
			return u, err
		}
	}
	var ls []v1.Layer
	seen := map[v1.Hash]bool{}
	for _, im := range images {
		il, err := im.Layers()
		if err != nil {
			return u, err
		}
		for _, l := range il {
			d, err := l.Digest()
			if err != nil {
				return u, err
			}
			if !seen[d] {
				seen[d] = true
				ls = append(ls, l)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	u.Blobs = len(c.blobs)
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return u, err
		}
		if c.blobs[d.String()] {
			continue
		}
		size, err := l.Size()
		if err != nil {
			return u, err
		}
		u.AlreadyThere += size
	}
	return u, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
