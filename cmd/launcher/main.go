// Command launcher is PID 1 inside app images: it will start php-fpm and
// nginx, forward signals, stop both gracefully and reap children. It ships
// with the runtime images; until then it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "launcher: not built into this phpbuild yet; it arrives with the runtime images")
	os.Exit(1)
}
