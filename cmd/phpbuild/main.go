// Command phpbuild builds one immutable OCI image per git commit of a PHP or
// Phalcon app and releases it to an environment with zero downtime.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the garbage collector's target unless GOGC sets one: a
// code-change build allocates a few tens of MB and ends in about 50 ms,
// and at Go's default of 100 it collects four times on its way, on a
// CI runner's two cores that the registry and git need too. At 400 it
// collects once or not at all; a long build's heap stays a few times its
// live data, which is small: layers are streamed, never held.
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels the work; restoring the default lets a
		// second one end a process stuck where it cannot see ctx.
		<-ctx.Done()
		stop()
	}()
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(report(os.Stderr, err))
}
