// Package filecache reads each of a build's files once. Detection, the
// layer keys, the secrets check and the layer tars each go over every file
// of the app, and a large app has thousands: the opens, not the bytes,
// were what such a build spent its time on.
package filecache

import (
	"crypto/sha256"
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
	// sum is data's sha256, once a caller asked (see Sum).
	sum    [sha256.Size]byte
	summed bool
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
	data, err := readFile(path, fi.Size())
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
			files[path] = entry{fi: fi, data: data}
			total += n
		} else {
			delete(files, path)
		}
		mu.Unlock()
	}
	return data, nil
}

// SumFile is ReadFile with the sha256 of the bytes (see Sum).
func SumFile(path string) ([]byte, [sha256.Size]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	return Sum(path, fi)
}

// Sum is Read with the sha256 of the bytes, computed once per file for
// all who ask: the layer keys and the layer tars both hash every file.
func Sum(path string, fi fs.FileInfo) ([]byte, [sha256.Size]byte, error) {
	mu.Lock()
	e, ok := files[path]
	mu.Unlock()
	if ok && e.summed && same(e.fi, fi) {
		return e.data, e.sum, nil
	}
	data, err := Read(path, fi)
	if err != nil {
		return nil, [sha256.Size]byte{}, err
	}
	sum := sha256.Sum256(data)
	mu.Lock()
	// Kept only on the entry holding these very bytes.
	if e, ok := files[path]; ok && len(e.data) == len(data) && (len(data) == 0 || &e.data[0] == &data[0]) {
		e.sum, e.summed = sum, true
		files[path] = e
	}
	mu.Unlock()
	return data, sum, nil
}

func same(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}
