package classindex

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

// writeApp writes files into a new directory and returns it with the
// sorted list of their paths, as a commit would list them.
func writeApp(t *testing.T, files map[string]string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, slices.Sorted(maps.Keys(files))
}

func read(t *testing.T, files map[string]string) *Index {
	t.Helper()
	dir, list := writeApp(t, files)
	ix, err := Read(context.Background(), dir, list)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return ix
}

func class(ns, name string) string {
	return "<?php\nnamespace " + ns + ";\nclass " + name + " {}\n"
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []File
	}{
		{
			name: "psr-4 with several dirs and namespaces",
			files: map[string]string{
				"composer.json":     `{"autoload": {"psr-4": {"App\\": ["src/", "lib"], "Other\\Sub\\": "other/"}}, "autoload-dev": {"psr-4": {"Tests\\": "tests/"}}}`,
				"src/A.php":         class("App", "A"),
				"src/Deep/B.php":    class(`App\Deep`, "B"),
				"lib/C.php":         class("App", "C"),
				"other/D.hh":        class(`Other\Sub`, "D"),
				"other/E.inc":       class(`Other\Sub`, "E"),
				"src/Empty.php":     "<?php\nreturn [];\n",
				"src/notes.md":      "class Fake {}",
				"src/view.twig":     "class Fake {}",
				"tests/ATest.php":   class("Tests", "ATest"),
				"srcx/Outside.php":  class("App", "Outside"),
				"public/index.php":  "<?php\nclass Front {}\n",
				"other/Upper.PHP":   class(`Other\Sub`, "Upper"),
				"src/.hidden/H.php": class("App", "H"),
			},
			want: []File{
				{Path: "lib/C.php", Classes: []string{`App\C`}},
				{Path: "other/D.hh", Classes: []string{`Other\Sub\D`}},
				{Path: "other/E.inc", Classes: []string{`Other\Sub\E`}},
				{Path: "other/Upper.PHP", Classes: []string{`Other\Sub\Upper`}},
				{Path: "src/.hidden/H.php", Classes: []string{`App\H`}},
				{Path: "src/A.php", Classes: []string{`App\A`}},
				{Path: "src/Deep/B.php", Classes: []string{`App\Deep\B`}},
			},
		},
		{
			name: "psr-0",
			files: map[string]string{
				"composer.json":              `{"autoload": {"psr-0": {"Legacy_": "legacy/", "": ["fallback"]}}}`,
				"legacy/Legacy/Mail/Out.php": "<?php\nclass Legacy_Mail_Out {}\n",
				"fallback/Thing.php":         "<?php\nclass Thing {}\n",
				"other/Thing.php":            "<?php\nclass Thing {}\n",
			},
			want: []File{
				{Path: "fallback/Thing.php", Classes: []string{"Thing"}},
				{Path: "legacy/Legacy/Mail/Out.php", Classes: []string{"Legacy_Mail_Out"}},
			},
		},
		{
			name: "classmap with a dir and single files",
			files: map[string]string{
				"composer.json":           `{"autoload": {"classmap": ["database/", "lib/helpers.inc", "lib/odd.module", "./"]}}`,
				"database/seeds/Seed.php": "<?php\nclass Seed {}\n",
				"database/old.inc":        "<?php\nclass Old {}\n",
				"database/readme.txt":     "class Fake {}",
				"lib/helpers.inc":         "<?php\ninterface Helper {}\n",
				"lib/odd.module":          "<?php\ntrait Odd {}\n",
				"lib/other.module":        "<?php\ntrait Other {}\n",
				"Root.php":                "<?php\nclass Root {}\n",
			},
			want: []File{
				{Path: "Root.php", Classes: []string{"Root"}},
				{Path: "database/old.inc", Classes: []string{"Old"}},
				{Path: "database/seeds/Seed.php", Classes: []string{"Seed"}},
				{Path: "lib/helpers.inc", Classes: []string{"Helper"}},
				{Path: "lib/odd.module", Classes: []string{"Odd"}},
			},
		},
		{
			name: "classmap glob scans the dir before the wildcard",
			files: map[string]string{
				"composer.json":             `{"autoload": {"classmap": ["modules/*/src"]}}`,
				"modules/blog/src/Post.php": "<?php\nclass Post {}\n",
				"modules/blog/Other.php":    "<?php\nclass Other {}\n",
				"lib/Out.php":               "<?php\nclass Out {}\n",
			},
			want: []File{
				{Path: "modules/blog/Other.php", Classes: []string{"Other"}},
				{Path: "modules/blog/src/Post.php", Classes: []string{"Post"}},
			},
		},
		{
			name: "exclude-from-classmap",
			files: map[string]string{
				"composer.json":               `{"autoload": {"psr-4": {"App\\": "src/"}, "classmap": ["lib"], "exclude-from-classmap": ["/src/Tests/", "**/Fixtures", "src/*.gen.php", "./lib/skip.php", "src/Legacy"]}}`,
				"src/A.php":                   class("App", "A"),
				"src/Tests/ATest.php":         class(`App\Tests`, "ATest"),
				"src/Deep/Fixtures/F.php":     class(`App\Deep\Fixtures`, "F"),
				"lib/Fixtures/G.php":          "<?php\nclass G {}\n",
				"src/Model.gen.php":           class("App", "Model"),
				"src/Sub/Model.gen.php":       class(`App\Sub`, "Model"),
				"lib/skip.php":                "<?php\nclass Skip {}\n",
				"lib/keep.php":                "<?php\nclass Keep {}\n",
				"src/Legacy.php":              class("App", "Legacy"),
				"src/Legacy/Old.php":          class(`App\Legacy`, "Old"),
				"src/LegacyNot/NotLegacy.php": class(`App\LegacyNot`, "NotLegacy"),
			},
			want: []File{
				{Path: "lib/keep.php", Classes: []string{"Keep"}},
				{Path: "src/A.php", Classes: []string{`App\A`}},
				{Path: "src/Legacy.php", Classes: []string{`App\Legacy`}},
				{Path: "src/LegacyNot/NotLegacy.php", Classes: []string{`App\LegacyNot\NotLegacy`}},
				{Path: "src/Sub/Model.gen.php", Classes: []string{`App\Sub\Model`}},
			},
		},
		{
			name: "root psr-4 dir",
			files: map[string]string{
				"composer.json": `{"autoload": {"psr-4": {"App\\": ["", "."]}}}`,
				"A.php":         class("App", "A"),
				"x/B.php":       class(`App\x`, "B"),
			},
			want: []File{
				{Path: "A.php", Classes: []string{`App\A`}},
				{Path: "x/B.php", Classes: []string{`App\x\B`}},
			},
		},
		{
			name: "paths leaving the app",
			files: map[string]string{
				"composer.json": `{"autoload": {"psr-4": {"App\\": ["../elsewhere", "/abs/src"]}}}`,
				"A.php":         class("App", "A"),
			},
			want: []File{},
		},
		{
			name:  "no composer.json",
			files: map[string]string{"src/A.php": class("App", "A")},
			want:  []File{},
		},
		{
			name: "no autoload",
			files: map[string]string{
				"composer.json": `{"require": {"php": "^8.3"}, "autoload-dev": {"classmap": ["src"]}}`,
				"src/A.php":     class("App", "A"),
			},
			want: []File{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix := read(t, tc.files)
			if diff := cmp.Diff(tc.want, ix.Files); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadBadInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		json      string
		wantField string
	}{
		{name: "not JSON", json: `{"autoload": `},
		{name: "not an object", json: `["autoload"]`},
		{name: "autoload a list", json: `{"autoload": ["src"]}`, wantField: "autoload"},
		{name: "psr-4 a string", json: `{"autoload": {"psr-4": "src"}}`, wantField: "autoload.psr-4"},
		{name: "psr-4 path a number", json: `{"autoload": {"psr-4": {"App\\": 1}}}`, wantField: "autoload.psr-4"},
		{name: "psr-0 paths mixed", json: `{"autoload": {"psr-0": {"App": ["src", 2]}}}`, wantField: "autoload.psr-0"},
		{name: "classmap an object", json: `{"autoload": {"classmap": {"a": "src"}}}`, wantField: "autoload.classmap"},
		{name: "exclude a string", json: `{"autoload": {"exclude-from-classmap": "tests"}}`, wantField: "autoload.exclude-from-classmap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, files := writeApp(t, map[string]string{"composer.json": tc.json})
			_, err := Read(context.Background(), dir, files)
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("Read error = %v, want a *badinput.Error", err)
			}
			if be.File != "composer.json" || be.Field != tc.wantField {
				t.Errorf("error names %q field %q, want composer.json field %q", be.File, be.Field, tc.wantField)
			}
		})
	}
}

