package faultproxy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/internal/faultproxy"
)

// upstream is an in-memory registry that counts the requests reaching it.
type upstream struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func newProxy(t *testing.T, target string, rule faultproxy.Rule, opts ...faultproxy.Option) *faultproxy.Proxy {
	t.Helper()
	p := faultproxy.New(target, rule, opts...)
	t.Cleanup(p.Close)
	return p
}

// client makes fresh connections, so that a reset never hits a pooled
// connection that the transport would quietly retry on.
func client(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func only(f faultproxy.Fault) faultproxy.Rule {
	return func(*http.Request, int) faultproxy.Fault { return f }
}

// TestFaultProxyPassThrough: with no fault, an image pushed through the
// proxy is in the registry behind it, by the proxy's relative Locations.
func TestFaultProxyPassThrough(t *testing.T) {
	up := newUpstream(t)
	p := newProxy(t, up.srv.URL, nil)
	img, err := random.Image(64<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(p.Addr() + "/fault/pass:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push through the proxy: %v", err)
	}
	if int64(p.Requests()) != up.hits.Load() || p.Requests() == 0 {
		t.Errorf("proxy saw %d requests, upstream %d: want the same, more than 0", p.Requests(), up.hits.Load())
	}
	direct, err := name.ParseReference(strings.TrimPrefix(up.srv.URL, "http://") + "/fault/pass:latest")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(direct)
	if err != nil {
		t.Fatalf("the pushed tag is not upstream: %v", err)
	}
	if want, _ := img.Digest(); desc.Digest != want {
		t.Errorf("upstream digest %s, pushed %s", desc.Digest, want)
	}
	for f := faultproxy.None + 1; f <= faultproxy.Stall; f++ {
		if n := p.Injected(f); n != 0 {
			t.Errorf("Injected(%v) = %d with no rule", f, n)
		}
	}
	// Every blob, the config and the manifest went up once, and nothing else.
	var want int64
	layers, _ := img.Layers()
	for _, l := range layers {
		n, _ := l.Size()
		want += n
	}
	cfg, _ := img.RawConfigFile()
	mf, _ := img.RawManifest()
	want += int64(len(cfg) + len(mf))
	if got := p.Uploaded("fault/pass"); got != want {
		t.Errorf("Uploaded(fault/pass) = %d, want %d (layers, config, manifest)", got, want)
	}
	if got := p.Uploaded("fault/other"); got != 0 {
		t.Errorf("Uploaded(fault/other) = %d, want 0", got)
	}
	if got := p.Downloaded(); got != 0 {
		t.Errorf("Downloaded() = %d after a push, want 0", got)
	}
	// A pull through the proxy: the config and every layer come down.
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pulled.RawConfigFile(); err != nil {
		t.Fatal(err)
	}
	pls, _ := pulled.Layers()
	for _, l := range pls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	if got := p.Downloaded(); got != want-int64(len(mf)) {
		t.Errorf("Downloaded() = %d after a pull, want %d (layers and config)", got, want-int64(len(mf)))
	}
}

// TestFaultProxyRuleCount: the rule sees every request, numbered from 1,
// and the counters count what it chose.
func TestFaultProxyRuleCount(t *testing.T) {
	up := newUpstream(t)
	var seen []int
	p := newProxy(t, up.srv.URL, func(r *http.Request, n int) faultproxy.Fault {
		seen = append(seen, n)
		if n%2 == 0 {
			return faultproxy.Status503
		}
		return faultproxy.None
	})
	c := client(t)
	var codes []int
	for range 5 {
		resp, err := c.Get(p.URL() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5}, seen); diff != "" {
		t.Errorf("rule saw n (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{200, 503, 200, 503, 200}, codes); diff != "" {
		t.Errorf("status codes (-want +got):\n%s", diff)
	}
	if p.Requests() != 5 || p.Injected(faultproxy.Status503) != 2 || p.Injected(faultproxy.None) != 0 {
		t.Errorf("Requests() = %d, Injected(503) = %d, Injected(none) = %d; want 5, 2, 0",
			p.Requests(), p.Injected(faultproxy.Status503), p.Injected(faultproxy.None))
	}
	if up.hits.Load() != 3 {
		t.Errorf("upstream got %d requests, want 3: a refused request must not reach it", up.hits.Load())
	}
}

// TestFaultProxyStatus: each status fault answers the way registries do,
// without reaching the registry, after reading the body.
func TestFaultProxyStatus(t *testing.T) {
	for _, tc := range []struct {
		fault faultproxy.Fault
		code  int
		diag  string // the distribution error code, "" for none
	}{
		{faultproxy.Status403, 403, "DENIED"},
		{faultproxy.Status503, 503, "UNAVAILABLE"},
		{faultproxy.Status507, 507, ""},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			up := newUpstream(t)
			p := newProxy(t, up.srv.URL, only(tc.fault))
			body := bytes.Repeat([]byte("x"), 4<<20)
			resp, err := client(t).Post(p.URL()+"/v2/fault/status/blobs/uploads/", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.code)
			}
			var e struct{ Errors []struct{ Code string } }
			err = json.NewDecoder(resp.Body).Decode(&e)
			switch {
			case tc.diag == "" && err == nil:
				t.Errorf("a JSON body %+v, want none", e)
			case tc.diag != "" && (err != nil || len(e.Errors) != 1 || e.Errors[0].Code != tc.diag):
				t.Errorf("body %+v (%v), want one %s error", e, err, tc.diag)
			}
			if up.hits.Load() != 0 || p.Injected(tc.fault) != 1 {
				t.Errorf("upstream hits %d, Injected %d; want 0, 1", up.hits.Load(), p.Injected(tc.fault))
			}
		})
	}
}

