package release

import (
	"context"
	"time"
)

// sleep waits d, or less when ctx ends first: then it returns ctx's error,
// so that Ctrl-C never waits out a poll interval.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