func TestReadMissingFile(t *testing.T) {
	dir, _ := writeApp(t, map[string]string{"composer.json": `{"autoload": {"classmap": ["src"]}}`})
	if _, err := Read(context.Background(), dir, []string{"src/Gone.php"}); err == nil {
		t.Error("Read of a listed file that is not there: no error")
	}
}

func TestReadCanceled(t *testing.T) {
	dir, files := writeApp(t, map[string]string{
		"composer.json": `{"autoload": {"classmap": ["src"]}}`,
		"src/A.php":     "<?php class A {}",
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Read(ctx, dir, files); !errors.Is(err, context.Canceled) {
		t.Errorf("Read error = %v, want context.Canceled", err)
	}
}

// digestCase is a commit after digestBase: the files changed ("" deletes
// one), whether the Digest changes, and whether Same can tell it does not
// (a composer.json change is never carried).
type digestCase struct {
	name    string
	changes map[string]string
	changed bool
	carried bool
}

var digestBase = map[string]string{
	"composer.json":     `{"autoload": {"psr-4": {"App\\": "src/"}}}`,
	"src/User.php":      "<?php\nnamespace App;\n\nclass User\n{\n    public function name(): string { return 'a'; }\n}\n",
	"src/Order.php":     class("App", "Order"),
	"public/index.php":  "<?php\nrequire 'vendor/autoload.php';\n",
	"src/functions.php": "<?php\nfunction helper() {}\n",
}

var digestCases = []digestCase{
	{name: "method body", changes: map[string]string{"src/User.php": "<?php\nnamespace App;\n\nclass User\n{\n    public function name(): string { return 'b' . \"class Nope {}\"; }\n    // class Nope2 {}\n}\n"}, carried: true},
	{name: "file outside autoload paths", changes: map[string]string{"public/extra.php": "<?php\nclass Extra {}\n"}, carried: true},
	{name: "file declaring nothing", changes: map[string]string{"src/more.php": "<?php\nreturn 1;\n"}, carried: true},
	{name: "edit of a file declaring nothing", changes: map[string]string{"src/functions.php": "<?php\nfunction helper2() {}\n"}, carried: true},
	{name: "non-PHP file in autoload dir", changes: map[string]string{"src/schema.graphql": "type Query"}, carried: true},
	{name: "class rename", changes: map[string]string{"src/User.php": class("App", "Person")}, changed: true},
	{name: "class added to a file", changes: map[string]string{"src/Order.php": class("App", "Order") + "class Line {}\n"}, changed: true},
	{name: "class file added", changes: map[string]string{"src/Line.php": class("App", "Line")}, changed: true},
	{name: "class removed", changes: map[string]string{"src/Order.php": ""}, changed: true},
	{name: "class moved to another file", changes: map[string]string{"src/Order.php": "", "src/Orders.php": class("App", "Order")}, changed: true},
	{name: "class kind changed", changes: map[string]string{"src/Order.php": "<?php\nnamespace App;\ninterface Order {}\n"}, carried: true},
	{name: "namespace changed", changes: map[string]string{"src/Order.php": class(`App\Sales`, "Order")}, changed: true},
	{name: "autoload changed", changes: map[string]string{"composer.json": `{"autoload": {"psr-4": {"App\\": "src/", "Lib\\": "lib/"}}}`}, changed: true},
	{name: "composer.json outside autoload changed", changes: map[string]string{"composer.json": `{"require": {"php": "^8.4"}, "autoload": {"psr-4": {"App\\": "src/"}}}`}},
	{name: "composer.json reformatted", changes: map[string]string{"composer.json": "{\n  \"autoload\": {\n    \"psr-4\": {\n      \"App\\\\\": \"src/\"\n    }\n  }\n}\n"}},
	{name: "body change in a hashed file", changes: map[string]string{"src/Order.php": class("App", "Order") + "__halt_compiler();"}, changed: true},
}

// files is digestBase after the case's changes.
func (tc digestCase) files() map[string]string {
	m := maps.Clone(digestBase)
	for p, c := range tc.changes {
		if c == "" {
			delete(m, p)
		} else {
			m[p] = c
		}
	}
	return m
}

func TestDigest(t *testing.T) {
	want := read(t, digestBase).Digest()
	for _, tc := range digestCases {
		t.Run(tc.name, func(t *testing.T) {
			got := read(t, tc.files()).Digest()
			if (got != want) != tc.changed {
				t.Errorf("Digest changed: %v, want %v", got != want, tc.changed)
			}
		})
	}
}

func TestDigestIgnoresInputOrder(t *testing.T) {
	dir, files := writeApp(t, map[string]string{
		"composer.json": `{"autoload": {"psr-4": {"App\\": "src/"}}}`,
		"src/A.php":     class("App", "A"),
		"src/B.php":     class("App", "B"),
		"src/C/D.php":   class(`App\C`, "D"),
	})
	sorted, err := Read(context.Background(), dir, files)
	if err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(files)
	slices.Reverse(reversed)
	reversed = append(reversed, files[1]) // a duplicate must not count twice
	got, err := Read(context.Background(), dir, reversed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sorted, got); diff != "" {
		t.Errorf("Index (-sorted +reversed):\n%s", diff)
	}
	if sorted.Digest() != got.Digest() {
		t.Error("Digest depends on the order of files")
	}
}

func TestReadFollowsSymlinks(t *testing.T) {
	dir, _ := writeApp(t, map[string]string{
		"composer.json":       `{"autoload": {"psr-4": {"App\\": "src/"}}}`,
		"shared/Money.php":    class(`App\Shared`, "Money"),
		"shared/notes.txt":    "class Fake {}",
		"unrelated/Other.php": class("Other", "Other"),
	})
	if err := os.Mkdir(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared", filepath.Join(dir, "src", "Shared")); err != nil {
		t.Fatal(err)
	}
	// git lists a symlinked directory as one file.
	files := []string{"composer.json", "shared/Money.php", "shared/notes.txt", "src/Shared", "unrelated/Other.php"}
	ix, err := Read(context.Background(), dir, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{
		{Path: "shared/Money.php", Classes: []string{`App\Shared\Money`}},
		{Path: "src/Shared", Classes: []string{}, Hash: digest([]byte("../shared"))},
	}
	if diff := cmp.Diff(want, ix.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// TestReads: the dump's step gets composer's files, everything under the
// autoload dirs and classmap entries whatever its extension or exclusion,
// and the files entries; not the views, assets or front controller. A
// symlink under an autoload dir sends everything.
func TestReads(t *testing.T) {
	files := map[string]string{
		"composer.json": `{"autoload": {"psr-4": {"App\\": "src/"}, "psr-0": {"Old_": "legacy"},
			"classmap": ["lib/", "single.inc"], "files": ["helpers.php"],
			"exclude-from-classmap": ["src/Tests/"]}}`,
		"composer.lock":          `{}`,
		"src/A.php":              "<?php namespace App; class A {}",
		"src/Tests/ATest.php":    "<?php namespace App\\Tests; class ATest {}",
		"src/readme.md":          "not PHP",
		"legacy/Old/Thing.php":   "<?php class Old_Thing {}",
		"lib/deep/x/Y.php":       "<?php class Y {}",
		"single.inc":             "<?php class Single {}",
		"helpers.php":            "<?php function h() {}",
		"public/index.php":       "<?php require '../vendor/autoload.php';",
		"public/css/site.css":    "body{}",
		"views/index.volt":       "{{ x }}",
		"srcx/NotAutoloaded.php": "<?php class N {}",
	}
	dir, all := writeApp(t, files)
	got, err := Reads(dir, all)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"composer.json", "composer.lock", "helpers.php", "legacy/Old/Thing.php", "lib/deep/x/Y.php", "single.inc", "src/A.php", "src/Tests/ATest.php", "src/readme.md"}
	if !slices.Equal(got, want) {
		t.Errorf("Reads = %q\nwant %q", got, want)
	}
	if err := os.Symlink("A.php", filepath.Join(dir, "src", "B.php")); err != nil {
		t.Fatal(err)
	}
	withLink := append(slices.Clone(all), "src/B.php")
	if got, err := Reads(dir, withLink); err != nil || !slices.Equal(got, withLink) {
		t.Errorf("with a symlink: Reads = %q, %v; want every file", got, err)
	}
	noAutoload, noAll := writeApp(t, map[string]string{"composer.json": `{"name": "a/b"}`, "index.php": "<?php"})
	if got, err := Reads(noAutoload, noAll); err != nil || !slices.Equal(got, []string{"composer.json"}) {
		t.Errorf("no autoload section: Reads = %q, %v; want composer.json alone", got, err)
	}
}
