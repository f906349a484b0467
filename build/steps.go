package build

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
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
	return llb.Local("app", llb.FollowPaths(paths), llb.SharedKeyHint("phpbuild-app"),
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
	opts := []llb.RunOption{sh(script), llb.Dir(dir), llb.WithCustomName(name)}
	for _, e := range stepEnv {
		k, v, _ := strings.Cut(e, "=")
		opts = append(opts, llb.AddEnv(k, v))
	}
	if cacheID != "" {
		opts = append(opts, llb.AddMount("/cache", llb.Scratch(), llb.AsPersistentCacheDir("phpbuild-"+cacheID, llb.CacheMountShared)))
	}
	return img.Run(opts...).AddMount(mount, in)
}

// vendorStep installs the locked packages. The autoloader is left to the
// app step, which has the app's own classes to map.
func vendorStep(img llb.State, v *layers.Vendor, lock bool, key string) llb.State {
	cmd := "install"
	if !lock {
		cmd = "update"
	}
	script := fmt.Sprintf("COMPOSER_MIRROR_PATH_REPOS=1 composer %s --no-dev --prefer-dist --no-autoloader --no-scripts --no-interaction --no-progress", cmd)
	if v.Root != "" {
		return vendorInRepo(img, v, script, "vendor: composer "+cmd, key)
	}
	return runStep(img, source(v.Files, key), script, "vendor: composer "+cmd, "composer")
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

// autoloadStep dumps composer's autoloader over the app's files and the
// vendor dir, then runs the scripts composer runs after an install.
// vendorDir holds the vendor dir at /vendor.
func autoloadStep(img llb.State, appFiles []string, key string, vendorDir llb.State, classmapAuthoritative bool, scripts []string) llb.State {
	in := llb.Merge([]llb.State{source(appFiles, key), vendorDir}, llb.WithCustomName("app files + vendor"))
	script := "composer dump-autoload --no-dev --optimize --no-interaction"
	if classmapAuthoritative {
		script += " --classmap-authoritative"
	}
	for _, s := range scripts {
		script += " && composer run-script --no-dev --no-interaction " + s
	}
	name := "app: composer dump-autoload"
	out := runMount(img, in, script, name, "composer")
	// The autoloader ships whole with the app layer, even where it equals
	// the one in the image vendorDir came from: the vendor layer has none.
	autoloader := llb.Scratch().
		File(llb.Copy(out, "/vendor/autoload.php", "/vendor/autoload.php", &llb.CopyInfo{CreateDestPath: true})).
		File(llb.Copy(out, "/vendor/composer", "/vendor/composer", &llb.CopyInfo{CreateDestPath: true}))
	return llb.Merge([]llb.State{llb.Diff(in, out), autoloader}, llb.WithCustomName(name+" (changes)"))
}

// assetsStep runs the node build. Only its output dirs are kept, never
// node_modules.
func assetsStep(img llb.State, a *layers.Assets, outputs []string, key string) llb.State {
	var install, run string
	switch a.PackageManager {
	case "yarn":
		install, run = "yarn install --frozen-lockfile --non-interactive", "yarn run "
	case "pnpm":
		install, run = "pnpm install --frozen-lockfile", "pnpm run "
	default:
		install, run = "npm ci --no-audit --no-fund", "npm run "
		if !slices.Contains(a.Files, "package-lock.json") && !slices.Contains(a.Files, "npm-shrinkwrap.json") {
			install = "npm install --no-audit --no-fund"
		}
	}
	pm := strings.Fields(install)[0]
	// Detection requires a script named build; a.BuildScript is its command.
	script := fmt.Sprintf("command -v %s >/dev/null || { echo \"phpbuild: the build image has no %s; use npm (package-lock.json)\" >&2; exit 3; }\n%s\n%sbuild",
		pm, pm, install, run)
	changes := runStep(img, source(a.Files, key), script, "assets: "+pm+" run build ("+a.BuildScript+")", "npm")
	ci := &llb.CopyInfo{CopyDirContentsOnly: true, AllowWildcard: true, AllowEmptyWildcard: true, CreateDestPath: true,
		ExcludePatterns: []string{"node_modules", "**/node_modules"}}
	for _, o := range outputs {
		if o != "." {
			ci.IncludePatterns = append(ci.IncludePatterns, o)
		}
	}
	return llb.Scratch().File(llb.Copy(changes, "/", "/", ci), llb.WithCustomName("assets: keep "+strings.Join(outputs, ", ")))
}

// voltStep precompiles the templates at the path the app runs from, so the
// compiled names, which embed it, match run time.
func voltStep(img llb.State, v *layers.Volt, key string) (llb.State, error) {
	pc := &phalcon.Precompile{Options: v.Options, FactoryDefault: v.FactoryDefault, Services: v.Services,
		Extensions: v.Extensions, AppPath: v.AppPath, Templates: v.Templates()}
	files, err := pc.Files()
	if err != nil {
		return llb.State{}, err
	}
	tool := llb.Scratch()
	for _, f := range files {
		tool = tool.File(llb.Mkfile("/"+f.Name, 0o644, f.Data))
	}
	opts := []llb.RunOption{llb.Args(pc.Command()), llb.Dir(v.AppPath),
		llb.WithCustomNamef("volt: compile %d templates", len(pc.Templates)),
		llb.AddMount(phalcon.PrecompilerDir, tool, llb.Readonly)}
	in := source(v.Files, key)
	run := img.Run(opts...)
	out := run.AddMount(v.AppPath, in)
	return llb.Diff(in, out, llb.WithCustomName("volt: compiled templates")), nil
}

// vendorFrom puts an image's vendor dir at /vendor, for the app step when
// the vendor layer is reused from it.
func vendorFrom(ref string) llb.State {
	img := llb.Image(ref, llb.WithCustomName("vendor of "+ref))
	return llb.Scratch().File(llb.Copy(img, path.Join(layers.AppPath, "vendor"), "/vendor", &llb.CopyInfo{CopyDirContentsOnly: false, AllowWildcard: false, CreateDestPath: true}))
}
