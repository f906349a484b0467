package detect_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
)

// A composer.json and composer.lock pair that asks for nothing special, so
// cases about other facts get no composer warnings.
const (
	composerJSON = "{\n    \"require\": {\n        \"php\": \"^8.2\"\n    }\n}\n"
	composerLock = "{\n    \"packages\": [],\n    \"platform\": {\n        \"php\": \"^8.2\"\n    }\n}\n"
)

// facts is what a case checks of an App, leaving out what cases need not
// repeat (Dir, Files, the parsed descriptor).
type facts struct {
	WebRoot   string
	Phalcon   detect.Phalcon
	Volt      []string
	Node      *detect.Node
	Writable  []string
	EnvFiles  []string
	PathRepos []string
	Warnings  []string
}

func factsOf(a *detect.App) facts {
	f := facts{
		WebRoot:  a.WebRoot,
		Phalcon:  a.Phalcon,
		Volt:     a.Volt.Dirs,
		Node:     a.Node,
		Writable: a.Writable,
		EnvFiles: a.EnvFiles,
		Warnings: a.Warnings,
	}
	if a.Composer != nil {
		f.PathRepos = a.Composer.PathRepos
	}
	return f
}

func TestDetectTestdataApps(t *testing.T) {
	for _, tc := range []struct {
		app  string
		want facts
	}{
		{
			app: "plain",
			want: facts{
				WebRoot:   "public",
				Volt:      []string{},
				Writable:  []string{"var"},
				EnvFiles:  []string{".env.example"},
				PathRepos: []string{"packages/greeter"},
				Warnings:  []string{},
			},
		},
		{
			app: "assets",
			want: facts{
				WebRoot:  "public",
				Volt:     []string{},
				Node:     &detect.Node{PackageManager: "npm", Lockfile: "package-lock.json", BuildScript: "node tools/build.mjs"},
				Writable: []string{},
				EnvFiles: []string{},
				Warnings: []string{},
			},
		},
		{
			app: "phalcon",
			want: facts{
				WebRoot:  "public",
				Phalcon:  detect.Phalcon{Used: true, Reason: "composer.json require.ext-phalcon"},
				Volt:     []string{"app/views/index", "app/views/layouts", "app/views/partials"},
				Writable: []string{},
				EnvFiles: []string{},
				Warnings: []string{},
			},
		},
		{
			app: "bare",
			want: facts{
				WebRoot:  ".",
				Volt:     []string{},
				Writable: []string{},
				EnvFiles: []string{},
				Warnings: []string{},
			},
		},
	} {
		t.Run(tc.app, func(t *testing.T) {
			a := detectApp(t, filepath.Join("..", "testdata", "apps", tc.app))
			if diff := cmp.Diff(tc.want, factsOf(a)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectTestdataProject(t *testing.T) {
	a := detectApp(t, filepath.Join("..", "testdata", "apps", "phalcon"))
	if got, want := a.Project.Path(), filepath.Join("..", "testdata", "apps", "phalcon", "project.toml"); got != want {
		t.Errorf("Project.Path() = %q, want %q", got, want)
	}
	if got, want := a.Project.Volt.Separator, "_"; got != want {
		t.Errorf("volt.separator = %q, want %q", got, want)
	}
	if a.Composer == nil || a.Composer.Lock == nil {
		t.Fatalf("Composer = %+v, want composer.json and composer.lock read", a.Composer)
	}
	if diff := cmp.Diff(map[string]string{"php": ">=8.1 <8.4", "ext-phalcon": "^5.0", "ext-mbstring": "*"}, a.Composer.Lock.Platform); diff != "" {
		t.Errorf("lock platform (-want +got):\n%s", diff)
	}
}

func TestDetectWebRoot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		want     string
		wantWarn string // one of webRootWarnings; "" for neither
	}{
		{"public/index.php", map[string]string{"public/index.php": "<?php\n"}, "public", ""},
		{"web/app.php", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "web/app.php": "<?php\n"}, "web", ""},
		{"web/index.php", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "web/index.php": "<?php\n"}, "web", ""},
		{"index.php at the root", map[string]string{"index.php": "<?php\n"}, ".", ""},
		{"public wins over the root", map[string]string{"index.php": "<?php\n", "public/index.php": "<?php\n"}, "public", ""},
		{"no front controller, public dir", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "public/app.css": ""}, "public", "no front controller"},
		{"no front controller, no public dir", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "src/App.php": "<?php\n"}, ".", "no front controller"},
		{"no front controller, empty public dir", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "public/": ""}, ".", "no front controller"},
		{"symlinked public/", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "releases/1/index.php": "<?php\n", "public": "->releases/1"}, "public", ""},
		{
			"one level down",
			map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "api/public/index.php": "<?php\n", "api/src/Kernel.php": "<?php\n", "docs/public/logo.png": ""},
			"api/public", "as the front controller",
		},
		{"public/ wins over one level down", map[string]string{"public/index.php": "<?php\n", "api/public/index.php": "<?php\n"}, "public", ""},
		{"the root wins over one level down", map[string]string{"index.php": "<?php\n", "api/public/index.php": "<?php\n", "admin/public/index.php": "<?php\n"}, ".", ""},
		{"two levels down is not looked at", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "apps/api/public/index.php": "<?php\n"}, ".", "no front controller"},
		{"one level down under vendor/ is not looked at", map[string]string{"composer.json": composerJSON, "composer.lock": composerLock, "vendor/public/index.php": "<?php\n"}, ".", "no front controller"},
		{
			"project.toml override",
			map[string]string{"public/index.php": "<?php\n", "htdocs/index.php": "<?php\n", "project.toml": "[build]\nweb_root = \"htdocs\"\n"},
			"htdocs", "",
		},
		{
			"project.toml override with a trailing slash",
			map[string]string{"index.php": "<?php\n", "site/www/index.php": "<?php\n", "project.toml": "[build]\nweb_root = \"site/www/\"\n"},
			"site/www", "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := detectApp(t, writeApp(t, tc.files))
			if a.WebRoot != tc.want {
				t.Errorf("WebRoot = %q, want %q", a.WebRoot, tc.want)
			}
			for _, w := range webRootWarnings {
				checkWarning(t, a.Warnings, w, w == tc.wantWarn)
			}
		})
	}
}

