package layers

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/filecache"
	"github.com/phpbuild/phpbuild/internal/par"
)

// Layer is one layer of an app image.
type Layer interface {
	// Name is one of runtime, vendor, assets, volt, config, app.
	Name() string
	// Key digests exactly the inputs that decide the layer's content.
	Key(ctx context.Context) (v1.Hash, error)
}

// keyVersion changes when the key encoding or a layer's production changes
// in a way that must invalidate every previously built layer.
const keyVersion = "phpbuild-layer-key/2"

// keyBuilder feeds named, length-prefixed fields to sha256, so that no two
// different input sets can produce the same byte stream.
type keyBuilder struct {
	h hash.Hash
}

func newKey(layer string) *keyBuilder {
	k := &keyBuilder{h: sha256.New()}
	k.str("version", keyVersion)
	k.str("layer", layer)
	return k
}

func (k *keyBuilder) bytes(name string, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	k.h.Write(n[:])
	io.WriteString(k.h, name)
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	k.h.Write(n[:])
	k.h.Write(b)
}

func (k *keyBuilder) str(name, v string) { k.bytes(name, []byte(v)) }

// json adds v in encoding/json's form, whose map keys are sorted.
func (k *keyBuilder) json(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only plain data is passed here; a failure is a programming error.
		panic(fmt.Sprintf("layers: encoding %s for a key: %v", name, err))
	}
	k.bytes(name, b)
}

// keyFile is what the key takes of one file of the app: its path, whether
// it is executable or a symlink, and its content or link target. Other
// metadata never ships (layers are written with fixed owners and times).
type keyFile struct {
	kind, rel string // kind: "symlink", "file" or "exec"
	target    string
	sum       [sha256.Size]byte
}

func readKeyFile(ctx context.Context, root, rel string) (keyFile, error) {
	if err := ctx.Err(); err != nil {
		return keyFile{}, err
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if err != nil {
		return keyFile{}, badinput.New(p, "reading: %v", badinput.PathCause(err))
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return keyFile{}, badinput.New(p, "reading link: %v", badinput.PathCause(err))
		}
		return keyFile{kind: "symlink", rel: rel, target: target}, nil
	case !fi.Mode().IsRegular():
		return keyFile{}, badinput.New(p, "not a regular file, directory or symlink; it cannot go into an image")
	}
	_, sum, err := filecache.Sum(p, fi)
	if err != nil {
		return keyFile{}, badinput.New(p, "reading: %v", badinput.PathCause(err))
	}
	f := keyFile{kind: "file", rel: rel, sum: sum}
	if fi.Mode()&0o111 != 0 {
		f.kind = "exec"
	}
	return f, nil
}

func (k *keyBuilder) keyFile(f keyFile) {
	if f.kind == "symlink" {
		k.str("symlink", f.rel)
		k.str("target", f.target)
		return
	}
	k.str(f.kind, f.rel)
	k.bytes("sha256", f.sum[:])
}

// files adds rels with file, in their order, read on every core.
func (k *keyBuilder) files(ctx context.Context, root string, rels []string) error {
	k.json("count", len(rels))
	fs, err := par.Map(ctx, rels, func(rel string) (keyFile, error) { return readKeyFile(ctx, root, rel) })
	if err != nil {
		return err
	}
	for _, f := range fs {
		k.keyFile(f)
	}
	return nil
}

func (k *keyBuilder) sum() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(k.h.Sum(nil))}
}
