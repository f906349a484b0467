package layers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/phpbuild/phpbuild/internal/filecache"
)

// Entry is one entry of a layer's tar.
type Entry struct {
	// Path is absolute in the image, slash-separated.
	Path     string
	Type     byte // tar.TypeReg, tar.TypeDir or tar.TypeSymlink
	Mode     int64
	UID, GID int
	Linkname string
	// Source is the file a regular entry's bytes come from; Data is used
	// when Source is empty.
	Source string
	Data   []byte
	// ModTime zero means the layer's epoch for a directory or symlink, and
	// ContentTime for a regular file.
	ModTime time.Time
}

// Epoch is the time of every layer phpbuild writes: a constant, not the
// commit's time, so that a layer's bytes depend only on its inputs (its
// key), and a layer reused from an earlier commit's image is the very
// layer this commit would make. The fast path and a --no-cache build of
// one commit then give one image digest.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ContentTime is a regular file's time in a layer written at epoch: epoch
// plus up to 2^28 s (8.5 years) taken from the file's sha256. A file whose
// bytes change gets another time, so nginx's Last-Modified and ETag (made
// from the time and size) change with it and a browser's cached copy is
// not taken for the new one; an unchanged file keeps its time.
func ContentTime(epoch time.Time, sum [sha256.Size]byte) time.Time {
	return epoch.Add(time.Duration(binary.BigEndian.Uint32(sum[:4])%(1<<28)) * time.Second)
}

// Owner of a layer's files: code is root's, writable dirs the app user's.
const (
	rootUID = 0
	appUID  = 1000
)

// NewTar makes a layer whose bytes depend only on entries and epoch: entries
// sorted by path, parent directories added (root-owned, 0755), times set to
// epoch, or ContentTime for regular files, or the entry's own ModTime
// (truncated to whole seconds so no PAX time records are written), no user
// or group names.
func NewTar(entries []Entry, epoch time.Time) (v1.Layer, error) {
	all, err := normalize(entries)
	if err != nil {
		return nil, err
	}
	epoch = epoch.UTC().Truncate(time.Second)
	// One pass: the tar is written once, hashed for its diff ID as it is
	// gzipped, and the gzip kept and hashed for the digest. (ggcr's
	// tarball layers write and compress it again for every reader.) The
	// files are read and the tar hashed on one goroutine while another
	// compresses: on a large app each takes about as long as the other.
	var gz bytes.Buffer
	diffID, digest := sha256.New(), sha256.New()
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&gz, digest), gzipLevel)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		// Batched: the tar's many small writes cross the pipe as few.
		bw := bufio.NewWriterSize(pw, 256<<10)
		err := writeTar(io.MultiWriter(bw, diffID), all, epoch)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	if _, err := io.Copy(zw, pr); err != nil {
		pr.CloseWithError(err) // the writer stops at its next write
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &tarLayer{
		gz:     gz.Bytes(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(digest.Sum(nil))},
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffID.Sum(nil))},
	}, nil
}

// gzipLevel is the layers' compression: klauspost's gzip at its default
// level compresses phpbuild's layers about as small as BuildKit's and three
// times as fast as the standard library's fastest level.
const gzipLevel = gzip.DefaultCompression

// tarLayer is a layer NewTar wrote: its gzip bytes, held in memory, with
// their digest and the tar's.
type tarLayer struct {
	gz             []byte
	digest, diffID v1.Hash
}

var _ v1.Layer = (*tarLayer)(nil)

func (l *tarLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *tarLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *tarLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *tarLayer) MediaType() (types.MediaType, error) {
	return types.OCILayer, nil
}
func (l *tarLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *tarLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz))
}

func normalize(entries []Entry) ([]Entry, error) {
	byPath := map[string]Entry{}
	// implied are the parent dirs added for entries below them; a dir the
	// caller lists (a writable one, owned by the app user) replaces one.
	implied := map[string]bool{}
	for _, e := range entries {
		p := path.Clean("/" + e.Path)
		if p == "/" {
			continue
		}
		e.Path = p
		if old, ok := byPath[p]; ok {
			// A directory listed twice is fine; anything else is a bug in
			// the caller, which would make the layer's content ambiguous.
			if old.Type != tar.TypeDir || e.Type != tar.TypeDir {
				return nil, fmt.Errorf("layer tar: %s listed twice", p)
			}
			if !implied[p] {
				continue
			}
		}
		byPath[p] = e
		delete(implied, p)
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = Entry{Path: d, Type: tar.TypeDir, Mode: 0o755}
				implied[d] = true
			}
		}
	}
	out := make([]Entry, 0, len(byPath))
	for _, e := range byPath {
		out = append(out, e)
	}
	// Parents sort before their children because "/" sorts before every
	// character allowed after it in a name... except those below '/':
	// compare path components instead of raw strings.
	sort.Slice(out, func(i, j int) bool { return lessPath(out[i].Path, out[j].Path) })
	return out, nil
}

func lessPath(a, b string) bool {
	// As if every "/" were "\x00", without making the strings.
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '/' {
			ca = 0
		}
		if cb == '/' {
			cb = 0
		}
		return ca < cb
	}
	return len(a) < len(b)
}

