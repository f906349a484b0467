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
	err := newRoot().ExecuteContext(ctx)
	stop()
	os.Exit(report(os.Stderr, err))
}
