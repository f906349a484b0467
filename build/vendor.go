package build

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
)

// vendorProducer makes the vendor layer: composer's install of the locked
// packages, plus the composer files, which it installs from.
type vendorProducer struct {
	l     *layers.Vendor
	dir   string // the app dir
	lock  bool   // composer.lock exists
	key   string
	image llb.State
	// platform is the run image's platform for composer on image (see
	// platformConfig), nil on the composer image.
	platform []byte
	// made is the step's output, made once: the app layer's autoloader
	// step reads it too, and both must share its ops.
	made *llb.State
}

func (p *vendorProducer) step() (*llb.State, error) {
	if p.made == nil {
		st := vendorStep(p.image, p.platform, p.l, p.lock, p.key)
		p.made = &st
	}
	return p.made, nil
}

func (*vendorProducer) tarOutput() {}

func (p *vendorProducer) layer(out string, epoch time.Time) (v1.Layer, error) {
	src, err := layers.TreeEntries(p.dir, sourceComposerFiles(p.l.Files), layers.AppPath)
	if err != nil {
		return nil, err
	}
	made, err := stepTarEntries(out, p.dir, p.l.Files)
	if err != nil {
		return nil, err
	}
	return layers.NewTar(overlay(src, made), epoch)
}

func sourceComposerFiles(files []string) []string {
	var out []string
	for _, f := range files {
		if f == "composer.json" || f == "composer.lock" {
			out = append(out, f)
		}
	}
	return out
}

// vendorStep installs the locked packages. The autoloader is left to the
// app step, which has the app's own classes to map.
func vendorStep(img llb.State, platform []byte, v *layers.Vendor, lock bool, key string) llb.State {
	cmd := "install"
	if !lock {
		cmd = "update"
	}
	script := fmt.Sprintf("COMPOSER_MIRROR_PATH_REPOS=1 composer %s --no-dev --prefer-dist --no-autoloader --no-scripts --no-interaction --no-progress", cmd)
	if platform != nil {
		script = withLockedPlatform(platform, script)
	}
	if v.Root != "" {
		return vendorInRepo(img, v, script, "vendor: composer "+cmd, key)
	}
	return runStep(img, source(v.Files, key), script, "vendor: composer "+cmd, "composer")
}

// withLockedPlatform runs composer's install on the CLI image checking the
// run image's platform: composer install checks the lock against the
// lock's platform-overrides, not against config.platform, so the step adds
// platform (the run image's extensions and libraries at their versions,
// the CLI image's others hidden) under the lock's own overrides, which win,
// and puts the lock back as it was after the install.
func withLockedPlatform(platform []byte, script string) string {
	const merge = `$f = "composer.lock"; $l = json_decode(file_get_contents($f), true, 512, JSON_THROW_ON_ERROR); ` +
		`$l["platform-overrides"] = array_merge(json_decode($argv[1], true, 512, JSON_THROW_ON_ERROR), $l["platform-overrides"] ?? []); ` +
		`file_put_contents($f, json_encode($l, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR));`
	return "cp -p composer.lock /tmp/phpbuild-composer.lock\n" +
		"php -r '" + merge + "' '" + string(platform) + "'\n" +
		script + "\n" +
		"cp -p /tmp/phpbuild-composer.lock composer.lock\n"
}

// repoPath is where the vendor step of an app with path repositories
// outside its dir mounts the work tree's files.
const repoPath = "/repo"

// vendorInRepo runs composer on the work tree's files placed as they are in
// the work tree: the app's inputs at repoPath/AppInRoot, the packages at
// repoPath/packages/…. A relative url ("../../packages/*") then reaches
// from the app dir the dirs it reaches in the work tree, whatever the app's
// depth and however far the url climbs, and no dir of the image (/lib,
// /usr) is in the way, as it would be with the app at /app and the packages
// at the root. Nothing else depends on where the app sits here: the step
// dumps no autoloader, and the mirrored packages' install paths are
// relative. The changes under the app dir are returned rooted at "/" = the
// app dir, as runStep's are; composer mirrors the packages into vendor/
// (COMPOSER_MIRROR_PATH_REPOS), so nothing from outside the app dir ships.
func vendorInRepo(img llb.State, v *layers.Vendor, script, name, key string) llb.State {
	paths := slices.Clone(v.Outside)
	for _, f := range v.Files {
		paths = append(paths, path.Join(v.AppInRoot, f))
	}
	sort.Strings(paths)
	// The key covers exactly these files' contents, as for source.
	in := llb.Local("repo", llb.FollowPaths(paths), llb.SharedKeyHint("phpbuild-repo"),
		llb.LocalUniqueID("phpbuild-repo-"+key), llb.WithCustomNamef("repository files (%d)", len(paths)))
	out := runMountAt(img, in, repoPath, path.Join(repoPath, v.AppInRoot), script, name, "composer")
	changes := llb.Diff(in, out, llb.WithCustomName(name+" (changes)"))
	return llb.Scratch().File(llb.Copy(changes, "/"+v.AppInRoot+"/", "/", &llb.CopyInfo{CopyDirContentsOnly: true, CreateDestPath: true}),
		llb.WithCustomName(name+" (changes in the app dir)"))
}
