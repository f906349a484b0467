package par

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
)

// TestMap: results come in order, whatever finishes first; the error of
// the lowest index wins; a cancelled context stops the work.
func TestMap(t *testing.T) {
	items := make([]int, 1000)
	for i := range items {
		items[i] = i
	}
	got, err := Map(context.Background(), items, func(i int) (string, error) { return strconv.Itoa(i * 2), nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range got {
		if s != strconv.Itoa(i*2) {
			t.Fatalf("out[%d] = %q", i, s)
		}
	}
	_, err = Map(context.Background(), items, func(i int) (int, error) {
		if i%100 == 7 {
			return 0, fmt.Errorf("item %d", i)
		}
		return i, nil
	})
	if err == nil || err.Error() != "item 7" {
		t.Errorf("error = %v, want item 7's", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Map(ctx, items, func(i int) (int, error) { return i, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error = %v", err)
	}
	if out, err := Map(context.Background(), []int{}, func(i int) (int, error) { return i, nil }); err != nil || len(out) != 0 {
		t.Errorf("no items: %v, %v", out, err)
	}
}

func TestFuture(t *testing.T) {
	release := make(chan struct{})
	fu := Go(func() (int, error) { <-release; return 42, nil })
	select {
	case <-fu.done:
		t.Fatal("the future finished before its function returned")
	default:
	}
	close(release)
	for range 2 { // Wait may be called again
		if v, err := fu.Wait(); v != 42 || err != nil {
			t.Fatalf("Wait() = %d, %v; want 42, nil", v, err)
		}
	}
	boom := errors.New("boom")
	if _, err := Go(func() (string, error) { return "", boom }).Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait() error = %v, want %v", err, boom)
	}
}
