// Command limit is the bench's physical limit as a program of its own, as
// a CI job would run one: it pushes the files of DIR named on its standard
// input, one a line, as the app layer of the image REF (see
// physical.Limit), and does nothing else.
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/phpbuild/phpbuild/bench/physical"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: limit DIR APPDIR REF < FILES")
		os.Exit(2)
	}
	ref, err := name.ParseReference(os.Args[3], name.Insecure)
	if err != nil {
		fmt.Fprintln(os.Stderr, "limit:", err)
		os.Exit(2)
	}
	var files []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if f := sc.Text(); f != "" {
			files = append(files, f)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "limit: reading the files:", err)
		os.Exit(1)
	}
	if _, err := physical.Limit(os.Args[1], os.Args[2], files, ref); err != nil {
		fmt.Fprintln(os.Stderr, "limit:", err)
		os.Exit(1)
	}
}
