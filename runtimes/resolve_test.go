package runtimes

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/constraint"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
)

// appWith writes files into a temp dir and detects the app there.
func appWith(t *testing.T, files map[string]string) *detect.App {
	t.Helper()
	if _, ok := files["public/index.php"]; !ok {
		files = maps.Clone(files)
		files["public/index.php"] = "<?php\n"
	}
	dir := apptest.Write(t, files)
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatalf("detecting: %v", err)
	}
	return app
}

func lockWith(packages string, platform string) string {
	return `{"content-hash": "x", "packages": [` + packages + `], "packages-dev": [], "platform": ` + platform + `, "platform-dev": []}`
}

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatalf("default catalog: %v", err)
	}
	return cat
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name      string
		files     map[string]string
		minor     string
		phalcon   string
		extsHave  []string // must be in Extensions
		extsLack  []string // must not be
		fromSrc   []string
		warnMatch string
	}{{
		name:    "php range with phalcon 5 picks 8.2 and the newest phalcon for it",
		files:   map[string]string{"composer.json": `{"require": {"php": ">=8.1 <8.4", "ext-phalcon": "^5.0"}}`},
		minor:   "8.2",
		phalcon: "5.18.2",
	}, {
		name:  "caret 8.3 picks 8.4",
		files: map[string]string{"composer.json": `{"require": {"php": "^8.3"}}`},
		minor: "8.4",
	}, {
		name:  "no composer picks the newest minor",
		files: map[string]string{"index.php": "<?php echo 1;"},
		minor: "8.4",
	}, {
		name: "a locked package caps php",
		files: map[string]string{
			"composer.json": `{"require": {"php": ">=8.1", "acme/old": "^1"}}`,
			"composer.lock": lockWith(`{"name": "acme/old", "version": "1.0.0", "require": {"php": ">=7.4 <8.3"}}`, `{"php": ">=8.1"}`),
		},
		minor: "8.2",
	}, {
		name:  "project.toml php.version narrows composer",
		files: map[string]string{"composer.json": `{"require": {"php": ">=8.1"}}`, "project.toml": "[php]\nversion = \"8.2.*\"\n"},
		minor: "8.2",
	}, {
		name:    "phalcon 5.9 line supports 8.4",
		files:   map[string]string{"composer.json": `{"require": {"php": "^8.1", "ext-phalcon": "~5.9.0"}}`},
		minor:   "8.4",
		phalcon: "5.9.3",
	}, {
		name:    "phalcon 5.5 line stops below 8.4",
		files:   map[string]string{"composer.json": `{"require": {"php": ">=8.2", "ext-phalcon": "5.5.*"}}`},
		minor:   "8.2",
		phalcon: "5.5.0",
	}, {
		name:    "project.toml phalcon.version marks a phalcon app",
		files:   map[string]string{"project.toml": "[phalcon]\nversion = \"5.9.*\"\n"},
		minor:   "8.4",
		phalcon: "5.9.3",
	}, {
		name:    "phalcon namespace use without ext-phalcon",
		files:   map[string]string{"composer.json": `{"require": {"php": "^8.2"}}`, "src/A.php": "<?php\nuse Phalcon\\Mvc\\Controller;\n"},
		minor:   "8.4",
		phalcon: "5.18.2",
	}, {
		name:  "ext-imap is gone from 8.4",
		files: map[string]string{"composer.json": `{"require": {"php": ">=8.2", "ext-imap": "*"}}`},
		minor: "8.2", extsHave: []string{"imap"},
	}, {
		name:  "bundled extension versions are PHP's",
		files: map[string]string{"composer.json": `{"require": {"ext-mbstring": ">=8.3"}}`},
		minor: "8.4",
	}, {
		name:      "a PECL extension version is not checked but said so",
		files:     map[string]string{"composer.json": `{"require": {"ext-redis": ">=6"}}`},
		minor:     "8.4",
		warnMatch: `ext-redis ">=6"`,
	}, {
		name:     "extension aliases and sibling extensions",
		files:    map[string]string{"composer.json": `{"require": {"ext-zend-opcache": "*", "ext-mysqli": "*", "ext-soap": "*", "ext-json": "*"}}`},
		minor:    "8.4",
		extsHave: []string{"opcache", "pdo_mysql", "soap"},
		extsLack: []string{"mysqli", "json", "zend-opcache"},
	}, {
		name:     "project.toml adds extensions",
		files:    map[string]string{"project.toml": "[php]\nextensions = [\"apcu\", \"gmp\"]\n"},
		minor:    "8.4",
		extsHave: []string{"apcu", "gmp"},
	}, {
		name: "unknown extension built from source",
		files: map[string]string{
			"composer.json": `{"require": {"ext-hello": "*"}}`,
			"project.toml":  "[php.sources.hello]\nsource = \"ext/hello\"\n",
		},
		minor:    "8.4",
		extsHave: []string{"hello"},
		fromSrc:  []string{"hello"},
	}, {
		name: "phalcon 4 on an extra 7.4 minor with psr from source",
		files: map[string]string{
			"composer.json": `{"require": {"php": "~7.4.0", "ext-phalcon": "^4.1"}}`,
			"project.toml": "[php.minors.\"7.4\"]\nbase = \"docker.io/library/debian:bookworm-slim\"\napt_source = \"deb https://apt.example.com/php bookworm main\"\n" +
				"[php.sources.psr]\nsource = \"ext/psr\"\n",
		},
		minor:    "7.4",
		phalcon:  "4.1.3",
		extsHave: []string{"phalcon", "psr"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := Resolve(appWith(t, tc.files), testCatalog(t))
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if rt.PHPMinor != tc.minor || rt.PHP != tc.minor {
				t.Errorf("PHP = %s (%s), want %s", rt.PHPMinor, rt.PHP, tc.minor)
			}
			if rt.Phalcon != tc.phalcon {
				t.Errorf("Phalcon = %q, want %q", rt.Phalcon, tc.phalcon)
			}
			if (tc.phalcon != "") != slices.Contains(rt.Extensions, "phalcon") {
				t.Errorf("Extensions = %v: phalcon presence does not match %q", rt.Extensions, tc.phalcon)
			}
			for _, e := range tc.extsHave {
				if !slices.Contains(rt.Extensions, e) {
					t.Errorf("Extensions = %v, missing %s", rt.Extensions, e)
				}
			}
			for _, e := range tc.extsLack {
				if slices.Contains(rt.Extensions, e) {
					t.Errorf("Extensions = %v, should not list %s", rt.Extensions, e)
				}
			}
			var src []string
			for name := range rt.FromSource {
				src = append(src, name)
			}
			if diff := cmp.Diff(tc.fromSrc, src); diff != "" {
				t.Errorf("FromSource (-want +got):\n%s", diff)
			}
			if tc.warnMatch != "" && !strings.Contains(strings.Join(rt.Warnings, "\n"), tc.warnMatch) {
				t.Errorf("Warnings = %q, want one containing %q", rt.Warnings, tc.warnMatch)
			}
			for _, e := range testCatalog(t).DefaultExtensions {
				if !slices.Contains(rt.Extensions, e) {
					t.Errorf("Extensions = %v, missing default %s", rt.Extensions, e)
				}
			}
		})
	}
}

