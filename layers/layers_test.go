package layers

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
	"github.com/phpbuild/phpbuild/runtimes"
)

// baseApp has an input for every layer: composer with a path repository,
// a node build, Phalcon with Volt views, config settings and app code.
var baseApp = map[string]string{
	"composer.json": `{"require": {"php": ">=8.1 <8.4", "ext-phalcon": "^5.0", "acme/lib": "*"},
		"repositories": [{"type": "path", "url": "packages/lib"}]}`,
	"composer.lock":              `{"packages": [{"name": "acme/lib", "version": "1.0.0", "require": {"php": ">=8.0"}}], "platform": {"php": ">=8.1 <8.4"}}`,
	"packages/lib/composer.json": `{"name": "acme/lib"}`,
	"packages/lib/src/Lib.php":   "<?php class Lib {}\n",
	"package.json":               `{"scripts": {"build": "node build.mjs"}}`,
	"package-lock.json":          `{"lockfileVersion": 3}`,
	"build.mjs":                  "console.log('build')\n",
	"assets/app.js":              "console.log(1)\n",
	"app/views/index.volt":       "{{ hello }}\n",
	"app/config/volt.php":        "<?php function registerVoltExtensions($c) {}\n",
	"public/index.php":           "<?php echo 'hi';\n",
	"public/logo.svg":            "<svg/>\n",
	"src/Page.php":               "<?php class Page {}\n",
	"tests/PageTest.php":         "<?php class PageTest {}\n",
	".env":                       "SECRET=one\n",
	".git/HEAD":                  "ref: refs/heads/main\n",
	"vendor/autoload.php":        "<?php // a developer's local install\n",
	"node_modules/x/index.js":    "module.exports = 1\n",
	"project.toml":               "[volt]\npath = \"compiled\"\nbootstrap = \"app/config/volt.php\"\n\n[php.ini]\nmemory_limit = \"128M\"\n",
}

