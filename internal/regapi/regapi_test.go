package regapi

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// counting is a registry that counts requests by method, and answers 503
// to the first failPuts PUTs that carry bytes.
type counting struct {
	inner    http.Handler
	byMethod map[string]*atomic.Int32
	failPuts atomic.Int32
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n, ok := c.byMethod[r.Method]; ok {
		n.Add(1)
	}
	if r.Method == http.MethodPut && r.ContentLength > 0 && strings.Contains(r.URL.Path, "/blobs/uploads/") && c.failPuts.Add(-1) >= 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	c.inner.ServeHTTP(w, r)
}

func newRepo(t *testing.T) (*Repo, *counting, name.Repository) {
	t.Helper()
	c := &counting{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0))), byMethod: map[string]*atomic.Int32{}}
	for _, m := range []string{http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodPut} {
		c.byMethod[m] = &atomic.Int32{}
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	return New(http.DefaultTransport, repo), c, repo
}

// TestPutBlob: a new blob goes up in a POST and one PUT, asked about with
// a HEAD meanwhile; a blob the repo holds is not sent again.
func TestPutBlob(t *testing.T) {
	r, c, repo := newRepo(t)
	l, err := random.Layer(4096, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if err := r.PutBlob(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	h, _ := l.Digest()
	if _, err := remote.Layer(repo.Digest(h.String())); err != nil {
		t.Fatal(err)
	}
	got := map[string]int32{}
	for m, n := range c.byMethod {
		got[m] = n.Load()
	}
	// Twice HEAD and POST; PUT once: the second time the blob was there.
	if got["HEAD"] != 2 || got["POST"] != 2 || got["PATCH"] != 0 || got["PUT"] != 1 {
		t.Errorf("requests %v, want 2 HEAD, 2 POST, 1 PUT, no PATCH", got)
	}
}

// TestPutAt: an upload opened ahead takes the blob in one PUT; when that
// PUT fails, the blob goes up again from the start (PutBlob).
func TestPutAt(t *testing.T) {
	r, c, repo := newRepo(t)
	ctx := context.Background()
	for _, fail := range []int32{0, 1} {
		c.failPuts.Store(fail)
		l, err := random.Layer(2048, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		loc, err := r.Open(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := c.byMethod["PUT"].Load()
		if err := r.PutAt(ctx, loc, l); err != nil {
			t.Fatalf("PUT failing %d times: %v", fail, err)
		}
		h, _ := l.Digest()
		rl, err := remote.Layer(repo.Digest(h.String()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rl.Size(); err != nil {
			t.Errorf("the uploaded blob is not there: %v", err)
		}
		if puts := c.byMethod["PUT"].Load() - before; puts != 1+fail {
			t.Errorf("PUT failing %d times took %d PUTs, want %d", fail, puts, 1+fail)
		}
	}
}
