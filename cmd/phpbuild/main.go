// Command phpbuild builds one immutable OCI image per git commit of a PHP or
// Phalcon app and releases it to an environment with zero downtime.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
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
