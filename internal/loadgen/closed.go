package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Result is what a closed-loop load measured.
type Result struct {
	Concurrency int
	Duration    time.Duration // from the first request to the last answer
	OK          int           // 200 responses
	Errors      int           // other statuses and requests with no response
	// Latencies of the 200 responses, sorted.
	Latencies []time.Duration
	FirstErr  string
}

// RPS is the 200 responses per second.
func (r Result) RPS() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.OK) / r.Duration.Seconds()
}

// Percentile is the latency below which p (0 to 1) of the 200 responses
// were answered; 0 without any.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

func (r Result) String() string {
	return fmt.Sprintf("c=%d: %.0f req/s, p50 %s, p99 %s, %d ok, %d errors",
		r.Concurrency, r.RPS(), r.Percentile(0.5).Round(10*time.Microsecond), r.Percentile(0.99).Round(10*time.Microsecond), r.OK, r.Errors)
}

// Closed keeps concurrency GETs of url in flight, each worker sending its
// next request when the last is answered, over keep-alive connections,
// for d, or n requests in all when n > 0, whichever ends first; then it
// waits for the requests in flight. A request unanswered after timeout is
// an error. The body is read in full, as a browser would. Cancelling ctx
// abandons the requests in flight.
func Closed(ctx context.Context, url string, concurrency int, d, timeout time.Duration, n int) Result {
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Timeout: timeout, Transport: tr}
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	res := Result{Concurrency: concurrency}
	var left chan struct{}
	if n > 0 {
		left = make(chan struct{}, n)
		for range n {
			left <- struct{}{}
		}
		close(left)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			var lat []time.Duration
			ok, bad, first := 0, 0, ""
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if left != nil {
					if _, more := <-left; !more {
						break
					}
				}
				t0 := time.Now()
				err := get(ctx, c, url)
				switch {
				case err == nil:
					lat = append(lat, time.Since(t0))
					ok++
				case ctx.Err() == nil:
					bad++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.OK += ok
			res.Errors += bad
			res.Latencies = append(res.Latencies, lat...)
			if res.FirstErr == "" {
				res.FirstErr = first
			}
		})
	}
	wg.Wait()
	res.Duration = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

// get is one GET whose answer must be a 200, read to the end.
func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
