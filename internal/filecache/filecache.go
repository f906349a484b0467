// Package filecache reads each of a build's files once. Detection, the
// layer keys, the secrets check and the layer tars each go over every file
// of the app, and a large app has thousands: the opens, not the bytes,
// were what such a build spent its time on.
package filecache

import (
	"io/fs"
	"os"
	"sync"
)

// Limits on what is kept: small files are the many; a big one is read
// again rather than held.
const (
	maxFile  = 8 << 20
	maxTotal = 512 << 20
)

type entry struct {
	fi   fs.FileInfo
	data []byte
}

var (
	mu    sync.Mutex
	files = map[string]entry{}
	total int64
)

// ReadFile is os.ReadFile, from memory when path was read before and is
// still the same file (os.SameFile) with the same size and mtime. The
// bytes returned are shared: callers must not change them.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return Read(path, fi)
}

// Read is ReadFile for a caller that has just stat'ed path: fi is what
// it found, which saves a stat per file.
func Read(path string, fi fs.FileInfo) ([]byte, error) {
	mu.Lock()
	e, ok := files[path]
	mu.Unlock()
	if ok && same(e.fi, fi) {
		return e.data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Kept only when as many bytes were read as fi says: not a file
	// caught while it was written.
	if n := int64(len(data)); n == fi.Size() && n <= maxFile {
		mu.Lock()
		if old, ok := files[path]; ok {
			total -= int64(len(old.data))
		}
		if total+n <= maxTotal {
			files[path] = entry{fi, data}
			total += n
		} else {
			delete(files, path)
		}
		mu.Unlock()
	}
	return data, nil
}

func same(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}