// webRootWarnings are parts of the two warnings a guessed web root gets.
var webRootWarnings = []string{"no front controller", "as the front controller"}

// An app one level down is used, saying so; of several, none is guessed.
func TestDetectWebRootMonorepo(t *testing.T) {
	base := map[string]string{
		"composer.json":          composerJSON,
		"composer.lock":          composerLock,
		"api/public/index.php":   "<?php\n",
		"api/src/Controller.php": "<?php\n",
	}
	with := func(extra map[string]string) map[string]string {
		files := map[string]string{}
		for _, m := range []map[string]string{base, extra} {
			for k, v := range m {
				files[k] = v
			}
		}
		return files
	}

	t.Run("one", func(t *testing.T) {
		a := detectApp(t, writeApp(t, base))
		if a.WebRoot != "api/public" {
			t.Errorf("WebRoot = %q, want api/public", a.WebRoot)
		}
		if diff := cmp.Diff([]string{"using api/public/index.php as the front controller; set build.web_root to choose"}, a.Warnings); diff != "" {
			t.Errorf("Warnings (-want +got):\n%s", diff)
		}
	})
	t.Run("two", func(t *testing.T) {
		dir := writeApp(t, with(map[string]string{"admin/public/index.php": "<?php\n", "admin/public/app.css": ""}))
		got := detectError(t, dir)
		if diff := cmp.Diff(where{File: dir}, whereOf(got)); diff != "" {
			t.Errorf("error %q: (-want +got):\n%s", got, diff)
		}
		for _, part := range []string{"admin/public/index.php, api/public/index.php", "set build.web_root"} {
			if !strings.Contains(got.Error(), part) {
				t.Errorf("error %q does not contain %q", got, part)
			}
		}
	})
	t.Run("two, web_root set", func(t *testing.T) {
		a := detectApp(t, writeApp(t, with(map[string]string{"admin/public/index.php": "<?php\n", "project.toml": "[build]\nweb_root = \"admin/public\"\n"})))
		if a.WebRoot != "admin/public" {
			t.Errorf("WebRoot = %q, want admin/public", a.WebRoot)
		}
		for _, w := range webRootWarnings {
			checkWarning(t, a.Warnings, w, false)
		}
	})
}

func TestDetectWebRootErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"missing dir", map[string]string{"index.php": "<?php\n", "project.toml": "[php]\nversion = \"^8.2\"\n\n[build]\nweb_root = \"htdocs\"\n"}},
		{"a file", map[string]string{"index.php": "<?php\n", "htdocs": "", "project.toml": "[php]\nversion = \"^8.2\"\n\n[build]\nweb_root = \"htdocs\"\n"}},
		{"an empty dir", map[string]string{"index.php": "<?php\n", "htdocs/": "", "project.toml": "[php]\nversion = \"^8.2\"\n\n[build]\nweb_root = \"htdocs\"\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			got := detectError(t, dir)
			want := where{filepath.Join(dir, "project.toml"), 5, "build.web_root"}
			if diff := cmp.Diff(want, whereOf(got)); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), `"htdocs" is not a directory`) {
				t.Errorf("error %q does not say htdocs is not a directory", got)
			}
		})
	}
}

