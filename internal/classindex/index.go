package classindex

import (
	"path/filepath"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/phpbuild/phpbuild/internal/filecache"
	"github.com/phpbuild/phpbuild/internal/par"
)

// Index is what composer dump-autoload --optimize reads from the app's own
// files. It is sound for keying, never exact: whatever would change the
// generated classmap changes the Index, and some changes that would not (a
// class that breaks PSR-4 and is skipped, a hidden file Symfony Finder
// skips) change it too.
type Index struct {
	// Autoload is the root composer.json's autoload section, compacted. It
	// decides which files are scanned and which of their classes PSR-4 and
	// PSR-0 keep, and is written into autoload_static.php itself.
	Autoload json.RawMessage `json:"autoload,omitempty"`
	// Files are the scanned files that can add to the classmap, sorted by
	// Path. A file declaring nothing adds nothing to the classmap, so it is
	// left out: adding or editing one keeps the Digest.
	Files []File `json:"files"`
	// Links is set when a symlink is among Files (see Summary).
	Links bool `json:"-"`
}

// File is one scanned file and what it declares.
type File struct {
	Path string `json:"path"` // slash-separated, relative to the app root
	// Classes are the names declared, fully qualified without a leading
	// "\", in source order, duplicates kept.
	Classes []string `json:"classes"`
	// Hash is "sha256:…" of a symlink's target, or of the file's content when the file holds source
	// that composer's scanner may read differently from phpsrc: a string
	// running to the end of the file, __halt_compiler, short open tags,
	// backtick strings, declarations composer's regular expressions see
	// otherwise. Any change to such a file then changes the Digest.
	Hash string `json:"hash,omitempty"`
}

// Read reads dir/composer.json's autoload section and indexes those of
// files (the commit's files, slash-separated, relative to dir) that composer
// would scan. A missing composer.json or autoload section gives an empty
// Index; a malformed one a *badinput.Error.
func Read(ctx context.Context, dir string, files []string) (*Index, error) {
	root, al, err := openAutoload(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if al == nil {
		return &Index{Files: []File{}}, nil
	}
	ix := &Index{Autoload: al.raw, Files: []File{}}
	sorted := slices.Compact(slices.Sorted(slices.Values(files)))
	// Composer's Finder follows symlinks, and git lists a symlinked
	// directory as one file. A link is indexed by its target, and the
	// commit's files under a target inside the app are scanned too.
	links := map[string]bool{}
	for _, p := range sorted {
		if !al.covers(p, true) {
			continue
		}
		// A commit's path runs through no symlinked dir (git lists none
		// below one): a plain lstat, which costs one call where root's
		// walks every dir of the path, is as safe.
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := root.Readlink(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		links[p] = true
		ix.Links = true
		ix.Files = append(ix.Files, File{Path: p, Classes: []string{}, Hash: digest([]byte(target))})
		if t, ok := inApp(path.Join(path.Dir(p), target)); ok && !path.IsAbs(target) {
			al.files = append(al.files, t)
			al.dirs = append(al.dirs, t)
		}
	}
	var scan []string
	for _, p := range sorted {
		if !links[p] && al.scans(p) {
			scan = append(scan, p)
		}
	}
	// On every core; a file the build read already comes from filecache,
	// the others are read through root, which keeps the reads inside dir.
	scanned, err := par.Map(ctx, scan, func(p string) (File, error) { return scanOne(root, dir, p) })
	if err != nil {
		return nil, err
	}
	for _, f := range scanned {
		if len(f.Classes) > 0 || f.Hash != "" {
			ix.Files = append(ix.Files, f)
		}
	}
	slices.SortFunc(ix.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return ix, nil
}

func scanOne(root *os.Root, dir, p string) (File, error) {
	// The commit's paths hold no symlinked dir (git lists none below one):
	// the file is read directly, once for the whole build (filecache).
	full := filepath.Join(dir, filepath.FromSlash(p))
	fi, err := os.Lstat(full)
	if err != nil {
		return File{}, fmt.Errorf("reading %s: %w", p, err)
	}
	var src []byte
	if fi.Mode().IsRegular() {
		src, err = filecache.Read(full, fi)
	} else {
		src, err = root.ReadFile(p)
	}
	if err != nil {
		return File{}, fmt.Errorf("reading %s: %w", p, err)
	}
	return scanFile(p, src), nil
}

// Digest is "sha256:…" over the Index's JSON, which encoding/json writes
// canonically: struct fields in order, Files sorted, Autoload compacted.
func (ix *Index) Digest() string {
	b, err := json.Marshal(ix)
	if err != nil {
		panic(err) // strings and a compacted RawMessage always encode
	}
	return digest(b)
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Reads lists those of files (the commit's, slash-separated, relative to
// dir) that composer dump-autoload may read of the root package: its
// composer.json and composer.lock, everything under its autoload
// directories and classmap entries (more than composer scans: it reads
// some extensions and skips exclude-from-classmap; more files never change
// what it writes, fewer may), and its files entries. With a symlink among
// them, which composer would follow, it lists all of files.
func Reads(dir string, files []string) ([]string, error) {
	root, al, err := openAutoload(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var out []string
	for _, p := range files {
		switch {
		case p == "composer.json" || p == "composer.lock":
		case al == nil:
			continue
		case al.holds(p, true) || slices.Contains(al.included, p):
			// A commit's path, as in Read.
			fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", p, err)
			}
			if fi.Mode()&fs.ModeSymlink != 0 {
				return files, nil
			}
		default:
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// openAutoload opens dir and reads its composer.json's autoload section,
// nil without one; the caller closes root.
func openAutoload(dir string) (*os.Root, *autoload, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("opening app directory: %w", err)
	}
	al, err := readAutoload(root)
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	return root, al, nil
}
