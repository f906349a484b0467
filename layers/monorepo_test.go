package layers

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
	"github.com/phpbuild/phpbuild/internal/gittest"
	"github.com/phpbuild/phpbuild/runtimes"
)

// monorepo holds the app in apps/shop and its composer packages in
// packages/, beside files that are no input of the app.
var monorepo = map[string]string{
	".gitignore": "*.log\n",
	"README.md":  "# monorepo\n",
	"apps/shop/composer.json": `{"require": {"php": ">=8.1 <8.4", "acme/a": "*"},
		"repositories": [{"type": "path", "url": "../../packages/*"}]}`,
	"apps/shop/composer.lock":         `{"packages": [{"name": "acme/a", "version": "1.0.0"}], "platform": {"php": ">=8.1 <8.4"}}`,
	"apps/shop/public/index.php":      "<?php echo 'hi';\n",
	"apps/shop/src/Page.php":          "<?php class Page {}\n",
	"apps/admin/public/index.php":     "<?php echo 'admin';\n",
	"packages/a/composer.json":        `{"name": "acme/a"}`,
	"packages/a/src/A.php":            "<?php class A {}\n",
	"packages/a/.env":                 "SECRET=one\n",
	"packages/a/vendor/x/X.php":       "<?php // the package's own install\n",
	"packages/a/node_modules/m/i.js":  "module.exports = 1\n",
	"packages/notes/todo.md":          "no composer.json: not a package\n",
	"packages/.hidden/composer.json":  `{"name": "acme/hidden"}`,
	"packages/.hidden/src/Hidden.php": "<?php\n",
}

func TestMonorepoVendorKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit map[string]string
		want []string // sorted: layers whose key must change; all others must not
	}{
		{name: "nothing changes"},
		{name: "package code", edit: map[string]string{"packages/a/src/A.php": "<?php class A { const V = 2; }\n"}, want: []string{"autoload", "vendor"}},
		{name: "new package file", edit: map[string]string{"packages/a/src/B.php": "<?php class B {}\n"}, want: []string{"autoload", "vendor"}},
		{name: "new package", edit: map[string]string{"packages/b/composer.json": `{"name": "acme/b"}`}, want: []string{"autoload", "vendor"}},
		{name: "elsewhere in the repository", edit: map[string]string{
			"README.md": "# changed\n", "apps/admin/public/index.php": "<?php echo 'v2';\n", "packages/notes/todo.md": "changed\n",
			"packages/.hidden/src/Hidden.php": "<?php // changed\n", "docs/new.md": "new\n",
		}},
		{name: "never inputs", edit: map[string]string{
			"packages/a/.env": "SECRET=two\n", "packages/a/.env.local": "X=1\n", "packages/a/vendor/x/X.php": "<?php // changed\n",
			"packages/a/node_modules/m/i.js": "module.exports = 2\n", "packages/a/debug.log": "ignored\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := gitRepo(t, monorepo)
			before := keysIn(t, filepath.Join(root, "apps", "shop"))
			apptest.Into(t, root, tc.edit)
			gittest.CommitAll(t, root, "edit", "")
			after := keysIn(t, filepath.Join(root, "apps", "shop"))
			var changed []string
			for name, key := range after {
				if before[name] != key {
					changed = append(changed, name)
				}
			}
			sort.Strings(changed)
			if diff := cmp.Diff(tc.want, changed); diff != "" {
				t.Errorf("changed layer keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMonorepoVendorKeyAnywhere: the key names files from the work tree's
// top, so a clone elsewhere has the same keys.
func TestMonorepoVendorKeyAnywhere(t *testing.T) {
	root := gitRepo(t, monorepo)
	clone := filepath.Join(t.TempDir(), "deeper", "clone")
	if out, err := exec.Command("git", "clone", "-q", root, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	a, b := keysIn(t, filepath.Join(root, "apps", "shop")), keysIn(t, filepath.Join(clone, "apps", "shop"))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("keys of a clone (-first +clone):\n%s", diff)
	}
}

func TestMonorepoVendorFiles(t *testing.T) {
	root := gitRepo(t, monorepo)
	app, err := detect.Detect(context.Background(), filepath.Join(root, "apps", "shop"))
	if err != nil {
		t.Fatal(err)
	}
	v := NewVendor(app, &runtimes.Runtime{PHPMinor: "8.3"})
	if diff := cmp.Diff([]string{"composer.json", "composer.lock"}, v.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"packages/a/composer.json", "packages/a/src/A.php"}, v.Outside); diff != "" {
		t.Errorf("Outside (-want +got):\n%s", diff)
	}
	if v.AppInRoot != "apps/shop" || v.Root == "" {
		t.Errorf("Root %q, AppInRoot %q", v.Root, v.AppInRoot)
	}
	a, err := NewApp(app)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"public/index.php", "src/Page.php"}, a.Files); diff != "" {
		t.Errorf("app layer files (-want +got):\n%s", diff)
	}
}

// gitRepo writes files into a new git repository with one commit.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := apptest.Write(t, files)
	gittest.InitCommit(t, dir)
	return dir
}

// keysIn detects the app in dir and returns each layer's key.
func keysIn(t *testing.T, dir string) map[string]string {
	t.Helper()
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	cat, err := runtimes.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtimes.Resolve(app, cat)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	ls, err := ForApp(app, rt)
	if err != nil {
		t.Fatalf("layers: %v", err)
	}
	keys := map[string]string{}
	for _, l := range ls {
		k, err := l.Key(context.Background())
		if err != nil {
			t.Fatalf("%s key: %v", l.Name(), err)
		}
		keys[l.Name()] = k.String()
	}
	return keys
}
