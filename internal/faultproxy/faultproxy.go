// Package faultproxy puts a reverse proxy on loopback in front of a
// registry and breaks the requests a rule picks the way networks and
// registries break: connection resets, 5xx, refused writes and stalls.
// Tests push through it to see what a client leaves behind.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what the proxy does to one request instead of passing it through.
type Fault int

const (
	// None passes the request through.
	None Fault = iota
	// Reset aborts the connection (TCP RST) before reading the request
	// body; the client gets no response.
	Reset
	// ResetMidBody aborts the connection halfway through the request body
	// or, when the request has none, halfway through the response body
	// (after the whole response when that is empty).
	ResetMidBody
	// Status403 answers 403 DENIED: a registry that refuses writes.
	Status403
	// Status503 answers 503 UNAVAILABLE.
	Status503
	// Status507 answers 507 Insufficient Storage: a registry whose disk is
	// full.
	Status507
	// Stall holds the request until the client gives up, the proxy closes,
	// or the stall time (WithStall) passes; then it goes through.
	Stall
	numFaults
)

func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case Reset:
		return "reset"
	case ResetMidBody:
		return "reset mid-body"
	case Status403:
		return "403"
	case Status503:
		return "503"
	case Status507:
		return "507"
	case Stall:
		return "stall"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// Rule picks the fault for a request; n counts the proxy's requests from 1.
// The proxy calls it one request at a time, so it may keep state without
// locking; it must not read the body.
type Rule func(r *http.Request, n int) Fault

// Option configures a Proxy.
type Option func(*options) error

type options struct {
	stall, latency time.Duration
}

// WithStall lets a stalled request through after d; without it a stall
// lasts until the client gives up or the proxy closes.
func WithStall(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("stall of %v: must be positive", d)
		}
		o.stall = d
		return nil
	}
}

// WithLatency holds every request d before it is handled: a registry
// d further away, each request one round trip of d (TCP and TLS set-up and
// bandwidth are not modelled).
func WithLatency(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("latency of %v: must be positive", d)
		}
		o.latency = d
		return nil
	}
}

// Proxy is a running fault-injecting reverse proxy.
type Proxy struct {
	srv    *httptest.Server
	target *url.URL
	rp     *httputil.ReverseProxy
	tr     *http.Transport
	stall  time.Duration
	// latency holds every request before it is handled (WithLatency).
	latency time.Duration

	ruleMu   sync.Mutex
	rule     Rule
	requests atomic.Int64
	injected [numFaults]atomic.Int64

	uploadMu sync.Mutex
	uploaded map[string]int64 // request body bytes passed through, by repository
	// downloaded counts blob bytes served through the proxy.
	downloaded atomic.Int64

	closing   chan struct{}
	closeOnce sync.Once
}

// New starts a proxy on 127.0.0.1 in front of target, a registry's URL or
// host:port (plain HTTP). Like httptest.NewServer, it panics when it
// cannot: these are test fixtures.
func New(target string, rule Rule, opts ...Option) *Proxy {
	if rule == nil {
		rule = func(*http.Request, int) Fault { return None }
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: target %q: not a URL or host:port", target))
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			panic("faultproxy: " + err.Error())
		}
	}
	p := &Proxy{target: u, rule: rule, stall: o.stall, latency: o.latency, closing: make(chan struct{}), uploaded: map[string]int64{}}
	p.tr = http.DefaultTransport.(*http.Transport).Clone()
	p.tr.Proxy = nil
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// Registries build upload Locations from Host: keep the
			// client's, so the next request comes back through the proxy.
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodGet && strings.Contains(resp.Request.URL.Path, "/blobs/") {
				resp.Body = &countingBody{ReadCloser: resp.Body, add: func(n int) { p.downloaded.Add(int64(n)) }}
			}
			return p.rewriteLocation(resp)
		},
		Transport: p.tr,
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	return p
}

// Addr is the proxy's host:port, to name repositories by.
func (p *Proxy) Addr() string { return p.srv.Listener.Addr().String() }

// URL is the proxy's base URL, http://host:port.
func (p *Proxy) URL() string { return p.srv.URL }

// Requests is how many requests the proxy has received.
func (p *Proxy) Requests() int { return int(p.requests.Load()) }

// Injected is how many requests got fault f.
func (p *Proxy) Injected(f Fault) int {
	if f < 0 || f >= numFaults {
		return 0
	}
	return int(p.injected[f].Load())
}

