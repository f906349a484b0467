package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
)

// A step runs one program of the build in the build image, on exactly the
// files its layer's key covers, and yields what it created or changed under
// the app dir (llb.Diff), rooted at "/" = the app dir.

// source is the app's files, synced from the client. Only the listed
// files travel: .env files and everything outside a layer's inputs never
// reach buildkitd.
// key is the layer key, which covers exactly these files' contents: it is
// the source's unique ID, so that buildkitd never takes files synced for a
// different content as these (see runtimes.contentID).
func source(files []string, key string) llb.State {
	paths := append([]string{}, files...)
	sort.Strings(paths)
	return listLocal(paths, llb.SharedKeyHint("phpbuild-app"),
		llb.LocalUniqueID("phpbuild-"+key), llb.WithCustomNamef("app files (%d)", len(paths)))
}

func sh(script string) llb.RunOption {
	return llb.Args([]string{"/bin/sh", "-ec", script})
}

// stepEnv is set for every step: no prompts, no telemetry, composer as root.
var stepEnv = []string{
	"COMPOSER_ALLOW_SUPERUSER=1",
	"COMPOSER_NO_INTERACTION=1",
	"COMPOSER_CACHE_DIR=/cache/composer",
	"COMPOSER_HOME=/tmp/composer-home",
	"npm_config_cache=/cache/npm",
	"npm_config_update_notifier=false",
	"npm_config_fund=false",
	"npm_config_audit=false",
	"CI=1",
}

// runStep runs script in img with in mounted at the app path and returns
// the mount's changes.
func runStep(img, in llb.State, script, name string, cacheID string) llb.State {
	out := runMount(img, in, script, name, cacheID)
	return llb.Diff(in, out, llb.WithCustomName(name+" (changes)"))
}

// runMount is runStep's mount as the step left it.
func runMount(img, in llb.State, script, name string, cacheID string) llb.State {
	return runMountAt(img, in, layers.AppPath, layers.AppPath, script, name, cacheID)
}

// runMountAt runs script in dir with in mounted at mount.
func runMountAt(img, in llb.State, mount, dir, script, name string, cacheID string) llb.State {
	return stepRun(img, dir, script, name, cacheID).AddMount(mount, in)
}

// stepRun runs script in dir on img with stepEnv and, when cacheID is
// set, the shared cache mount of that name at /cache.
func stepRun(img llb.State, dir, script, name string, cacheID string) llb.ExecState {
	opts := []llb.RunOption{sh(script), llb.Dir(dir), llb.WithCustomName(name)}
	for _, e := range stepEnv {
		k, v, _ := strings.Cut(e, "=")
		opts = append(opts, llb.AddEnv(k, v))
	}
	if cacheID != "" {
		opts = append(opts, llb.AddMount("/cache", llb.Scratch(), llb.AsPersistentCacheDir("phpbuild-"+cacheID, llb.CacheMountShared)))
	}
	return img.Run(opts...)
}

// stepEntries lists what a step created or changed: its exported output
// without the input files it left as they were, and without directories
// that then hold nothing new. Whether overlayfs copied an input up (which
// varies with timestamps the image never shows) must not change a layer.
func stepEntries(outDir, srcDir string, inputs []string) ([]layers.Entry, error) {
	in := map[string]bool{}
	for _, f := range inputs {
		in[f] = true
	}
	made, err := layers.WalkEntries(outDir, layers.AppPath, func(rel string) bool {
		return in[rel] && sameFile(filepath.Join(outDir, rel), filepath.Join(srcDir, rel))
	})
	if err != nil {
		return nil, err
	}
	return pruneDirs(made, srcDir), nil
}

// stepTarEntries is stepEntries for an output exported as the tar file
// out: the same entries, the regular files' bytes held in memory.
func stepTarEntries(out, srcDir string, inputs []string) ([]layers.Entry, error) {
	in := map[string]bool{}
	for _, f := range inputs {
		in[f] = true
	}
	made, err := layers.TarFileEntries(out, layers.AppPath, func(rel string, mode int64, data []byte) bool {
		return in[rel] && sameContent(filepath.Join(srcDir, rel), mode, data)
	})
	if err != nil {
		return nil, err
	}
	return pruneDirs(made, srcDir), nil
}

// sameContent reports whether the regular file p holds data with the same
// executable bits as mode.
func sameContent(p string, mode int64, data []byte) bool {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len(data)) || int64(fi.Mode()&0o111) != mode&0o111 {
		return false
	}
	b, err := os.ReadFile(p)
	return err == nil && bytes.Equal(b, data)
}

// pruneDirs drops the dirs of made that hold nothing new and were in srcDir
// already.
func pruneDirs(made []layers.Entry, srcDir string) []layers.Entry {
	keep := map[string]bool{}
	for _, e := range made {
		if e.Type != tar.TypeDir {
			for d := path.Dir(e.Path); d != "/" && !keep[d]; d = path.Dir(d) {
				keep[d] = true
			}
		}
	}
	return slices.DeleteFunc(made, func(e layers.Entry) bool {
		if e.Type != tar.TypeDir || keep[e.Path] {
			return false
		}
		// An empty dir the step made is output; one that only held
		// unchanged inputs is not.
		rel := strings.TrimPrefix(e.Path, layers.AppPath+"/")
		fi, err := os.Lstat(filepath.Join(srcDir, filepath.FromSlash(rel)))
		return err == nil && fi.IsDir()
	})
}

// sameFile reports whether a and b are both regular files with the same
// bytes, or symlinks to the same target.
func sameFile(a, b string) bool {
	fa, errA := os.Lstat(a)
	fb, errB := os.Lstat(b)
	if errA != nil || errB != nil || fa.Mode().Type() != fb.Mode().Type() {
		return false
	}
	if fa.Mode()&os.ModeSymlink != 0 {
		ta, _ := os.Readlink(a)
		tb, _ := os.Readlink(b)
		return ta == tb
	}
	if !fa.Mode().IsRegular() || fa.Size() != fb.Size() || fa.Mode()&0o111 != fb.Mode()&0o111 {
		return false
	}
	ba, errA := os.ReadFile(a)
	bb, errB := os.ReadFile(b)
	return errA == nil && errB == nil && bytes.Equal(ba, bb)
}

// overlay returns base with top's entries replacing those at the same
// path, as a later layer would.
func overlay(base, top []layers.Entry) []layers.Entry {
	at := map[string]int{}
	out := slices.Clone(base)
	for i, e := range out {
		at[path.Clean(e.Path)] = i
	}
	for _, e := range top {
		if i, ok := at[path.Clean(e.Path)]; ok {
			out[i] = e
			continue
		}
		at[path.Clean(e.Path)] = len(out)
		out = append(out, e)
	}
	return out
}
