package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	gofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/tonistiigi/fsutil"
	"google.golang.org/protobuf/proto"
)

// listFS is an fsutil.FS of exactly some files of a dir, and the dirs
// above them, walked in the order filepath.WalkDir walks them. A step's
// files used to travel as the dir filtered by FollowPaths, which fsutil
// turns into one include pattern per file and matches every path against
// all of them: 7,000 files took 4 s to send, this takes a fraction.
type listFS struct {
	dir   string
	paths []string // slash-separated, files and their parent dirs, in walk order
}

// newListFS lists files (slash-separated, relative to dir) with their parent
// dirs. It reports false when a file is a symlink: FollowPaths then keeps
// sending its target as before.
func newListFS(dir string, files []string) (*listFS, bool, error) {
	seen := map[string]bool{}
	var paths []string
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, false, err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return nil, false, nil
		}
		for p := f; p != "." && p != "/" && !seen[p]; p = path.Dir(p) {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	slices.SortFunc(paths, walkOrder)
	return &listFS{dir: dir, paths: paths}, true, nil
}

// walkOrder compares slash-separated paths element by element, as a walk
// that sorts each dir's entries by name visits them.
func walkOrder(a, b string) int {
	for {
		ea, ra, _ := strings.Cut(a, "/")
		eb, rb, _ := strings.Cut(b, "/")
		if c := strings.Compare(ea, eb); c != 0 || (ra == "" && rb == "") {
			return c
		}
		if ra == "" {
			return -1
		}
		if rb == "" {
			return 1
		}
		a, b = ra, rb
	}
}

func (l *listFS) Walk(ctx context.Context, target string, fn gofs.WalkDirFunc) error {
	if target != "/" && target != "" {
		return fmt.Errorf("listing %s: walking %q is not supported", l.dir, target)
	}
	skip := ""
	for _, p := range l.paths {
		if skip != "" && strings.HasPrefix(p, skip) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		st, err := fsutil.Stat(filepath.Join(l.dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		st.Path = filepath.FromSlash(p)
		entry := &fsutil.DirEntryInfo{Stat: st}
		if err := fn(st.Path, entry, nil); err != nil {
			if err == filepath.SkipDir && entry.IsDir() {
				skip = p + "/"
				continue
			}
			if err == filepath.SkipDir || err == filepath.SkipAll {
				return nil
			}
			return err
		}
	}
	return nil
}

func (l *listFS) Open(p string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(l.dir, filepath.FromSlash(p)))
}

// listLocalPrefix names the locals that send a list of files: the name
// carries the list's digest, and listed remembers the list.
const listLocalPrefix = "files-"

var listed sync.Map // local name → []string, sorted

// listLocal is the local that sends files (sorted) of the app dir: a
// listFS named after the list when the solve finds none of them a symlink
// (see localsOf), else the app dir with FollowPaths.
func listLocal(files []string, opts ...llb.LocalOption) llb.State {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	name := listLocalPrefix + hex.EncodeToString(h.Sum(nil))[:24]
	listed.Store(name, files)
	return llb.Local(name, opts...)
}

// localsOf gives each local of def that listLocal named its listFS of dir,
// or the dir filtered to its files when one of them is a symlink.
func localsOf(def *llb.Definition, dir string) (map[string]fsutil.FS, error) {
	out := map[string]fsutil.FS{}
	for _, dt := range def.Def {
		var op pb.Op
		if err := proto.Unmarshal(dt, &op); err != nil {
			return nil, err
		}
		src := op.GetSource()
		if src == nil {
			continue
		}
		name, ok := strings.CutPrefix(src.Identifier, "local://")
		if !ok || !strings.HasPrefix(name, listLocalPrefix) {
			continue
		}
		v, ok := listed.Load(name)
		if !ok {
			return nil, fmt.Errorf("local %s: no file list", name)
		}
		files := v.([]string)
		l, ok, err := newListFS(dir, files)
		if err != nil {
			return nil, err
		}
		if ok {
			out[name] = l
			continue
		}
		base, err := fsutil.NewFS(dir)
		if err != nil {
			return nil, err
		}
		if out[name], err = fsutil.NewFilterFS(base, &fsutil.FilterOpt{FollowPaths: files}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
