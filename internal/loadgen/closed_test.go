package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestClosed: n requests in all, never more than concurrency at once,
// statuses other than 200 and requests unanswered in time as errors,
// latencies of the 200s only.
func TestClosed(t *testing.T) {
	var inFlight, most, served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case "/stall":
			time.Sleep(300 * time.Millisecond)
		}
		served.Add(1)
	}))
	defer srv.Close()

	res := Closed(context.Background(), srv.URL+"/", 4, time.Minute, time.Second, 40)
	if res.OK != 40 || res.Errors != 0 || len(res.Latencies) != 40 {
		t.Errorf("40 requests: %v", res)
	}
	if m := most.Load(); m > 4 {
		t.Errorf("%d requests in flight at once, want at most 4", m)
	}
	if p50, p99 := res.Percentile(0.5), res.Percentile(0.99); p50 < 2*time.Millisecond || p99 < p50 || res.RPS() <= 0 {
		t.Errorf("p50 %s, p99 %s, %.0f req/s: want p50 ≥ the server's 2 ms, p99 ≥ p50", p50, p99, res.RPS())
	}

	res = Closed(context.Background(), srv.URL+"/fail", 2, time.Minute, time.Second, 10)
	if res.OK != 0 || res.Errors != 10 || res.FirstErr != "500 Internal Server Error" {
		t.Errorf("10 answered 500: %v (%q)", res, res.FirstErr)
	}

	// Load for 100 ms: the requests in flight then are waited for, and one
	// answered after the timeout is an error.
	start := time.Now()
	res = Closed(context.Background(), srv.URL+"/stall", 2, 100*time.Millisecond, 200*time.Millisecond, 0)
	if res.OK != 0 || res.Errors != 2 {
		t.Errorf("2 requests over the timeout: %v", res)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s", took)
	}
}
