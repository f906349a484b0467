package build

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pingCounter is a registry that counts the pings it answers, and answers
// them with status while status is not 0.
type pingCounter struct {
	pings  atomic.Int32
	status atomic.Int32
	inner  http.Handler
}

func (p *pingCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v2/" {
		p.pings.Add(1)
		if s := p.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
	}
	p.inner.ServeHTTP(w, r)
}

// TestPingCache reads from one repo and pushes to two others of a plain
// HTTP registry on loopback, which go-containerregistry pings over https
// and http for each repo: the registry sees one ping.
func TestPingCache(t *testing.T) {
	reg := &pingCounter{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cache := newPingCache(http.DefaultTransport, time.Minute)
	opts := remoteVia(cache)
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"team/app", "team/other"} {
		ref, err := name.ParseReference(host+"/"+repo+":v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, opts...); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
		if _, err := remote.List(ref.Context(), opts...); err != nil {
			t.Fatalf("listing %s: %v", ref.Context(), err)
		}
	}
	if got := reg.pings.Load(); got != 1 {
		t.Errorf("the registry was pinged %d times, want once", got)
	}

	// Pings made at once wait for the first's answer.
	cache = newPingCache(http.DefaultTransport, time.Minute)
	reg.pings.Store(0)
	repo, err := name.NewRepository(host+"/team/app", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := remote.List(repo, remoteVia(cache)...); err != nil {
				t.Errorf("listing: %v", err)
			}
		})
	}
	wg.Wait()
	if got := reg.pings.Load(); got != 1 {
		t.Errorf("8 reads at once pinged the registry %d times, want once", got)
	}
}

// TestPingCacheKeepsOnlyAnswers: a registry that failed its ping is
// pinged again, and a kept answer expires.
func TestPingCacheKeepsOnlyAnswers(t *testing.T) {
	reg := &pingCounter{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	cache := newPingCache(http.DefaultTransport, 50*time.Millisecond)
	ping := func() int {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/v2/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cache.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	reg.status.Store(http.StatusServiceUnavailable)
	if got := ping(); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", got)
	}
	reg.status.Store(0)
	for range 3 {
		if got := ping(); got != http.StatusOK {
			t.Fatalf("status %d, want 200", got)
		}
	}
	if got := reg.pings.Load(); got != 2 {
		t.Errorf("pinged %d times, want 2: the 503 is asked again, the 200 kept", got)
	}
	time.Sleep(60 * time.Millisecond)
	ping()
	if got := reg.pings.Load(); got != 3 {
		t.Errorf("pinged %d times after the answer expired, want 3", got)
	}
}

// stalledTLS is a transport whose https requests never get an answer (a
// slow TLS handshake, drawn out), counted; the rest go to inner.
type stalledTLS struct {
	inner http.RoundTripper
	tries atomic.Int32
}

func (s *stalledTLS) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" {
		return s.inner.RoundTrip(r)
	}
	s.tries.Add(1)
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestPingCacheRacesPlainHTTP: for a loopback registry, which
// go-containerregistry pings over https first, the cache pings plain HTTP
// at the same time; the registry answers it, so the https ping fails at
// once, without waiting for TLS, and that is kept: a second read asks
// neither again.
func TestPingCacheRacesPlainHTTP(t *testing.T) {
	reg := &pingCounter{inner: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	tls := &stalledTLS{inner: http.DefaultTransport}
	cache := newPingCache(tls, time.Minute)
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/team/app")
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(repo.Tag("v1"), img); err != nil {
		t.Fatal(err)
	}
	reg.pings.Store(0)
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := remote.List(repo, append(remoteVia(cache), remote.WithContext(ctx))...)
		cancel()
		if err != nil {
			t.Fatalf("listing %s: %v", repo, err)
		}
	}
	if got, tries := reg.pings.Load(), tls.tries.Load(); got != 1 || tries != 1 {
		t.Errorf("%d plain pings and %d https tries, want one each: the https ping gives up when plain HTTP answers, and both answers are kept", got, tries)
	}
}
