package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/phpbuild/phpbuild/processes"
)

// readTable reads the process table the image carries in its config dir;
// path is the file, for the lines that name it.
func readTable(getenv func(string) string) (t *processes.Table, path string, err error) {
	path = filepath.Join(envOr(getenv, "PHPBUILD_CONFIG_DIR", "/etc/phpbuild"), processes.FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, path, fmt.Errorf("reading the process table: %w", err)
	}
	t, err = processes.Parse(path, b)
	return t, path, err
}