// TestFaultProxyReset: the client sees a reset (RST, not an orderly close)
// before any response, halfway through its upload, and halfway through a
// download.
func TestFaultProxyReset(t *testing.T) {
	up := newUpstream(t)
	blob := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	digest := pushBlob(t, up.srv.URL, "fault/reset", blob)

	t.Run("before the response", func(t *testing.T) {
		p := newProxy(t, up.srv.URL, only(faultproxy.Reset))
		_, err := client(t).Get(p.URL() + "/v2/")
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("err = %v, want a connection reset", err)
		}
		if up.hits.Load() != 2 { // pushBlob's POST and PUT
			t.Errorf("upstream hits %d, want none from the reset request", up.hits.Load()-2)
		}
	})
	t.Run("mid upload", func(t *testing.T) {
		p := newProxy(t, up.srv.URL, only(faultproxy.ResetMidBody))
		req, err := http.NewRequest(http.MethodPatch, p.URL()+"/v2/fault/reset/blobs/uploads/x", bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		_, err = client(t).Do(req)
		// Which one depends on whether the transport's reader sees the RST
		// before its writer does.
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("err = %v, want a connection reset, broken pipe or closed connection", err)
		}
		if p.Injected(faultproxy.ResetMidBody) != 1 {
			t.Errorf("Injected(reset mid-body) = %d", p.Injected(faultproxy.ResetMidBody))
		}
	})
	t.Run("mid download", func(t *testing.T) {
		p := newProxy(t, up.srv.URL, only(faultproxy.ResetMidBody))
		resp, err := client(t).Get(p.URL() + "/v2/fault/reset/blobs/" + digest)
		if err != nil {
			t.Fatalf("GET: %v, want the headers", err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reading the body: %v, want a reset", err)
		}
		if resp.ContentLength != int64(len(blob)) || len(got) > len(blob)/2 {
			t.Errorf("Content-Length %d, read %d bytes; want %d and at most half", resp.ContentLength, len(got), len(blob))
		}
	})
}

// pushBlob uploads b to repo in the registry at base and returns its digest.
func pushBlob(t *testing.T, base, repo string, b []byte) string {
	t.Helper()
	d := fmt.Sprintf("sha256:%x", sha256.Sum256(b))
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	req, err := http.NewRequest(http.MethodPut, base+loc+"?digest="+d, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT blob: %s", resp.Status)
	}
	return d
}

// TestFaultProxyStall: a stall lasts until the client gives up, or goes
// through after WithStall's time, and Close ends it.
func TestFaultProxyStall(t *testing.T) {
	up := newUpstream(t)

	t.Run("until the client gives up", func(t *testing.T) {
		p := newProxy(t, up.srv.URL, only(faultproxy.Stall))
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/v2/", nil)
		start := time.Now()
		_, err := client(t).Do(req)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
			t.Errorf("err = %v after %v, want the deadline at 200ms", err, time.Since(start))
		}
	})
	t.Run("for a while", func(t *testing.T) {
		p := newProxy(t, up.srv.URL, only(faultproxy.Stall), faultproxy.WithStall(300*time.Millisecond))
		start := time.Now()
		resp, err := client(t).Get(p.URL() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != 200 || took < 300*time.Millisecond {
			t.Errorf("%s after %v, want 200 after the 300ms stall", resp.Status, took)
		}
	})
	t.Run("until the proxy closes", func(t *testing.T) {
		p := faultproxy.New(up.srv.URL, only(faultproxy.Stall))
		errc := make(chan error, 1)
		go func() {
			resp, err := client(t).Get(p.URL() + "/v2/")
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		for p.Requests() == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		p.Close()
		select {
		case err := <-errc:
			if err == nil {
				t.Errorf("the stalled request succeeded, want it dropped")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the stalled request outlived Close")
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v", took)
		}
	})
}

// TestFaultProxyLatency: every request takes WithLatency's time more, and
// still goes through.
func TestFaultProxyLatency(t *testing.T) {
	up := newUpstream(t)
	p := newProxy(t, up.srv.URL, nil, faultproxy.WithLatency(50*time.Millisecond))
	c := client(t)
	start := time.Now()
	for range 3 {
		resp, err := c.Get(p.URL() + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v2/: %s", resp.Status)
		}
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("3 requests took %v, want at least 3 × 50ms", took)
	}
	if up.hits.Load() != 3 {
		t.Errorf("the registry got %d requests, want 3", up.hits.Load())
	}
}

// TestFaultProxyLocation: an absolute Location at the registry comes back
// pointing at the proxy, so the client's next request goes through it.
func TestFaultProxyLocation(t *testing.T) {
	var target string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target+"/v2/r/blobs/uploads/abc?_state=s")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	target = srv.URL
	p := newProxy(t, strings.TrimPrefix(srv.URL, "http://"), nil)
	resp, err := client(t).Post(p.URL()+"/v2/r/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Location"), p.URL()+"/v2/r/blobs/uploads/abc?_state=s"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
}