func TestDetectPhalcon(t *testing.T) {
	const controller = "<?php\n\nuse Phalcon\\Mvc\\Controller;\n\nclass IndexController extends Controller {}\n"
	lockWith := func(packages string) string {
		return "{\n    \"packages\": [" + packages + "],\n    \"platform\": []\n}\n"
	}
	for _, tc := range []struct {
		name     string
		files    map[string]string
		want     detect.Phalcon
		wantWarn string // a part of a warning; "" when none may mention Phalcon
		bug      string
	}{
		{
			name:  "ext-phalcon in composer.json",
			files: map[string]string{"public/index.php": "<?php\n", "composer.json": `{"require": {"php": "^8.1", "ext-phalcon": "^5.0"}}`, "composer.lock": lockWith("")},
			want:  detect.Phalcon{Used: true, Reason: "composer.json require.ext-phalcon"},
		},
		{
			name:  "ext-phalcon in composer.json, upper case",
			files: map[string]string{"public/index.php": "<?php\n", "composer.json": `{"require": {"EXT-Phalcon": "*"}}`},
			want:  detect.Phalcon{Used: true, Reason: "composer.json require.ext-phalcon"},
		},
		{
			name:  "ext-phalcon in composer.lock platform",
			files: map[string]string{"public/index.php": "<?php\n", "composer.json": composerJSON, "composer.lock": `{"packages": [], "platform": {"php": "^8.1", "ext-phalcon": "^5.0"}}`},
			want:  detect.Phalcon{Used: true, Reason: "composer.lock platform.ext-phalcon"},
		},
		{
			name: "ext-phalcon required by a locked package",
			files: map[string]string{
				"public/index.php": "<?php\n",
				"composer.json":    `{"require": {"acme/phalcon-kit": "^1.0"}}`,
				"composer.lock":    lockWith(`{"name": "acme/util", "version": "1.0.0"}, {"name": "acme/phalcon-kit", "version": "1.2.0", "require": {"php": ">=8.1", "ext-phalcon": "^5.0"}}`),
			},
			want: detect.Phalcon{Used: true, Reason: "composer.lock: acme/phalcon-kit requires ext-phalcon"},
		},
		{
			name: "ext-phalcon required by a dev package only",
			files: map[string]string{
				"public/index.php": "<?php\n",
				"composer.json":    composerJSON,
				"composer.lock":    `{"packages": [], "packages-dev": [{"name": "acme/phalcon-stubs", "version": "1.0.0", "require": {"ext-phalcon": "*"}}], "platform": []}`,
			},
		},
		{
			name:     "use in a PHP file",
			files:    map[string]string{"public/index.php": "<?php\n", "composer.json": composerJSON, "composer.lock": composerLock, "src/Controllers/IndexController.php": controller},
			want:     detect.Phalcon{Used: true, Reason: "src/Controllers/IndexController.php:3 uses the Phalcon\\ namespace"},
			wantWarn: "does not require ext-phalcon",
		},
		{
			name:  "fully qualified name in an app without composer",
			files: map[string]string{"index.php": "<?php\n$di = new \\Phalcon\\Di\\FactoryDefault();\n"},
			want:  detect.Phalcon{Used: true, Reason: "index.php:2 uses the Phalcon\\ namespace"},
		},
		{
			name: "use in a PHP file with phalcon/phalcon locked",
			files: map[string]string{
				"public/index.php":        "<?php\n",
				"composer.json":           `{"require": {"phalcon/phalcon": "^6.0"}}`,
				"composer.lock":           lockWith(`{"name": "phalcon/phalcon", "version": "6.0.0", "require": {"php": ">=8.1"}}`),
				"src/IndexController.php": controller,
			},
			wantWarn: "served by the locked PHP package phalcon/phalcon",
		},
		{
			name: "use in a PHP file with a package providing ext-phalcon",
			files: map[string]string{
				"public/index.php":        "<?php\n",
				"composer.json":           `{"require": {"acme/phalcon-shim": "^1.0"}}`,
				"composer.lock":           lockWith(`{"name": "acme/phalcon-shim", "version": "1.0.0", "provide": {"ext-phalcon": "5.0.0"}}`),
				"src/IndexController.php": controller,
			},
			wantWarn: "acme/phalcon-shim",
		},
		{
			name: "comments only",
			files: map[string]string{
				"index.php": "<?php\n// Phalcon\\Mvc\\Application would be nice\n# Phalcon\\Di too\n/**\n * @see Phalcon\\Mvc\\Controller\n */\n",
			},
		},
		{
			name:  "one-line block comment",
			files: map[string]string{"index.php": "<?php\n/* Ported from Phalcon\\Mvc\\Micro */\n"},
			bug:   "detect/detect.go firstPhalconUse skips lines starting with //, # and * but not /*, so `/* Ported from Phalcon\\Mvc\\Micro */` counts as a use (Used: true, index.php:2)",
		},
		{
			name:  "namespace that ends in Phalcon",
			files: map[string]string{"index.php": "<?php\nuse Acme\\Phalcon\\Bridge;\nuse MyPhalcon\\Thing;\n"},
		},
		{
			name:  "Phalcon in a file that is not PHP",
			files: map[string]string{"index.php": "<?php\n", "README.md": "use Phalcon\\Mvc\\Controller;\n"},
		},
		{
			name:  "Phalcon in vendor",
			files: map[string]string{"index.php": "<?php\n", "vendor/acme/x/src/X.php": controller},
		},
		{
			name:     "volt templates without Phalcon",
			files:    map[string]string{"index.php": "<?php\n", "views/index.volt": "{{ x }}\n"},
			wantWarn: "no use of Phalcon",
		},
		{
			name:  "project.toml phalcon.version",
			files: map[string]string{"index.php": "<?php\n", "project.toml": "[phalcon]\nversion = \"^5.9\"\n"},
			want:  detect.Phalcon{Used: true, Reason: "project.toml phalcon.version"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Logf("regression test for a fixed bug: %s", tc.bug)
			}
			a := detectApp(t, writeApp(t, tc.files))
			if diff := cmp.Diff(tc.want, a.Phalcon); diff != "" {
				t.Errorf("Phalcon (-want +got):\n%s", diff)
			}
			if tc.wantWarn != "" {
				checkWarning(t, a.Warnings, tc.wantWarn, true)
			} else {
				checkWarning(t, a.Warnings, "Phalcon", false)
			}
		})
	}
}

