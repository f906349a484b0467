package detect_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
	"github.com/phpbuild/phpbuild/internal/gittest"
)

// monorepo is a git work tree with the app in apps/shop and its packages
// in packages/, beside files that are no package's.
var monorepo = map[string]string{
	".gitignore":                     "*.log\n",
	"README.md":                      "# monorepo\n",
	"docs/guide.md":                  "guide\n",
	"apps/shop/composer.json":        `{"require": {"acme/a": "*", "acme/b": "*"}, "repositories": [{"type": "path", "url": "../../packages/*"}]}`,
	"apps/shop/composer.lock":        composerLock,
	"apps/shop/public/index.php":     "<?php\n",
	"apps/lib/composer.json":         `{"name": "acme/lib"}`,
	"apps/lib/src/Lib.php":           "<?php\n",
	"packages/README.md":             "a file, not a package\n",
	"packages/a/composer.json":       `{"name": "acme/a"}`,
	"packages/a/src/A.php":           "<?php\n",
	"packages/a/.env":                "SECRET=1\n",
	"packages/a/debug.log":           "ignored\n",
	"packages/a/vendor/x/X.php":      "<?php // the package's own install\n",
	"packages/a/node_modules/m/i.js": "1\n",
	"packages/b/composer.json":       `{"name": "acme/b"}`,
	"packages/b/src/B.php":           "<?php\n",
	"packages/.hidden/composer.json": `{"name": "acme/hidden"}`,
	"packages/docs/notes.md":         "no composer.json: not a package\n",
}

// gitTree writes files, commits them and returns the work tree's top, as
// git names it.
func gitTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := apptest.Write(t, files)
	gittest.InitCommit(t, dir)
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// appFiles lists the files of files under dir, relative to it.
func appFiles(files map[string]string, dir string) []string {
	var out []string
	for f := range files {
		if rel, ok := strings.CutPrefix(f, dir+"/"); ok {
			out = append(out, rel)
		}
	}
	sort.Strings(out)
	return out
}

func TestDetectMonorepoPathRepos(t *testing.T) {
	root := gitTree(t, monorepo)
	// Untracked and not ignored: the build reads it too, and it is a change.
	apptest.Into(t, root, map[string]string{"packages/b/src/New.php": "<?php\n"})
	want := &detect.WorkTree{
		Root:      root,
		App:       "apps/shop",
		PathRepos: []string{"packages/*"},
		Packages:  []string{"packages/a", "packages/b"},
		// Never the packages' vendor/ or node_modules/, nor ignored files;
		// .env files are the layers' to leave out, as in the app.
		Files: []string{"packages/a/.env", "packages/a/composer.json", "packages/a/src/A.php", "packages/b/composer.json", "packages/b/src/B.php", "packages/b/src/New.php"},
		Dirty: []string{"packages/b/src/New.php"},
	}
	app := filepath.Join(root, "apps", "shop")
	for name, a := range map[string]*detect.App{
		"walk":       detectApp(t, app),
		"with files": detectWith(t, app, detect.WithFiles(appFiles(monorepo, "apps/shop"))),
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(want, a.Composer.WorkTree); diff != "" {
				t.Errorf("WorkTree (-want +got):\n%s", diff)
			}
			if len(a.Composer.PathRepos) != 0 {
				t.Errorf("PathRepos = %q, want none inside the app", a.Composer.PathRepos)
			}
		})
	}
}

func TestDetectMonorepoURLs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		url       string
		pathRepos []string // Root-relative; nil: no WorkTree
		packages  []string
		inside    []string
	}{
		{name: "one package", url: "../../packages/a", pathRepos: []string{"packages/a"}, packages: []string{"packages/a"}},
		{name: "braces", url: "../../packages/{a,docs}", pathRepos: []string{"packages/a", "packages/docs"}, packages: []string{"packages/a"}},
		{name: "a sibling of the app", url: "../lib/", pathRepos: []string{"apps/lib"}, packages: []string{"apps/lib"}},
		// The app itself matches and is not its own package.
		{name: "a glob over the app's siblings", url: "../*", pathRepos: []string{"apps/*"}, packages: []string{"apps/lib"}},
		{name: "back into the app", url: "../shop/lib", inside: []string{"lib"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range monorepo {
				files[k] = v
			}
			files["apps/shop/composer.json"] = `{"repositories": [{"type": "path", "url": "` + tc.url + `"}]}`
			root := gitTree(t, files)
			c := detectApp(t, filepath.Join(root, "apps", "shop")).Composer
			if diff := cmp.Diff(tc.inside, c.PathRepos); diff != "" {
				t.Errorf("PathRepos (-want +got):\n%s", diff)
			}
			if tc.pathRepos == nil {
				if c.WorkTree != nil {
					t.Errorf("WorkTree = %+v, want none", c.WorkTree)
				}
				return
			}
			if c.WorkTree == nil {
				t.Fatal("no WorkTree")
			}
			if diff := cmp.Diff(tc.pathRepos, c.WorkTree.PathRepos); diff != "" {
				t.Errorf("WorkTree.PathRepos (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.packages, c.WorkTree.Packages); diff != "" {
				t.Errorf("WorkTree.Packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectMonorepoErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		url     string // {root} is the work tree's top
		noGit   bool
		wantMsg []string
	}{
		{name: "outside the repository", url: "../../../shared/lib", wantMsg: []string{"is outside the git repository", "builds only see the commit's files"}},
		{name: "no git repository", url: "../../packages/a", noGit: true, wantMsg: []string{"outside the app directory", "no git repository", "builds only see the commit's files"}},
		{name: "absolute", url: "{root}/packages/a", wantMsg: []string{"absolute", `as "../../packages/a"`}},
		{name: "no package there", url: "../../packages/docs", wantMsg: []string{"matches no dir holding a composer.json", "builds only see the commit's files"}},
		{name: "ignored package", url: "../../ignored/x", wantMsg: []string{"matches no dir holding a composer.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range monorepo {
				files[k] = v
			}
			files[".gitignore"] += "ignored/\n"
			files["ignored/x/composer.json"] = `{"name": "acme/x"}`
			composerJSON := "{\n    \"repositories\": [\n        {\n            \"type\": \"path\",\n            \"url\": \"{url}\"\n        }\n    ]\n}\n"
			var root string
			if tc.noGit {
				root = apptest.Write(t, files)
			} else {
				root = gitTree(t, files)
			}
			url := strings.ReplaceAll(tc.url, "{root}", filepath.ToSlash(root))
			app := filepath.Join(root, "apps", "shop")
			if err := os.WriteFile(filepath.Join(app, "composer.json"), []byte(strings.Replace(composerJSON, "{url}", url, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			got := detectError(t, app)
			if diff := cmp.Diff(where{filepath.Join(app, "composer.json"), 5, "repositories[0].url"}, whereOf(got)); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(got.Error(), m) {
					t.Errorf("error %q does not contain %q", got, m)
				}
			}
			if strings.Contains(got.Error(), "\n") {
				t.Errorf("error %q is more than one line", got)
			}
		})
	}
}