func TestKeysChangeOnlyWithTheirInputs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		project string            // project.toml of both sides, when not baseApp's
		edit    map[string]string // files to write (empty string: delete)
		chmod   string            // file to make executable
		catalog func(*runtimes.Catalog)
		want    []string // layers whose key must change; all others must not
	}{
		{name: "nothing changes", want: nil},
		{name: "run image base", catalog: func(c *runtimes.Catalog) {
			for i := range c.PHP {
				c.PHP[i].Base += "@sha256:0123"
			}
		}, want: []string{"runtime"}},
		{name: "phalcon version", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[phalcon]\nversion = \"5.9.*\"\n"}, want: []string{"runtime", "volt"}},
		{name: "php minor", edit: map[string]string{
			"composer.json": strings.Replace(baseApp["composer.json"], `">=8.1 <8.4"`, `">=8.1"`, 1),
			"composer.lock": strings.Replace(baseApp["composer.lock"], `">=8.1 <8.4"`, `">=8.1"`, 1),
		}, want: []string{"runtime", "vendor", "autoload", "config"}}, // php.ini goes to /etc/php/<minor>/
		{name: "composer.lock", edit: map[string]string{"composer.lock": strings.Replace(baseApp["composer.lock"], "1.0.0", "1.0.1", 1)}, want: []string{"vendor", "autoload"}},
		{name: "composer.json", edit: map[string]string{"composer.json": strings.Replace(baseApp["composer.json"], `"require"`, `"description": "x", "require"`, 1)}, want: []string{"vendor", "autoload"}},
		{name: "path repository code", edit: map[string]string{"packages/lib/src/Lib.php": "<?php class Lib { const V = 2; }\n"}, want: []string{"vendor", "autoload"}},
		{name: "composer flags", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[build]\nclassmap_authoritative = true\n"}, want: []string{"vendor", "autoload"}},
		{name: "package.json", edit: map[string]string{"package.json": `{"scripts": {"build": "node build.mjs"}, "version": "2.0.0"}`}, want: []string{"assets"}},
		{name: "node lockfile", edit: map[string]string{"package-lock.json": `{"lockfileVersion": 3, "x": 1}`}, want: []string{"assets"}},
		{name: "node version", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[build.assets]\nnode = \"22\"\n"}, want: []string{"assets"}},
		{name: "asset source", edit: map[string]string{"assets/app.js": "console.log(2)\n"}, want: []string{"assets", "app"}},
		{name: "asset sources configured away", project: baseApp["project.toml"] + "[build.assets]\nsources = [\"assets/\"]\n",
			edit: map[string]string{"public/logo.svg": "<svg></svg>\n"}, want: []string{"app"}},
		// Templates ship in the volt layer, with their compiled files.
		{name: "volt template", edit: map[string]string{"app/views/index.volt": "{{ hello|upper }}\n"}, want: []string{"volt", "assets"}},
		{name: "new volt template", edit: map[string]string{"app/views/about.volt": "about\n"}, want: []string{"volt", "assets"}},
		{name: "a service the app registers", edit: map[string]string{"src/Page.php": "<?php\nnamespace App;\nclass Page { function register($di) { $di->setShared('auth', fn () => null); } }\n"}, want: []string{"volt", "app"}},
		{name: "a volt option in the app's PHP", edit: map[string]string{"src/Page.php": "<?php\nnamespace App;\nclass Page { function view($volt) { $volt->setOptions(['prefix' => 'p_']); } }\n"}, want: []string{"volt", "app"}},
		{name: "volt services in project.toml", edit: map[string]string{"project.toml": strings.Replace(baseApp["project.toml"], "[volt]\n", "[volt]\nservices = [\"cart\"]\n", 1)}, want: []string{"volt"}},
		{name: "volt options", edit: map[string]string{"project.toml": strings.Replace(baseApp["project.toml"], "[volt]\n", "[volt]\nseparator = \"_\"\n", 1)}, want: []string{"volt"}},
		{name: "stating a volt default changes nothing", edit: map[string]string{"project.toml": strings.Replace(baseApp["project.toml"], "[volt]\n", "[volt]\nextension = \".php\"\n", 1)}, want: nil},
		{name: "volt bootstrap", edit: map[string]string{"app/config/volt.php": "<?php function registerVoltExtensions($c) { $c->addFilter('x', 'y'); }\n"}, want: []string{"volt", "app"}},
		{name: "php.ini", edit: map[string]string{"project.toml": strings.Replace(baseApp["project.toml"], "128M", "256M", 1)}, want: []string{"config"}},
		{name: "nginx setting", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[nginx]\nclient_max_body_size = \"64m\"\n"}, want: []string{"config"}},
		{name: "health path", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[build]\nhealth_path = \"/up\"\n"}, want: []string{"config"}},
		{name: "php code", edit: map[string]string{"src/Page.php": "<?php class Page { }\n"}, want: []string{"app"}},
		{name: "new php file", edit: map[string]string{"src/Other.php": "<?php class Other {}\n"}, want: []string{"app"}},
		{name: "deleted php file", edit: map[string]string{"tests/PageTest.php": ""}, want: []string{"app"}},
		{name: "executable bit", chmod: "src/Page.php", want: []string{"app"}},
		{name: "exclude tests", edit: map[string]string{"project.toml": baseApp["project.toml"] + "[io.buildpacks]\nexclude = [\"tests/\"]\n"}, want: []string{"app"}},
		{name: "env file is never an input", edit: map[string]string{".env": "SECRET=two\n", ".env.local": "X=1\n"}, want: nil},
		{name: "git, vendor and node_modules are never inputs", edit: map[string]string{
			".git/HEAD": "ref: refs/heads/other\n", "vendor/autoload.php": "<?php // changed\n", "node_modules/x/index.js": "module.exports = 2\n",
		}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range baseApp {
				files[k] = v
			}
			if tc.project != "" {
				files["project.toml"] = tc.project
			}
			before := keysOf(t, files, "", nil)
			files = maps.Clone(files)
			for k, v := range tc.edit {
				if v == "" {
					delete(files, k)
				} else {
					files[k] = v
				}
			}
			after := keysOf(t, files, tc.chmod, tc.catalog)
			var changed []string
			for name, key := range after {
				if before[name] != key {
					changed = append(changed, name)
				}
			}
			sort.Strings(changed)
			want := append([]string{}, tc.want...)
			sort.Strings(want)
			if len(want) == 0 {
				want = nil
			}
			if diff := cmp.Diff(want, changed); diff != "" {
				t.Errorf("changed layer keys (-want +got):\n%s", diff)
			}
		})
	}
}