func TestDetectNode(t *testing.T) {
	const pkg = "{\n  \"name\": \"x\",\n  \"scripts\": {\"build\": \"vite build\"}\n}\n"
	app := func(extra map[string]string) map[string]string {
		files := map[string]string{"public/index.php": "<?php\n"}
		for k, v := range extra {
			files[k] = v
		}
		return files
	}
	for _, tc := range []struct {
		name     string
		files    map[string]string
		want     *detect.Node
		wantWarn string
	}{
		{"no package.json", app(nil), nil, ""},
		{"package-lock.json", app(map[string]string{"package.json": pkg, "package-lock.json": "{}"}), &detect.Node{PackageManager: "npm", Lockfile: "package-lock.json", BuildScript: "vite build"}, ""},
		{"npm-shrinkwrap.json", app(map[string]string{"package.json": pkg, "npm-shrinkwrap.json": "{}"}), &detect.Node{PackageManager: "npm", Lockfile: "npm-shrinkwrap.json", BuildScript: "vite build"}, ""},
		{"pnpm-lock.yaml", app(map[string]string{"package.json": pkg, "pnpm-lock.yaml": "lockfileVersion: '9.0'\n"}), &detect.Node{PackageManager: "pnpm", Lockfile: "pnpm-lock.yaml", BuildScript: "vite build"}, ""},
		{"yarn.lock", app(map[string]string{"package.json": pkg, "yarn.lock": "# yarn lockfile v1\n"}), &detect.Node{PackageManager: "yarn", Lockfile: "yarn.lock", BuildScript: "vite build"}, ""},
		{"no lockfile", app(map[string]string{"package.json": pkg}), &detect.Node{PackageManager: "npm", BuildScript: "vite build"}, "no lockfile"},
		{
			"packageManager overrides the lockfile",
			app(map[string]string{"package.json": "{\"packageManager\": \"pnpm@9.1.0\", \"scripts\": {\"build\": \"vite build\"}}", "yarn.lock": ""}),
			&detect.Node{PackageManager: "pnpm", Lockfile: "yarn.lock", BuildScript: "vite build"}, "",
		},
		{
			"packageManager without a lockfile",
			app(map[string]string{"package.json": "{\"packageManager\": \"yarn\", \"scripts\": {\"build\": \"yarn build:prod\"}}"}),
			&detect.Node{PackageManager: "yarn", BuildScript: "yarn build:prod"}, "no lockfile",
		},
		{"no build script", app(map[string]string{"package.json": "{\"scripts\": {\"dev\": \"vite\"}}", "package-lock.json": "{}"}), nil, `no "build" script`},
		{"no scripts", app(map[string]string{"package.json": "{\"name\": \"x\"}"}), nil, `no "build" script`},
		{"scripts as []", app(map[string]string{"package.json": "{\"scripts\": []}"}), nil, `no "build" script`},
		{"package.json under node_modules only", app(map[string]string{"node_modules/x/package.json": pkg}), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := detectApp(t, writeApp(t, tc.files))
			if diff := cmp.Diff(tc.want, a.Node); diff != "" {
				t.Errorf("Node (-want +got):\n%s", diff)
			}
			for _, w := range []string{"no lockfile", `no "build" script`} {
				checkWarning(t, a.Warnings, w, w == tc.wantWarn)
			}
		})
	}
}

func TestDetectNodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pkg     string
		want    where // File is relative to the app dir
		wantMsg string
	}{
		{
			"unknown packageManager",
			"{\n  \"name\": \"x\",\n  \"scripts\": {\"build\": \"bun run build\"},\n  \"packageManager\": \"bun@1.1.0\"\n}\n",
			where{"package.json", 4, "packageManager"}, `"bun@1.1.0": want npm, yarn or pnpm`,
		},
		{
			"packageManager not a string",
			"{\n  \"scripts\": {\"build\": \"x\"},\n  \"packageManager\": 9\n}\n",
			where{"package.json", 3, "packageManager"}, "want a string",
		},
		{
			"build script not a string",
			"{\n  \"scripts\": {\n    \"build\": [\"vite\", \"build\"]\n  }\n}\n",
			where{"package.json", 3, "scripts.build"}, "want a string",
		},
		{
			"invalid JSON",
			"{\n  \"scripts\": {\n    \"build\": \"vite build\",\n  }\n}\n",
			where{"package.json", 4, ""}, "invalid JSON",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, map[string]string{"index.php": "<?php\n", "package.json": tc.pkg})
			got := detectError(t, dir)
			want := tc.want
			want.File = filepath.Join(dir, want.File)
			if diff := cmp.Diff(want, whereOf(got)); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", got, tc.wantMsg)
			}
		})
	}
}

func TestDetectEnvFiles(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"public/index.php":              "<?php\n",
		".env":                          "A=1\n",
		".env.local":                    "A=2\n",
		".env.example":                  "A=\n",
		"config/.env.production":        "A=3\n",
		"deploy/k8s/overlays/prod/.env": "A=4\n",
		".envrc":                        "use nix\n",
		"env.example":                   "",
		"docs/dot.env":                  "",
		"vendor/.env":                   "",
		"vendor/acme/pkg/.env.test":     "",
		"node_modules/dotenv/.env":      "",
		".git/.env":                     "",
	})
	a := detectApp(t, dir)
	want := []string{".env", ".env.example", ".env.local", "config/.env.production", "deploy/k8s/overlays/prod/.env"}
	if diff := cmp.Diff(want, a.EnvFiles); diff != "" {
		t.Errorf("EnvFiles (-want +got):\n%s", diff)
	}
	for _, f := range a.Files {
		for _, skipped := range []string{".git/", "vendor/", "node_modules/"} {
			if strings.HasPrefix(f, skipped) {
				t.Errorf("Files lists %s, which is under %s", f, skipped)
			}
		}
	}
}

