// Package par runs the per-file work of a build on every core: a large
// app's thousands of files are read, scanned and hashed more than once.
package par

import (
	"context"
	"runtime"
	"sync"
)

// Map returns f of each item, in items' order, computed by one goroutine
// per core. The first error (by index) is returned; ctx ends the work early.
func Map[T, R any](ctx context.Context, items []T, f func(T) (R, error)) ([]R, error) {
	out := make([]R, len(items))
	errs := make([]error, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = f(items[i])
			}
		}()
	}
	var err error
	for i := range items {
		if err = ctx.Err(); err != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Future is a value being computed on its own goroutine.
type Future[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// Go starts f and returns its future.
func Go[T any](f func() (T, error)) *Future[T] {
	fu := &Future[T]{done: make(chan struct{})}
	go func() {
		defer close(fu.done)
		fu.v, fu.err = f()
	}()
	return fu
}

// Wait returns f's result once it is there.
func (fu *Future[T]) Wait() (T, error) {
	<-fu.done
	return fu.v, fu.err
}
