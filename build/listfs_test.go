package build

import (
	"context"
	gofs "io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/buildkit/client/llb"
	"github.com/tonistiigi/fsutil"
)

// TestListFS: a listFS walks the same paths, with the same stats, in the
// same order as the dir filtered by FollowPaths, which it replaces, and
// leaves everything else out.
func TestListFS(t *testing.T) {
	dir := t.TempDir()
	all := []string{"a-c", "a/b", "a/b.php", "a.b", "a/z/y.php", "b/.env", "b/c.php", "composer.json", "public/index.php", "public/x/y/z.css", "ünï/ç.php"}
	for i, f := range all {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), os.FileMode(0o644|i%2*0o100)); err != nil {
			t.Fatal(err)
		}
	}
	files := []string{"a-c", "a.b", "a/b.php", "a/z/y.php", "b/c.php", "composer.json", "public/x/y/z.css", "ünï/ç.php"}
	walk := func(fs fsutil.FS, skip string) (paths []string, modes []gofs.FileMode) {
		t.Helper()
		err := fs.Walk(context.Background(), "/", func(p string, e gofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			paths, modes = append(paths, filepath.ToSlash(p)), append(modes, fi.Mode())
			if filepath.ToSlash(p) == skip {
				return filepath.SkipDir
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return paths, modes
	}
	base, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	filtered, err := fsutil.NewFilterFS(base, &fsutil.FilterOpt{FollowPaths: files})
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := newListFS(dir, files)
	if err != nil || !ok {
		t.Fatalf("newListFS: %v, %v", ok, err)
	}
	for _, skip := range []string{"", "a", "public/x"} {
		want, wantModes := walk(filtered, skip)
		got, gotModes := walk(l, skip)
		if !slices.Equal(got, want) || !slices.Equal(gotModes, wantModes) {
			t.Errorf("skipping %q: walked\n%q %v\nwant\n%q %v", skip, got, gotModes, want, wantModes)
		}
	}
	if got, _ := walk(l, ""); slices.Contains(got, "b/.env") {
		t.Error("an unlisted file was walked")
	}

	// A listed symlink: FollowPaths sends its target, so the solve keeps
	// the filtered dir.
	if err := os.Symlink("a/b.php", filepath.Join(dir, "link.php")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := newListFS(dir, append(slices.Clone(files), "link.php")); ok || err != nil {
		t.Errorf("a list with a symlink: ok %v, err %v; want the FollowPaths fallback", ok, err)
	}
	def, err := listLocal([]string{"link.php"}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	locals, err := localsOf(def, dir)
	if err != nil || len(locals) != 1 {
		t.Fatalf("localsOf: %v, %v", locals, err)
	}
	for _, fs := range locals {
		if _, ok := fs.(*listFS); ok {
			t.Error("a list with a symlink is sent as a listFS")
		}
	}
	def, err = llb.Merge([]llb.State{listLocal(files), listLocal(files[:2])}).Marshal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if locals, err = localsOf(def, dir); err != nil || len(locals) != 2 {
		t.Errorf("two lists: %d locals, %v; want 2", len(locals), err)
	}
}