func TestDetectWritable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"none", map[string]string{"index.php": "<?php\n"}, []string{}},
		{
			"every convention",
			map[string]string{"index.php": "<?php\n", "var/.gitkeep": "", "storage/logs/.gitkeep": "", "cache/.gitignore": "*\n", "app/cache/.gitkeep": "", "writable/README": ""},
			[]string{"app/cache", "cache", "storage", "var", "writable"},
		},
		{
			// Git keeps no empty dir: a clone of the commit has none.
			"empty dirs do not count",
			map[string]string{"index.php": "<?php\n", "var/cache/": "", "storage/": "", "cache/": ""},
			[]string{},
		},
		{
			"files and other dirs are not conventions",
			map[string]string{"index.php": "<?php\n", "cache": "not a dir", "tmp/x": "", "public/var/x": "", "app/storage/x": ""},
			[]string{},
		},
		{
			"project additions",
			map[string]string{"index.php": "<?php\n", "var/.gitkeep": "", "project.toml": "[build]\nwritable = [\"public/uploads/\", \"var\", \"data/sessions\"]\n"},
			[]string{"data/sessions", "public/uploads", "var"},
		},
		{
			"Symfony: var/ kept by a .gitkeep",
			map[string]string{"public/index.php": "<?php\n", "var/cache/.gitkeep": "", "var/log/.gitkeep": "", "src/Kernel.php": "<?php\n"},
			[]string{"var"},
		},
		{
			"Laravel: storage/ kept by .gitignore files",
			map[string]string{
				"public/index.php": "<?php\n", "artisan": "#!/usr/bin/env php\n",
				"storage/app/.gitignore": "*\n!.gitignore\n", "storage/framework/cache/.gitignore": "*\n!.gitignore\n",
				"storage/framework/views/.gitignore": "*\n!.gitignore\n", "storage/logs/.gitignore": "*\n!.gitignore\n",
				"bootstrap/cache/.gitignore": "*\n!.gitignore\n",
			},
			[]string{"storage"},
		},
		{
			"detect_writable = false keeps only the project's list",
			map[string]string{"index.php": "<?php\n", "var/.gitkeep": "", "storage/logs/.gitkeep": "", "project.toml": "[build]\ndetect_writable = false\nwritable = [\"var/sessions\"]\n"},
			[]string{"var/sessions"},
		},
		{
			"detect_writable = false with no list: nothing is writable",
			map[string]string{"index.php": "<?php\n", "var/.gitkeep": "", "project.toml": "[build]\ndetect_writable = false\n"},
			[]string{},
		},
		{
			"detect_writable = true is the default",
			map[string]string{"index.php": "<?php\n", "var/.gitkeep": "", "project.toml": "[build]\ndetect_writable = true\nwritable = [\"uploads\"]\n"},
			[]string{"uploads", "var"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := detectApp(t, writeApp(t, tc.files))
			if diff := cmp.Diff(tc.want, a.Writable); diff != "" {
				t.Errorf("Writable (-want +got):\n%s", diff)
			}
		})
	}
}