// Close releases stalled requests and shuts the proxy down.
func (p *Proxy) Close() {
	p.closeOnce.Do(func() {
		close(p.closing)
		p.srv.Close()
		p.tr.CloseIdleConnections()
	})
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if p.latency > 0 {
		t := time.NewTimer(p.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-p.closing:
			t.Stop()
			return
		}
	}
	p.ruleMu.Lock()
	f := p.rule(r, int(p.requests.Add(1)))
	p.ruleMu.Unlock()
	if f > None && f < numFaults {
		p.injected[f].Add(1)
	}
	switch f {
	case Reset:
		reset(w)
	case ResetMidBody:
		if r.ContentLength != 0 {
			half := r.ContentLength / 2
			if r.ContentLength < 0 {
				half = 32 << 10
			}
			io.CopyN(io.Discard, r.Body, half)
			reset(w)
			return
		}
		cw := &cutWriter{ResponseWriter: w}
		p.rp.ServeHTTP(cw, r)
		cw.cut()
	case Status403:
		refuse(w, r, http.StatusForbidden, "DENIED", "requested access to the resource is denied")
	case Status503:
		refuse(w, r, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
	case Status507:
		refuse(w, r, http.StatusInsufficientStorage, "", "")
	case Stall:
		p.hold(w, r)
	default:
		if r.Body != nil && r.Body != http.NoBody {
			repo := repository(r.URL.Path)
			r.Body = &countingBody{ReadCloser: r.Body, add: func(n int) {
				p.uploadMu.Lock()
				p.uploaded[repo] += int64(n)
				p.uploadMu.Unlock()
			}}
		}
		p.rp.ServeHTTP(w, r)
	}
}

// Uploaded is how many request body bytes (blobs, manifests) the proxy has
// passed through to repository repo ("team/app").
func (p *Proxy) Uploaded(repo string) int64 {
	p.uploadMu.Lock()
	defer p.uploadMu.Unlock()
	return p.uploaded[repo]
}

// Downloaded is how many blob bytes the proxy has served, from every
// repository: what its clients pulled.
func (p *Proxy) Downloaded() int64 { return p.downloaded.Load() }

// repository is the repository a registry API path names:
// /v2/<repo>/(blobs|manifests|tags)/….
func repository(path string) string {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	for _, sep := range []string{"/blobs/", "/manifests/", "/tags/"} {
		if i := strings.LastIndex(rest, sep); i > 0 {
			return rest[:i]
		}
	}
	return ""
}

// countingBody passes the size of every read of a body to add.
type countingBody struct {
	io.ReadCloser
	add func(n int)
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	if n > 0 {
		c.add(n)
	}
	return n, err
}

// hold stalls r, then passes it through if the stall time ran out.
func (p *Proxy) hold(w http.ResponseWriter, r *http.Request) {
	// The server notices a client hanging up only once the body is read.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var timeout <-chan time.Time
	if p.stall > 0 {
		t := time.NewTimer(p.stall)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	case <-p.closing:
		panic(http.ErrAbortHandler)
	case <-timeout:
		p.rp.ServeHTTP(w, r)
	}
}

// refuse answers code with a distribution-style error body (none when
// errCode is empty, which ggcr classifies by status alone). The request
// body is read first, so the client sees the answer rather than a broken
// upload.
func refuse(w http.ResponseWriter, r *http.Request, code int, errCode, msg string) {
	io.Copy(io.Discard, r.Body)
	if errCode == "" {
		http.Error(w, http.StatusText(code)+" (injected by faultproxy)", code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`+"\n", errCode, msg+" (injected by faultproxy)")
}

// rewriteLocation points an absolute Location at the target back at the
// proxy, for registries that ignore Host.
func (p *Proxy) rewriteLocation(resp *http.Response) error {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host != p.target.Host {
		return nil
	}
	u.Scheme, u.Host = "http", resp.Request.Host
	resp.Header.Set("Location", u.String())
	return nil
}

// reset aborts the connection under w with a TCP RST: SO_LINGER 0 makes
// close discard unsent data and reset rather than shut down in order.
func reset(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	buf.Flush()
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}

var errCut = errors.New("faultproxy: connection reset mid-body")

// cutWriter lets through the response headers and the first half of the
// body (by Content-Length), then resets the connection.
type cutWriter struct {
	http.ResponseWriter
	limit   int64
	written int64
	done    bool
}

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *cutWriter) WriteHeader(code int) {
	if n, err := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64); err == nil {
		c.limit = n / 2
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.done {
		return 0, errCut
	}
	if room := c.limit - c.written; int64(len(b)) > room {
		n, _ := c.ResponseWriter.Write(b[:room])
		c.written += int64(n)
		c.cut()
		return n, errCut
	}
	n, err := c.ResponseWriter.Write(b)
	c.written += int64(n)
	return n, err
}

// cut sends what was written and resets the connection, once.
func (c *cutWriter) cut() {
	if c.done {
		return
	}
	c.done = true
	http.NewResponseController(c.ResponseWriter).Flush()
	reset(c.ResponseWriter)
}
