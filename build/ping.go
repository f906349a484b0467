package build

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// registryTransport is the transport every registry request of this
// process goes through: remote.DefaultTransport, with pings answered once
// (see pingCache).
var registryTransport http.RoundTripper = newPingCache(remote.DefaultTransport, time.Minute)

// pingCache answers a registry's ping, GET /v2/, from the first answer for
// ttl. go-containerregistry pings once per repo it reads or writes, for the
// auth challenge, and for a registry on a private address it tries https
// and http both; the challenge names the registry's auth service, not a
// repo, so a build that reads the runtime repo and reads and pushes its
// own asks once instead of three times. Only answers that describe the
// registry are kept: 200 and 401, and a TLS handshake refused for plain
// HTTP; errors of the moment (a timeout, a reset) are not.
type pingCache struct {
	inner http.RoundTripper
	ttl   time.Duration
	mu    sync.Mutex
	seen  map[string]*ping // by scheme://host
}

// ping is one answer: a response's status, header and body, or an error;
// done is closed once it is known.
type ping struct {
	done   chan struct{}
	at     time.Time
	status int
	header http.Header
	body   []byte
	err    error
}

// kept reports whether the answer is kept (p.done must be closed).
func (p *ping) kept() bool { return p.status != 0 || p.err != nil }

// expired reports whether p was answered longer than ttl ago.
func (p *ping) expired(ttl time.Duration) bool {
	select {
	case <-p.done:
		return time.Since(p.at) >= ttl
	default:
		return false
	}
}

func newPingCache(inner http.RoundTripper, ttl time.Duration) *pingCache {
	return &pingCache{inner: inner, ttl: ttl, seen: map[string]*ping{}}
}

func (c *pingCache) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || r.URL.Path != "/v2/" || r.URL.RawQuery != "" || r.Header.Get("Authorization") != "" {
		return c.inner.RoundTrip(r)
	}
	if reg, err := name.NewRegistry(r.URL.Host); err == nil && r.URL.Scheme == "https" && reg.Scheme() == "http" {
		return c.race(r)
	}
	return c.cached(r)
}

// cached answers the ping r from the cache, asking when it has no answer.
func (c *pingCache) cached(r *http.Request) (*http.Response, error) {
	key := r.URL.Scheme + "://" + r.URL.Host
	c.mu.Lock()
	p, ok := c.seen[key]
	if !ok || p.expired(c.ttl) {
		// This request asks; any made meanwhile wait for its answer.
		p = &ping{done: make(chan struct{})}
		c.seen[key] = p
		c.mu.Unlock()
		return c.ask(r, key, p)
	}
	c.mu.Unlock()
	select {
	case <-p.done:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	if !p.kept() {
		return c.inner.RoundTrip(r)
	}
	return p.answer(r)
}

// errPlainHTTP answers the https ping of a registry that answered the
// same ping over plain HTTP, as Go's client does when it finds so.
var errPlainHTTP = errors.New("http: server gave HTTP response to HTTPS client")

// race pings a registry over https and plain HTTP at once, for a host
// where go-containerregistry tries https and then, should it fail, http
// (loopback, private addresses): a registry answering plain HTTP fails
// the https ping at once, instead of after a TLS handshake that costs a
// fresh process several milliseconds. The plain answer is kept for
// go-containerregistry's next ping, and the https failure too.
func (c *pingCache) race(r *http.Request) (*http.Response, error) {
	key := r.URL.Scheme + "://" + r.URL.Host
	c.mu.Lock()
	p, ok := c.seen[key]
	c.mu.Unlock()
	if ok && !p.expired(c.ttl) {
		return c.cached(r)
	}
	plain := r.Clone(r.Context())
	plain.URL.Scheme = "http"
	plainOK := make(chan bool, 1)
	go func() {
		resp, err := c.cached(plain)
		if err != nil {
			plainOK <- false
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		plainOK <- resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	}()
	type answer struct {
		resp *http.Response
		err  error
	}
	ctx, cancel := context.WithCancel(r.Context())
	tls := make(chan answer, 1)
	go func() {
		resp, err := c.cached(r.WithContext(ctx))
		if err == nil {
			// Read now: the request's context ends before the caller reads.
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			resp.Body, err = io.NopCloser(bytes.NewReader(body)), rerr
		}
		tls <- answer{resp, err}
	}()
	defer cancel()
	for {
		select {
		case a := <-tls:
			return a.resp, a.err
		case ok := <-plainOK:
			if !ok {
				plainOK = nil // the https answer decides
				continue
			}
			p := &ping{done: make(chan struct{}), at: time.Now(), err: errPlainHTTP}
			close(p.done)
			c.mu.Lock()
			c.seen[key] = p
			c.mu.Unlock()
			return nil, errPlainHTTP
		}
	}
}

// ask pings for p, and keeps the answer when it describes the registry.
func (c *pingCache) ask(r *http.Request, key string, p *ping) (*http.Response, error) {
	defer close(p.done)
	resp, err := c.inner.RoundTrip(r)
	switch {
	case err != nil:
		var rh tls.RecordHeaderError
		if errors.As(err, &rh) {
			p.err = err
		}
	case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized:
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if rerr != nil {
			err = rerr
			break
		}
		p.status, p.header, p.body = resp.StatusCode, resp.Header.Clone(), body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	p.at = time.Now()
	if !p.kept() {
		// Asked again next time, unless answered meanwhile (see race).
		c.mu.Lock()
		if c.seen[key] == p {
			delete(c.seen, key)
		}
		c.mu.Unlock()
	}
	return resp, err
}

// answer is the kept answer as the response to r.
func (p *ping) answer(r *http.Request) (*http.Response, error) {
	if p.err != nil {
		return nil, p.err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", p.status, http.StatusText(p.status)),
		StatusCode:    p.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        p.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(p.body)),
		ContentLength: int64(len(p.body)),
		Request:       r,
	}, nil
}
