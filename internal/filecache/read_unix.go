//go:build unix

package filecache

import (
	"io/fs"
	"syscall"
)

// readFile reads the file at path, sizeHint bytes long when it was
// stat'ed, with three system calls: os.ReadFile spends six more on each
// file registering it with the poller, which a regular file never uses,
// and a large app has thousands.
func readFile(path string, sizeHint int64) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	// One byte more than expected, so that the read that finds the end
	// needs no second buffer.
	buf := make([]byte, 0, max(sizeHint, 0)+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
