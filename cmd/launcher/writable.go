package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// writableFile, in the config dir, lists the image's writable dirs and the
// dirs under them, parents first (layers.WritableFile).
const writableFile = "writable.dirs"

// makeWritable makes the image's writable dirs again where they are
// missing: a read-only release mounts an empty tmpfs on each, which hides
// the dirs the app ships under it (a framework's cache/ and logs/). A dir
// it cannot make is reported, not fatal: the app says best what it needs.
func makeWritable(list string, log io.Writer) {
	f, err := os.Open(list)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		dir := strings.TrimSpace(sc.Text())
		if dir == "" {
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			fmt.Fprintf(log, "launcher: making the writable dir %s: %v\n", dir, err)
		}
	}
}