func TestResolveConflicts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		// first is what the first line of the error must contain.
		first []string
		// details must appear somewhere in the error.
		details []string
		is      error
	}{{
		name:    "tilde 8.3.0 names composer.json and the offered versions",
		files:   map[string]string{"composer.json": "{\n  \"require\": {\n    \"php\": \"~8.3.0\"\n  }\n}\n"},
		first:   []string{"composer.json:3: require.php", `"~8.3.0"`, "8.2", "8.4"},
		details: []string{"PHP 8.4: excluded by", "PHP 8.2: excluded by"},
		is:      ErrUnsatisfiable,
	}, {
		name: "app and locked package disagree",
		files: map[string]string{
			"composer.json": `{"require": {"php": ">=8.1 <8.4", "acme/new": "^2"}}`,
			"composer.lock": lockWith(`{"name": "acme/new", "version": "2.0.0", "require": {"php": ">=8.3"}}`, `{"php": ">=8.1 <8.4"}`),
		},
		first:   []string{"composer.json:1: require.php", "no runtime satisfies every constraint"},
		details: []string{"package acme/new", "composer.lock"},
		is:      ErrUnsatisfiable,
	}, {
		name:    "phalcon 4 needs PHP 7",
		files:   map[string]string{"composer.json": `{"require": {"ext-phalcon": "^4.1"}}`},
		first:   []string{"composer.json:1: require.ext-phalcon"},
		details: []string{"no Phalcon release for it satisfies", "Phalcon 4.1.0–4.1.3 for PHP >=7.2 <7.5"},
		is:      ErrUnsatisfiable,
	}, {
		name:    "phalcon version that does not exist",
		files:   map[string]string{"composer.json": `{"require": {"php": "^8.2", "ext-phalcon": "^7.0"}}`},
		first:   []string{"composer.json:1: require.ext-phalcon", `"^7.0"`},
		details: []string{`"^7.0"`},
		is:      ErrUnsatisfiable,
	}, {
		name:    "phalcon constraint from project.toml is blamed there",
		files:   map[string]string{"composer.json": `{"require": {"php": "^8.1"}}`, "project.toml": "[phalcon]\nversion = \"^4.1\"\n"},
		first:   []string{"project.toml:2: phalcon.version", `"^4.1"`},
		details: []string{"composer.json:1 require.php"},
		is:      ErrUnsatisfiable,
	}, {
		name:    "unknown extension",
		files:   map[string]string{"composer.json": `{"require": {"ext-nonesuch": "*"}}`},
		first:   []string{"composer.json:1: require.ext-nonesuch"},
		details: []string{"[php.sources.nonesuch]"},
		is:      ErrUnsatisfiable,
	}, {
		name:    "project.toml and composer.json disagree",
		files:   map[string]string{"composer.json": `{"require": {"php": "^8.4"}}`, "project.toml": "[php]\nversion = \"8.2.*\"\n"},
		first:   []string{"project.toml:2: php.version"},
		details: []string{"composer.json:1 require.php"},
		is:      ErrUnsatisfiable,
	}, {
		name:  "dev branch constraint",
		files: map[string]string{"composer.json": `{"require": {"php": "dev-master"}}`},
		first: []string{"composer.json:1: require.php", "dev-master"},
		is:    constraint.ErrDevBranch,
	}, {
		name:  "malformed constraint in a locked package",
		files: map[string]string{"composer.json": `{"require": {"acme/x": "*"}}`, "composer.lock": lockWith("\n"+`{"name": "acme/x", "version": "1.0.0", "require": {"php": ">=>8"}}`, "[]")},
		first: []string{"composer.lock:2: packages[acme/x].require.php", ">=>8"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve(appWith(t, tc.files), testCatalog(t))
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			if !badinput.Is(err) {
				t.Errorf("error %v is not a *badinput.Error", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			for _, want := range tc.first {
				if !strings.Contains(first, want) {
					t.Errorf("first line %q does not contain %q", first, want)
				}
			}
			for _, want := range tc.details {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestDefaultCatalog(t *testing.T) {
	cat := testCatalog(t)
	var minors []string
	for _, m := range cat.PHP {
		minors = append(minors, m.Minor+"/"+m.Suite)
	}
	if diff := cmp.Diff([]string{"8.4/trixie", "8.2/bookworm"}, minors); diff != "" {
		t.Errorf("minors (-want +got):\n%s", diff)
	}
	// The matrix from Phalcon's own releases: newest Phalcon per PHP minor.
	for _, tc := range []struct{ minor, want string }{
		{"7.2", "4.1.3"}, {"7.4", "5.4.0"}, {"8.0", "5.8.0"}, {"8.1", "5.18.2"},
		{"8.2", "5.18.2"}, {"8.3", "5.18.2"}, {"8.4", "5.18.2"}, {"8.5", "5.18.2"}, {"8.6", ""}, {"7.1", ""},
	} {
		m := Minor{Minor: tc.minor}
		if err := m.parse(); err != nil {
			t.Fatal(err)
		}
		v, _ := newestPhalcon(cat, m, nil)
		got := ""
		if v != nil {
			got = v.Original()
		}
		if got != tc.want {
			t.Errorf("newest Phalcon for PHP %s = %q, want %q", tc.minor, got, tc.want)
		}
	}
	for _, l := range cat.Phalcon {
		for i := 1; i < len(l.versions); i++ {
			if !l.versions[i-1].LessThan(l.versions[i]) {
				t.Errorf("phalcon versions out of order: %s before %s", l.versions[i-1], l.versions[i])
			}
		}
	}
	for _, e := range cat.DefaultExtensions {
		if _, ok := cat.Extensions[e]; !ok {
			t.Errorf("default extension %s has no package in the catalog", e)
		}
	}
}

func TestMinorWithExactVersion(t *testing.T) {
	cat := testCatalog(t)
	for i := range cat.PHP {
		if cat.PHP[i].Minor == "8.4" {
			cat.PHP[i].Version = "8.4.11"
		}
	}
	app := appWith(t, map[string]string{"composer.json": `{"require": {"php": ">=8.4.12"}}`})
	_, err := Resolve(app, cat)
	if !errors.Is(err, ErrUnsatisfiable) {
		t.Fatalf("a built 8.4.11 must not satisfy >=8.4.12; got %v", err)
	}
	app = appWith(t, map[string]string{"composer.json": `{"require": {"php": ">=8.4.10"}}`})
	rt, err := Resolve(app, cat)
	if err != nil {
		t.Fatal(err)
	}
	if rt.PHP != "8.4.11" || rt.PHPMinor != "8.4" {
		t.Errorf("got PHP %s (minor %s), want 8.4.11 (8.4)", rt.PHP, rt.PHPMinor)
	}
}

func TestResolveBuilt(t *testing.T) {
	defaults := []string{"bcmath", "curl", "gd", "intl", "mbstring", "opcache", "pdo_mysql", "pdo_pgsql", "pdo_sqlite", "redis", "xml", "zip"}
	entry := func(php, phalcon string, extra ...string) Entry {
		exts := append(append([]string{}, defaults...), extra...)
		if phalcon != "" {
			exts = append(exts, "phalcon")
		}
		minor := php[:strings.LastIndex(php, ".")]
		return Entry{Key: "sha256:" + php + phalcon, PHP: php, PHPMinor: minor, Phalcon: phalcon, Extensions: exts,
			Base: "docker.io/library/debian:x", Run: "sha256:run" + php + phalcon, Build: "sha256:build" + php + phalcon}
	}
	// As ReadManifest returns them: newest PHP first.
	built := []Entry{entry("8.4.28", ""), entry("8.2.36", "5.18.1"), entry("8.2.36", "", "gmp")}
	for _, tc := range []struct {
		name    string
		files   map[string]string
		php     string
		phalcon string
		run     string
		err     []string
	}{
		{name: "newest built PHP", files: map[string]string{"index.php": "<?php"}, php: "8.4.28", run: "sha256:run8.4.28"},
		{name: "exact PHP constraint", files: map[string]string{"composer.json": `{"require": {"php": "<8.4"}}`}, php: "8.2.36", run: "sha256:run8.2.36"},
		{name: "phalcon runtime", files: map[string]string{"composer.json": `{"require": {"php": ">=8.1 <8.4", "ext-phalcon": "^5.0"}}`}, php: "8.2.36", phalcon: "5.18.1", run: "sha256:run8.2.365.18.1"},
		{name: "an extra extension picks the runtime that has it", files: map[string]string{"composer.json": `{"require": {"ext-gmp": "*"}}`}, php: "8.2.36", run: "sha256:run8.2.36"},
		{name: "a patch constraint no built runtime meets", files: map[string]string{"composer.json": `{"require": {"php": ">=8.4.30"}}`},
			err: []string{"composer.json:1: require.php", `">=8.4.30" excludes PHP 8.4.28`, "relax the constraint"}},
		{name: "a minor with no built runtime", files: map[string]string{"composer.json": `{"require": {"php": ">=8.4"}}`, "project.toml": "[php]\nextensions = [\"gmp\"]\n"},
			err: []string{"repo.example/rt has none with PHP 8.4", "phpbuild runtime build --php 8.4 --ext gmp --repo repo.example/rt"}},
		{name: "phalcon version not built", files: map[string]string{"composer.json": `{"require": {"ext-phalcon": "~5.9.0"}}`},
			err: []string{"phpbuild runtime build --php 8.4 --phalcon 5.9.3 --repo repo.example/rt"}},
		{name: "extension from source", files: map[string]string{"composer.json": `{"require": {"ext-hello": "*"}}`, "project.toml": "[php.sources.hello]\nsource = \"ext/hello\"\n"},
			err: []string{"--ext hello@ext/hello --repo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, err := ResolveBuilt(appWith(t, tc.files), testCatalog(t), "repo.example/rt", built)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("got runtime %+v, want an error", rt)
				}
				if !errors.Is(err, ErrNoBuiltRuntime) || !badinput.Is(err) {
					t.Errorf("error %v: want ErrNoBuiltRuntime as bad input", err)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rt.PHP != tc.php || rt.Phalcon != tc.phalcon || rt.RunDigest != tc.run || rt.RunImage != "repo.example/rt@"+tc.run {
				t.Errorf("got PHP %s Phalcon %q run %s (%s), want %s %q %s", rt.PHP, rt.Phalcon, rt.RunDigest, rt.RunImage, tc.php, tc.phalcon, tc.run)
			}
		})
	}
}