// keysOf writes files to a fresh dir and returns each layer's key.
func keysOf(t *testing.T, files map[string]string, chmod string, editCatalog func(*runtimes.Catalog)) map[string]string {
	t.Helper()
	dir := apptest.Write(t, files)
	if chmod != "" {
		if err := os.Chmod(filepath.Join(dir, chmod), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	cat, err := runtimes.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if editCatalog != nil {
		editCatalog(cat)
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
	var order []string
	for _, l := range ls {
		k, err := l.Key(context.Background())
		if err != nil {
			t.Fatalf("%s key: %v", l.Name(), err)
		}
		keys[l.Name()] = k.String()
		order = append(order, l.Name())
	}
	if diff := cmp.Diff([]string{"runtime", "vendor", "autoload", "assets", "volt", "config", "app"}, order); diff != "" {
		t.Fatalf("layer order (-want +got):\n%s", diff)
	}
	return keys
}

func TestRuntimeKeyFollowsRunDigest(t *testing.T) {
	a := &Runtime{Base: "b", PHPMinor: "8.2", RunDigest: "sha256:aa"}
	b := &Runtime{Base: "other", PHPMinor: "8.4", RunDigest: "sha256:aa"}
	c := &Runtime{Base: "b", PHPMinor: "8.2", RunDigest: "sha256:bb"}
	ka, _ := a.Key(context.Background())
	kb, _ := b.Key(context.Background())
	kc, _ := c.Key(context.Background())
	if ka != kb {
		t.Errorf("same run digest, different keys: %s vs %s", ka, kb)
	}
	if ka == kc {
		t.Errorf("different run digests, same key %s", ka)
	}
}

func TestAppLayerFiles(t *testing.T) {
	dir := apptest.Write(t, baseApp)
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewApp(app)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"app/config/volt.php", "app/views/index.volt", "assets/app.js", "build.mjs", "public/index.php", "public/logo.svg", "src/Page.php", "tests/PageTest.php"}
	if diff := cmp.Diff(want, l.Files); diff != "" {
		t.Errorf("app layer files (-want +got):\n%s", diff)
	}
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		match    []string
		miss     []string
	}{
		{[]string{"*.md"}, []string{"README.md", "docs/a.md"}, []string{"md", "a.mdx"}},
		{[]string{"tests/"}, []string{"tests/a.php", "tests/x/y.php"}, []string{"src/tests.php", "a/tests.php"}},
		{[]string{"/docs"}, []string{"docs/a.md"}, []string{"src/docs/a.md"}},
		{[]string{"src/**/*.js"}, []string{"src/a/b/c.js", "src/c.js"}, []string{"lib/c.js"}},
		{[]string{"*.log", "!keep.log"}, []string{"a.log", "x/b.log"}, []string{"keep.log"}},
		{nil, nil, []string{"anything"}},
	} {
		t.Run(strings.Join(tc.patterns, ","), func(t *testing.T) {
			s, err := NewSelector(tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.match {
				if !s.Match(f) {
					t.Errorf("%q should match", f)
				}
			}
			for _, f := range tc.miss {
				if s.Match(f) {
					t.Errorf("%q should not match", f)
				}
			}
		})
	}
}

func TestPathRepoGlobs(t *testing.T) {
	for _, tc := range []struct {
		f    string
		dirs []string
		want bool
	}{
		{"packages/foo/src/Foo.php", []string{"packages/*"}, true},
		{"packages/foo", []string{"packages/*"}, false},
		{"packages/foo/Foo.php", []string{"packages/f?o"}, true},
		{"lib/foo/Foo.php", []string{"packages/*"}, false},
		{"packages/lib/a.php", []string{"packages/lib"}, true},
	} {
		if got := inAny(tc.f, tc.dirs); got != tc.want {
			t.Errorf("inAny(%q, %q) = %v, want %v", tc.f, tc.dirs, got, tc.want)
		}
	}
}

// TestPrivateKeysNeverShip: a committed deploy key is left out of the app
// layer and named, whatever the file is called.
func TestPrivateKeysNeverShip(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
	dir := apptest.Write(t, map[string]string{
		"index.php":         "<?php echo 1;\n",
		"deploy/id_rsa":     key,
		"config/server.txt": "notes\n" + strings.Replace(key, "OPENSSH", "RSA", 2),
		"config/cert.pem":   "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	})
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewApp(app)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"config/server.txt", "deploy/id_rsa"}, a.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"config/cert.pem", "index.php"}, a.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