func writeTar(w io.Writer, entries []Entry, epoch time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		mt := epoch
		if !e.ModTime.IsZero() {
			mt = e.ModTime.UTC().Truncate(time.Second)
		}
		h := &tar.Header{
			Name:     strings.TrimPrefix(e.Path, "/"),
			Typeflag: e.Type,
			Mode:     e.Mode,
			Uid:      e.UID,
			Gid:      e.GID,
			ModTime:  mt,
			Linkname: e.Linkname,
		}
		var body io.Reader
		switch e.Type {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeSymlink:
		case tar.TypeReg:
			if e.Source == "" {
				h.Size = int64(len(e.Data))
				body = bytes.NewReader(e.Data)
				if e.ModTime.IsZero() {
					h.ModTime = ContentTime(epoch, sha256.Sum256(e.Data))
				}
				break
			}
			// Read whole, once: the file's time comes from its bytes,
			// whose sum the layer keys have likely taken already.
			data, sum, err := filecache.SumFile(e.Source)
			if err != nil {
				return err
			}
			h.Size = int64(len(data))
			if e.ModTime.IsZero() {
				h.ModTime = ContentTime(epoch, sum)
			}
			body = bytes.NewReader(data)
		default:
			return fmt.Errorf("layer tar: %s: unsupported type %q", e.Path, e.Type)
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("layer tar: %s: %w", e.Path, err)
		}
		if body != nil {
			if _, err := io.Copy(tw, body); err != nil {
				return fmt.Errorf("layer tar: %s: %w", e.Path, err)
			}
		}
	}
	return tw.Close()
}

// TreeEntries lists the files rels under root as entries below dest, the
// way code ships: root-owned, 0644, or 0755 when executable, symlinks kept
// as they are. Directories in rels are included with their contents' dirs.
func TreeEntries(root string, rels []string, dest string) ([]Entry, error) {
	var out []Entry
	for _, rel := range rels {
		p := filepath.Join(root, filepath.FromSlash(rel))
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		e := Entry{Path: path.Join(dest, rel), UID: rootUID, GID: rootUID}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			if e.Linkname, err = os.Readlink(p); err != nil {
				return nil, err
			}
			e.Type, e.Mode = tar.TypeSymlink, 0o777
		case fi.IsDir():
			e.Type, e.Mode = tar.TypeDir, 0o755
		case fi.Mode().IsRegular():
			e.Type, e.Mode, e.Source = tar.TypeReg, 0o644, p
			if fi.Mode()&0o111 != 0 {
				e.Mode = 0o755
			}
		default:
			return nil, fmt.Errorf("%s: not a regular file, directory or symlink", p)
		}
		out = append(out, e)
	}
	return out, nil
}

// WalkEntries lists every file and directory under root (a step's exported
// output) as entries below dest, skipping what skip reports.
func WalkEntries(root, dest string, skip func(rel string) bool) ([]Entry, error) {
	var rels []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rels = append(rels, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return TreeEntries(root, rels, dest)
}

// Chown gives dir and everything below it to the app user, listing the
// dirs between dir and its entries so that none is left to root.
func Chown(entries []Entry, dir string) []Entry {
	dir = path.Clean(dir)
	listed := map[string]bool{}
	for _, e := range entries {
		listed[path.Clean(e.Path)] = true
	}
	inside := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for _, e := range entries {
		for d := path.Dir(path.Clean(e.Path)); inside(d) && !listed[d]; d = path.Dir(d) {
			entries = append(entries, Entry{Path: d, Type: tar.TypeDir, Mode: 0o755})
			listed[d] = true
		}
	}
	for i := range entries {
		if inside(path.Clean(entries[i].Path)) {
			entries[i].UID, entries[i].GID = appUID, appUID
		}
	}
	return entries
}

// TarFileEntries lists what the tar file holds (a step's output exported as
// a tar) as entries below dest, as WalkEntries lists a dir: the same types
// and modes, a regular file's bytes in Data, a hard link as a copy of its
// target. skip gets each regular file's path, mode and bytes.
func TarFileEntries(file, dest string, skip func(rel string, mode int64, data []byte) bool) ([]Entry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	data := map[string][]byte{} // regular files by path, for hard links
	var out []Entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", file, err)
		}
		rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if rel == "" {
			continue
		}
		e := Entry{Path: path.Join(dest, rel), UID: rootUID, GID: rootUID}
		switch h.Typeflag {
		case tar.TypeSymlink:
			e.Type, e.Mode, e.Linkname = tar.TypeSymlink, 0o777, h.Linkname
		case tar.TypeDir:
			e.Type, e.Mode = tar.TypeDir, 0o755
		case tar.TypeReg, tar.TypeLink:
			var b []byte
			if h.Typeflag == tar.TypeLink {
				target := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
				var ok bool
				if b, ok = data[target]; !ok {
					return nil, fmt.Errorf("%s: %s links to %s, which comes before it in no entry", file, rel, target)
				}
			} else if b, err = io.ReadAll(tr); err != nil {
				return nil, fmt.Errorf("reading %s: %w", file, err)
			}
			data[rel] = b
			e.Type, e.Mode, e.Data = tar.TypeReg, 0o644, b
			if h.Mode&0o111 != 0 {
				e.Mode = 0o755
			}
			if skip != nil && skip(rel, h.Mode, b) {
				continue
			}
		default:
			return nil, fmt.Errorf("%s: %s is not a regular file, directory or symlink", file, rel)
		}
		out = append(out, e)
	}
}
