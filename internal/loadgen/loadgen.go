// Package loadgen sends GETs to one URL at a steady rate and counts what
// comes back: the load that release tests and the bench keep on an app
// while it is switched.
package loadgen

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a running load. Its counters may be read while it runs.
type Load struct {
	// OK counts 200 responses, Failed other statuses, ConnErrs requests
	// that got no response at all (refused, reset, timed out).
	OK, Failed, ConnErrs atomic.Int64

	versionOf func(string) string
	mu        sync.Mutex
	seen      map[string]int
	errs      []string
	stop      chan struct{}
	done      sync.WaitGroup
}

// Start sends about rate GETs per second to url, each in its own goroutine
// over keep-alive connections, until Finish. versionOf names the version
// a 200 body comes from.
func Start(url string, rate int, versionOf func(string) string) *Load {
	l := &Load{versionOf: versionOf, seen: map[string]int{}, stop: make(chan struct{})}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	l.done.Add(1)
	go func() {
		defer l.done.Done()
		defer tick.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			l.done.Add(1)
			go func() {
				defer l.done.Done()
				l.get(c, url)
			}()
		}
	}()
	return l
}

func (l *Load) get(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		l.ConnErrs.Add(1)
		l.note(err.Error())
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.Failed.Add(1)
		l.note(fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b))))
		return
	}
	l.OK.Add(1)
	l.mu.Lock()
	l.seen[l.versionOf(string(b))]++
	l.mu.Unlock()
}

func (l *Load) note(s string) {
	l.mu.Lock()
	if len(l.errs) < 5 {
		l.errs = append(l.errs, s)
	}
	l.mu.Unlock()
}

// Finish stops sending and waits for the requests in flight.
func (l *Load) Finish() { close(l.stop); l.done.Wait() }

// Seen counts the 200 responses by version.
func (l *Load) Seen() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.seen)
}

// Errors are the first few failures, as text.
func (l *Load) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// Lost is the number of requests that did not get a 200.
func (l *Load) Lost() int64 { return l.Failed.Load() + l.ConnErrs.Load() }

func (l *Load) String() string {
	return fmt.Sprintf("%d ok, %d failed, %d connection errors; versions %v", l.OK.Load(), l.Failed.Load(), l.ConnErrs.Load(), l.Seen())
}