// A writable dir is the app user's and is often mounted over at run time:
// PHP shipped in it is named.
func TestDetectWritablePHP(t *testing.T) {
	const warning = "var holds tracked PHP (var/x.php): the app user could rewrite code there, and a tmpfs or volume over it hides it at run time"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // the warnings that mention tracked PHP
	}{
		{"none", map[string]string{"index.php": "<?php\n", "var/cache/.gitkeep": "", "var/data.json": "{}"}, nil},
		{"detected dir", map[string]string{"index.php": "<?php\n", "var/x.php": "<?php\n", "var/y.php": "<?php\n", "var/cache/.gitkeep": ""}, []string{warning}},
		{
			"declared dir",
			map[string]string{"public/index.php": "<?php\n", "public/uploads/shell.php": "<?php\n", "project.toml": "[build]\nwritable = [\"public/uploads\"]\n"},
			[]string{"public/uploads holds tracked PHP (public/uploads/shell.php): the app user could rewrite code there, and a tmpfs or volume over it hides it at run time"},
		},
		{"PHP beside the dir, not in it", map[string]string{"index.php": "<?php\n", "var.php": "<?php\n", "var-old/x.php": "<?php\n", "var/.gitkeep": ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := detectApp(t, writeApp(t, tc.files))
			var got []string
			for _, w := range a.Warnings {
				if strings.Contains(w, "holds tracked PHP") {
					got = append(got, w)
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectVolt(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"none", map[string]string{"index.php": "<?php\n"}, []string{}},
		{
			"every dir holding templates",
			map[string]string{"index.php": "<?php\n", "app/views/index.volt": "", "app/views/a/b.volt": "", "app/views/a/c.volt": "", "app/views/b/x.phtml": ""},
			[]string{"app/views", "app/views/a"},
		},
		{
			"project.toml dirs",
			map[string]string{"index.php": "<?php\n", "app/views/index.volt": "", "themes/x/layout.volt": "", "project.toml": "[volt]\ndirs = [\"themes/x/\"]\n"},
			[]string{"themes/x"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := detectApp(t, writeApp(t, tc.files))
			if diff := cmp.Diff(tc.want, a.Volt.Dirs); diff != "" {
				t.Errorf("Volt.Dirs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectVoltDirMissing(t *testing.T) {
	for _, views := range []map[string]string{nil, {"views/": ""}} {
		dir := writeApp(t, map[string]string{"index.php": "<?php\n", "project.toml": "[volt]\ndirs = [\"views\"]\n"})
		writeFiles(t, dir, views)
		got := detectError(t, dir)
		if diff := cmp.Diff(where{filepath.Join(dir, "project.toml"), 2, "volt.dirs"}, whereOf(got)); diff != "" {
			t.Errorf("error %q: (-want +got):\n%s", got, diff)
		}
	}
}

func TestDetectComposer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  *detect.Composer
	}{
		{
			name:  "lock with empty platform and require lists",
			files: map[string]string{"composer.json": "{\"require\": [], \"config\": []}", "composer.lock": "{\"packages\": [{\"name\": \"acme/x\", \"version\": \"1.0.0\", \"require\": []}], \"platform\": [], \"platform-dev\": []}"},
			want: &detect.Composer{
				Lock: &detect.Lock{Packages: []detect.Package{{Name: "acme/x", Version: "1.0.0"}}},
			},
		},
		{
			name:  "keys lower-cased",
			files: map[string]string{"composer.json": `{"require": {"PHP": "^8.2", "Acme/X": "^1.0"}}`, "composer.lock": `{"packages": [], "platform": {"PHP": "^8.2"}}`},
			want: &detect.Composer{
				Require: map[string]string{"php": "^8.2", "acme/x": "^1.0"},
				Lock:    &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
		{
			name:  "no lock",
			files: map[string]string{"composer.json": composerJSON},
			want:  &detect.Composer{Require: map[string]string{"php": "^8.2"}},
		},
		{
			name:  "config.platform hiding a package",
			files: map[string]string{"composer.json": `{"config": {"platform": {"php": "8.2.0", "ext-redis": false}}}`, "composer.lock": composerLock},
			want: &detect.Composer{
				PlatformOverride: map[string]string{"php": "8.2.0"},
				Lock:             &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
		{
			name:  "path repositories as a list",
			files: map[string]string{"composer.json": `{"repositories": [{"type": "vcs", "url": "https://x"}, {"type": "path", "url": "./packages/b/"}, {"type": "path", "url": "packages/a"}]}`, "composer.lock": composerLock, "packages/a/composer.json": "{}", "packages/b/composer.json": "{}"},
			want: &detect.Composer{
				PathRepos: []string{"packages/a", "packages/b"},
				Lock:      &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
		{
			name:  "path repositories as an object",
			files: map[string]string{"composer.json": `{"repositories": {"local": {"type": "path", "url": "libs/*"}, "public-repo": false}}`, "composer.lock": composerLock},
			want: &detect.Composer{
				PathRepos: []string{"libs/*"},
				Lock:      &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
		{
			name:  "default repository disabled in a list",
			files: map[string]string{"composer.json": `{"repositories": [{"public-repo": false}]}`, "composer.lock": composerLock},
			want: &detect.Composer{
				Lock: &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
		{
			name:  "default repository disabled in an object",
			files: map[string]string{"composer.json": `{"repositories": {"public-repo": false}}`, "composer.lock": composerLock},
			want: &detect.Composer{
				Lock: &detect.Lock{Platform: map[string]string{"php": "^8.2"}, Packages: []detect.Package{}},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"public/index.php": "<?php\n"}
			for k, v := range tc.files {
				files[k] = v
			}
			a := detectApp(t, writeApp(t, files))
			opts := []cmp.Option{
				cmpopts.IgnoreFields(detect.Composer{}, "Platform"),
				cmpopts.IgnoreFields(detect.Package{}, "Line"),
				cmpopts.IgnoreUnexported(detect.Lock{}),
				cmpopts.EquateEmpty(),
			}
			if diff := cmp.Diff(tc.want, a.Composer, opts...); diff != "" {
				t.Errorf("Composer (-want +got):\n%s", diff)
			}
			checkWarning(t, a.Warnings, "no composer.lock", tc.want.Lock == nil)
		})
	}
}

func TestDetectAbsolutePathRepo(t *testing.T) {
	dir := t.TempDir()
	inside := filepath.Join(dir, "packages", "a")
	writeFiles(t, dir, map[string]string{
		"public/index.php": "<?php\n",
		"composer.lock":    composerLock,
		"composer.json":    `{"repositories": [{"type": "path", "url": "` + filepath.ToSlash(inside) + `"}]}`,
	})
	a := detectApp(t, dir)
	if diff := cmp.Diff([]string{"packages/a"}, a.Composer.PathRepos); diff != "" {
		t.Errorf("PathRepos (-want +got):\n%s", diff)
	}
}

func TestDetectComposerErrors(t *testing.T) {
	outside := filepath.ToSlash(filepath.Join(t.TempDir(), "shared"))
	for _, tc := range []struct {
		name    string
		files   map[string]string
		want    where // File is relative to the app dir
		wantMsg string
	}{
		{
			name:  "path repository outside the app",
			files: map[string]string{"composer.json": "{\n    \"repositories\": [\n        {\n            \"type\": \"path\",\n            \"url\": \"../shared/lib\"\n        }\n    ]\n}\n"},
			want:  where{"composer.json", 5, "repositories[0].url"}, wantMsg: "outside the app directory",
		},
		{
			name:  "path repository outside the app, object form",
			files: map[string]string{"composer.json": "{\n    \"repositories\": {\n        \"shared\": {\"type\": \"path\", \"url\": \"lib/../../shared\"}\n    }\n}\n"},
			want:  where{"composer.json", 3, "repositories.shared.url"}, wantMsg: "outside the app directory",
		},
		{
			name:  "absolute path repository outside the app",
			files: map[string]string{"composer.json": "{\n    \"repositories\": [\n        {\"type\": \"path\", \"url\": \"" + outside + "\"}\n    ]\n}\n"},
			want:  where{"composer.json", 3, "repositories[0].url"}, wantMsg: "outside the app directory",
		},
		{
			name:  "path repository without url",
			files: map[string]string{"composer.json": "{\n    \"repositories\": [\n        {\"type\": \"path\"}\n    ]\n}\n"},
			want:  where{"composer.json", 3, "repositories[0].url"}, wantMsg: "needs a url",
		},
		{
			name:  "repositories a string",
			files: map[string]string{"composer.json": "{\n    \"repositories\": \"packages\"\n}\n"},
			want:  where{"composer.json", 2, "repositories"}, wantMsg: "want a list or an object",
		},
		{
			name:  "repository entry a string",
			files: map[string]string{"composer.json": "{\n    \"repositories\": [\n        \"packages\"\n    ]\n}\n"},
			want:  where{"composer.json", 3, "repositories[0]"}, wantMsg: "want an object",
		},
		{
			name:  "require php a number",
			files: map[string]string{"composer.json": "{\n    \"name\": \"acme/app\",\n    \"require\": {\"php\": 8.1}\n}\n"},
			want:  where{"composer.json", 3, "require.php"}, wantMsg: "want a string, not a number",
		},
		{
			name:  "config a string",
			files: map[string]string{"composer.json": "{\n    \"config\": \"x\"\n}\n"},
			want:  where{"composer.json", 2, "config"}, wantMsg: "want an object",
		},
		{
			name:  "composer.json not JSON",
			files: map[string]string{"composer.json": "{\n    \"require\": {\n        \"php\" \"^8.2\"\n    }\n}\n"},
			want:  where{"composer.json", 3, ""}, wantMsg: "invalid JSON",
		},
		{
			name:  "composer.json empty",
			files: map[string]string{"composer.json": ""},
			want:  where{"composer.json", 0, ""}, wantMsg: "empty file",
		},
		{
			name:  "composer.lock without packages",
			files: map[string]string{"composer.json": composerJSON, "composer.lock": "{\n    \"platform\": []\n}\n"},
			want:  where{"composer.lock", 1, "packages"}, wantMsg: "is this a composer.lock?",
		},
		{
			name:  "composer.lock packages an object",
			files: map[string]string{"composer.json": composerJSON, "composer.lock": "{\n    \"packages\": {}\n}\n"},
			want:  where{"composer.lock", 2, "packages"}, wantMsg: "want a list",
		},
		{
			name:  "locked package without a name",
			files: map[string]string{"composer.json": composerJSON, "composer.lock": "{\n    \"packages\": [\n        {\"version\": \"1.0.0\"}\n    ]\n}\n"},
			want:  where{"composer.lock", 3, "packages[0].name"}, wantMsg: "missing",
		},
		{
			name:  "locked package require a number",
			files: map[string]string{"composer.json": composerJSON, "composer.lock": "{\n    \"packages\": [\n        {\n            \"name\": \"acme/x\",\n            \"require\": {\"php\": 8}\n        }\n    ]\n}\n"},
			want:  where{"composer.lock", 5, "packages[acme/x].require.php"}, wantMsg: "want a string",
		},
		{
			name:  "composer.lock without composer.json",
			files: map[string]string{"composer.lock": composerLock},
			want:  where{"composer.lock", 0, ""}, wantMsg: "without composer.json",
		},
		{
			name:  "composer.json a directory",
			files: map[string]string{"composer.json/x.json": ""},
			want:  where{"composer.json", 0, ""}, wantMsg: "is a directory",
		},
		{
			name:  "composer.json an empty directory",
			files: map[string]string{"composer.json/": ""},
			want:  where{"composer.json", 0, ""}, wantMsg: "is a directory",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"public/index.php": "<?php\n"}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := writeApp(t, files)
			got := detectError(t, dir)
			want := tc.want
			want.File = filepath.Join(dir, want.File)
			if diff := cmp.Diff(want, whereOf(got)); diff != "" {
				t.Errorf("error %q: (-want +got):\n%s", got, diff)
			}
			if !strings.Contains(got.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", got, tc.wantMsg)
			}
		})
	}
}

// Every platform requirement points at the line a user would edit.
func TestDetectPlatformReqs(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"public/index.php": "<?php\n",
		"composer.json": `{
    "name": "acme/app",
    "require": {
        "php": "^8.2",
        "acme/x": "^1.0",
        "EXT-Intl": "*",
        "lib-icu": ">=60"
    }
}
`,
		"composer.lock": `{
    "packages": [
        {
            "name": "acme/x",
            "version": "1.0.0",
            "require": {
                "php-64bit": ">=8.1",
                "ext-json": "*",
                "composer-plugin-api": "^2.0"
            }
        },
        {
            "name": "acme/y",
            "version": "2.0.0",
            "require": []
        }
    ],
    "platform": {
        "php": "^8.2",
        "ext-intl": "*"
    }
}
`,
	})
	a := detectApp(t, dir)
	jsonFile, lockFile := filepath.Join(dir, "composer.json"), filepath.Join(dir, "composer.lock")
	want := []detect.PlatformReq{
		{Name: "php", Constraint: "^8.2", File: jsonFile, Line: 4, Field: "require.php"},
		{Name: "ext-intl", Constraint: "*", File: jsonFile, Line: 6, Field: "require.EXT-Intl"},
		{Name: "php", Constraint: "^8.2", File: lockFile, Line: 19, Field: "platform.php"},
		{Name: "ext-intl", Constraint: "*", File: lockFile, Line: 20, Field: "platform.ext-intl"},
		{Name: "php", Constraint: ">=8.1", File: lockFile, Line: 7, Field: "packages[acme/x].require.php-64bit", Package: "acme/x"},
		{Name: "ext-json", Constraint: "*", File: lockFile, Line: 8, Field: "packages[acme/x].require.ext-json", Package: "acme/x"},
	}
	if diff := cmp.Diff(want, a.Composer.Platform); diff != "" {
		t.Errorf("Platform (-want +got):\n%s", diff)
	}
	var lines []int
	for _, p := range a.Composer.Lock.Packages {
		lines = append(lines, p.Line)
	}
	if diff := cmp.Diff([]int{3, 12}, lines); diff != "" {
		t.Errorf("package lines (-want +got):\n%s", diff)
	}
}

func TestDetectPlatformReqsTestdata(t *testing.T) {
	dir := filepath.Join("..", "testdata", "apps", "plain")
	a := detectApp(t, dir)
	jsonFile, lockFile := filepath.Join(dir, "composer.json"), filepath.Join(dir, "composer.lock")
	want := []detect.PlatformReq{
		{Name: "php", Constraint: ">=8.1", File: jsonFile, Line: 7, Field: "require.php"},
		{Name: "ext-mbstring", Constraint: "*", File: jsonFile, Line: 8, Field: "require.ext-mbstring"},
		{Name: "ext-pdo_mysql", Constraint: "*", File: jsonFile, Line: 9, Field: "require.ext-pdo_mysql"},
		{Name: "php", Constraint: ">=8.1", File: lockFile, Line: 43, Field: "platform.php"},
		{Name: "ext-mbstring", Constraint: "*", File: lockFile, Line: 44, Field: "platform.ext-mbstring"},
		{Name: "ext-pdo_mysql", Constraint: "*", File: lockFile, Line: 45, Field: "platform.ext-pdo_mysql"},
		{Name: "php", Constraint: ">=8.0", File: lockFile, Line: 18, Field: "packages[phpbuild-testdata/greeter].require.php", Package: "phpbuild-testdata/greeter"},
	}
	if diff := cmp.Diff(want, a.Composer.Platform); diff != "" {
		t.Errorf("Platform (-want +got):\n%s", diff)
	}
}

func TestDetectNotPHPApp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"empty dir", nil},
		{"node only", map[string]string{"package.json": `{"scripts": {"build": "vite build"}}`}},
		{"PHP not at a front controller path", map[string]string{"src/index.php": "<?php\n", "app/public/index.php": "<?php\n"}},
		{"composer files in vendor only", map[string]string{"vendor/acme/x/composer.json": "{}"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			_, err := detect.Detect(context.Background(), dir)
			if !errors.Is(err, detect.ErrNotPHPApp) {
				t.Fatalf("Detect error = %v, want ErrNotPHPApp", err)
			}
			if !badinput.Is(err) {
				t.Errorf("error %v is not input the user must fix", err)
			}
			var be *badinput.Error
			if errors.As(err, &be) && be.File != dir {
				t.Errorf("error names %q, want the app dir %q", be.File, dir)
			}
		})
	}
}

func TestDetectTreeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) (arg, wantFile string)
		msg   string
	}{
		{
			name: "symlink to itself",
			setup: func(t *testing.T, dir string) (string, string) {
				writeFiles(t, dir, map[string]string{"public/index.php": "<?php\n"})
				link(t, "loop", filepath.Join(dir, "public", "loop"))
				return dir, filepath.Join(dir, "public", "loop")
			},
			msg: "symlink loop",
		},
		{
			name: "two symlinks in a cycle",
			setup: func(t *testing.T, dir string) (string, string) {
				writeFiles(t, dir, map[string]string{"index.php": "<?php\n", "src/": ""})
				link(t, "b", filepath.Join(dir, "src", "a"))
				link(t, "a", filepath.Join(dir, "src", "b"))
				return dir, filepath.Join(dir, "src", "a")
			},
			msg: "symlink loop",
		},
		{
			name: "does not exist",
			setup: func(t *testing.T, dir string) (string, string) {
				missing := filepath.Join(dir, "nope")
				return missing, missing
			},
			msg: "no such file or directory",
		},
		{
			name: "a file",
			setup: func(t *testing.T, dir string) (string, string) {
				writeFiles(t, dir, map[string]string{"index.php": "<?php\n"})
				f := filepath.Join(dir, "index.php")
				return f, f
			},
			msg: "not a directory",
		},
		{
			name: "project.toml a symlink loop",
			setup: func(t *testing.T, dir string) (string, string) {
				writeFiles(t, dir, map[string]string{"index.php": "<?php\n"})
				link(t, "project.toml", filepath.Join(dir, "project.toml"))
				return dir, filepath.Join(dir, "project.toml")
			},
			msg: "too many levels of symbolic links",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arg, wantFile := tc.setup(t, t.TempDir())
			got := detectError(t, arg)
			if got.File != wantFile {
				t.Errorf("error %q names %q, want %q", got, got.File, wantFile)
			}
			if !strings.Contains(got.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", got, tc.msg)
			}
		})
	}
}

// A symlink that points nowhere is listed like any file: the build copies it
// as it is.
func TestDetectDanglingSymlink(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": "<?php\n"})
	link(t, "/nonexistent/storage", filepath.Join(dir, "storage"))
	a := detectApp(t, dir)
	if diff := cmp.Diff([]string{"index.php", "storage"}, a.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

func TestDetectCanceled(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": "<?php\n"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := detect.Detect(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("Detect with a canceled context: %v, want context.Canceled", err)
	}
}

// where is the part of a *badinput.Error a user reads to find the mistake.
type where struct {
	File  string
	Line  int
	Field string
}

func whereOf(e *badinput.Error) where { return where{e.File, e.Line, e.Field} }

func detectApp(t *testing.T, dir string) *detect.App {
	t.Helper()
	a, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatalf("Detect(%s): %v", dir, err)
	}
	return a
}

// detectError runs Detect on dir and returns the *badinput.Error it must fail
// with.
func detectError(t *testing.T, dir string) *badinput.Error {
	t.Helper()
	a, err := detect.Detect(context.Background(), dir)
	if err == nil {
		t.Fatalf("Detect(%s) succeeded (%+v); want an error", dir, factsOf(a))
	}
	var be *badinput.Error
	if !errors.As(err, &be) {
		t.Fatalf("Detect error %v (%T) is not a *badinput.Error", err, err)
	}
	return be
}

func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	return apptest.Write(t, files)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	apptest.Into(t, dir, files)
}

func link(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// checkWarning reports whether some warning contains part, failing when that
// is not want.
func checkWarning(t *testing.T, warnings []string, part string, want bool) {
	t.Helper()
	found := false
	for _, w := range warnings {
		if strings.Contains(w, part) {
			found = true
		}
	}
	if found != want {
		t.Errorf("warning containing %q: found %v, want %v; warnings: %q", part, found, want, warnings)
	}
}
