package classindex

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Summary is what a build records of an Index: enough to key the autoload
// layer of a later commit whose Index is the same (see Same) without
// reading every file again.
type Summary struct {
	Digest  string `json:"digest"`
	Classes int    `json:"classes"`
	Files   int    `json:"files"`
	// Links is set when a symlink is among the Files: its target's files
	// are scanned too, which a list of changed paths does not show.
	Links bool `json:"links,omitempty"`
}

// Summary summarizes ix.
func (ix *Index) Summary() Summary {
	s := Summary{Digest: ix.Digest(), Files: len(ix.Files), Links: ix.Links}
	for _, f := range ix.Files {
		s.Classes += len(f.Classes)
	}
	return s
}

// Changed is a file of the app that differs from the commit an Index was
// read at.
type Changed struct {
	Path string // slash-separated, relative to the app root
	// Before is the file's content at that commit; nil when it did not
	// exist there. The content now is read from the app dir.
	Before []byte
	// Special is set when the file is, or was, a symlink or a submodule.
	Special bool
}

// ErrNotSame says that Same cannot tell the Index is unchanged: it must be
// read again.
var ErrNotSame = errors.New("the class index may have changed")

// Same reports, as a nil error, that the Index of dir's files now equals
// the one summarized as old, read at an earlier commit, knowing every file
// that changed since: it reads only those. Each must declare the same
// names as before (or, like a file declaring nothing, none the Index
// keeps), and composer.json, which says which files count, must be
// unchanged; an Index holding a symlink is never carried. It returns
// ErrNotSame, or an error reading a file, otherwise.
func Same(dir string, old Summary, changed []Changed) error {
	if old.Links {
		return ErrNotSame
	}
	for _, c := range changed {
		if c.Path == "composer.json" || c.Special {
			return ErrNotSame
		}
	}
	root, al, err := openAutoload(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if al == nil {
		return ErrNotSame // no scan to save
	}
	for _, c := range changed {
		// Read lists a symlink under the autoload paths whatever its name.
		if !al.covers(c.Path, true) {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(c.Path))
		fi, err := os.Lstat(full)
		exists := err == nil
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("reading %s: %w", c.Path, err)
		case exists && !fi.Mode().IsRegular():
			return ErrNotSame
		case !al.scans(c.Path):
			continue
		}
		var before, now *File
		if c.Before != nil {
			before = kept(scanFile(c.Path, c.Before))
		}
		if exists {
			f, err := scanOne(root, dir, c.Path)
			if err != nil {
				return err
			}
			now = kept(f)
		}
		if !sameFile(before, now) {
			return ErrNotSame
		}
	}
	return nil
}

// kept is f when the Index keeps it (see Read), else nil.
func kept(f File) *File {
	if len(f.Classes) > 0 || f.Hash != "" {
		return &f
	}
	return nil
}

func sameFile(a, b *File) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Path == b.Path && a.Hash == b.Hash && slices.Equal(a.Classes, b.Classes)
}
