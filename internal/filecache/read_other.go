//go:build !unix

package filecache

import "os"

func readFile(path string, _ int64) ([]byte, error) { return os.ReadFile(path) }
