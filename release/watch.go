package release

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The watch: after a release's switch, the front proxy's access log says
// how many requests it answered and how many of them failed (a 5xx from
// the app, or a 502/504 of its own when the app did not answer). A release
// failing more than the environment allows is rolled back.

// Watch is an environment's [watch].
type Watch struct {
	Duration     time.Duration
	MaxErrorRate float64
	MinRequests  int
}

// WatchResult is what the watch saw of a release.
type WatchResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Rate     float64 `json:"rate"`
	Watched  string  `json:"watched"`
	// Exceeded is whether the rate passed the limit over enough requests.
	Exceeded bool `json:"exceeded,omitempty"`
}

func (w WatchResult) String() string {
	return fmt.Sprintf("%d of %d requests failed (%.1f%%) in %s", w.Errors, w.Requests, 100*w.Rate, w.Watched)
}

// WatchError is a release whose error rate passed the environment's limit
// during the watch.
type WatchError struct {
	Result WatchResult
	Limit  float64
	// Previous is the release it was rolled back to ("" when there was
	// none) and RolledBack the rollback's ID, once done.
	Previous, RolledBack string
}

func (e *WatchError) Error() string {
	msg := fmt.Sprintf("the new release's error rate passed the limit of %.1f%%: %s", 100*e.Limit, e.Result)
	switch {
	case e.RolledBack != "":
		return msg + "; rolled back to " + e.Previous + " (" + e.RolledBack + ")"
	case e.Previous == "":
		return msg + "; it keeps serving: there is no earlier release to roll back to"
	}
	return msg
}

// accessLog is the front proxy's access log while a watch is configured:
// one "STATUS UPSTREAM_STATUS" line per request, emptied at each switch.
const accessLog = "/tmp/phpbuild-access.log"

// startWatch empties the proxy's access log: what follows is the new
// release's.
func (h *host) startWatch(ctx context.Context) error {
	out, code, err := h.state.sh(ctx, ": > "+accessLog)
	if err == nil && code != 0 {
		err = fmt.Errorf("%s", strings.TrimSpace(out))
	}
	if err != nil {
		return fmt.Errorf("emptying the front proxy's access log: %w", err)
	}
	return nil
}

// watch reads the proxy's counts every second until w.Duration has passed
// since began, or until the error rate passes the limit over at least
// MinRequests requests.
func (h *host) watch(ctx context.Context, w *Watch, began time.Time) (WatchResult, error) {
	var res WatchResult
	for {
		n, errs, err := h.proxyCounts(ctx)
		if err != nil {
			return res, err
		}
		res = WatchResult{Requests: n, Errors: errs, Watched: time.Since(began).Round(100 * time.Millisecond).String()}
		if n > 0 {
			res.Rate = float64(errs) / float64(n)
		}
		if n >= max(w.MinRequests, 1) && res.Rate > w.MaxErrorRate {
			res.Exceeded = true
			return res, nil
		}
		if time.Since(began) >= w.Duration {
			return res, nil
		}
		if err := sleep(ctx, min(time.Second, w.Duration-time.Since(began))); err != nil {
			return res, err
		}
	}
}

// proxyCounts are the requests in the proxy's access log and those that
// failed.
func (h *host) proxyCounts(ctx context.Context) (requests, failed int, err error) {
	// nginx flushes its buffered log every second.
	// Only what reached the app, or tried to: not the proxy's own answers
	// (maintenance mode's 503s).
	script := `awk '$2 != "-" { n++; if ($1 >= 500) e++ } END { print n+0, e+0 }' ` + accessLog
	out, code, err := h.state.sh(ctx, script)
	if err == nil && code != 0 {
		err = fmt.Errorf("%s", strings.TrimSpace(out))
	}
	if err != nil {
		return 0, 0, fmt.Errorf("reading the front proxy's access log: %w", err)
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("reading the front proxy's access log: unexpected %q", out)
	}
	requests, _ = strconv.Atoi(f[0])
	failed, _ = strconv.Atoi(f[1])
	return requests, failed, nil
}
