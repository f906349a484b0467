package detect

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Option configures Detect.
type Option func(*options) error

type options struct {
	files  []string
	listed bool // files replaces the walk, even when empty
}

// WithFiles makes files the app's files instead of a walk of dir. The build
// passes the commit's files, so a work tree with untracked or ignored extras
// and a fresh clone of the same commit detect the same app. Names are
// relative to dir and slash-separated; a dir of the app is one that holds a
// listed file, so an empty dir left in one work tree changes nothing.
func WithFiles(files []string) Option {
	return func(o *options) error {
		for _, f := range files {
			if f == "" || f == "." || f != path.Clean(f) || path.IsAbs(f) || f == ".." || strings.HasPrefix(f, "../") {
				return fmt.Errorf("detect.WithFiles: %q is not a clean path inside the app", f)
			}
		}
		o.files, o.listed = slices.Clone(files), true
		return nil
	}
}
