package detect_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
)

// committed is an app as a commit holds it: git keeps var/ and storage/ by
// the files in them.
var committed = map[string]string{
	"composer.json":                      composerJSON,
	"composer.lock":                      composerLock,
	"public/index.php":                   "<?php\n",
	"src/Kernel.php":                     "<?php\n",
	"templates/base.volt":                "{{ content() }}\n",
	"var/log/.gitkeep":                   "",
	"storage/framework/cache/.gitignore": "*\n!.gitignore\n",
	".gitignore":                         "/cache/\n/var/cache/\n/vendor/\n.env.local\n",
}

func fileList(files map[string]string) []string {
	var out []string
	for f := range files {
		out = append(out, f)
	}
	return out
}

// A work tree with untracked empty dirs and ignored files detects, given the
// commit's files, exactly as a fresh clone of the commit does.
func TestDetectWithFilesMatchesClone(t *testing.T) {
	worktree := writeApp(t, committed)
	writeFiles(t, worktree, map[string]string{
		"var/cache/":                      "", // an empty, untracked dir
		"var/cache/prod/Container.php":    "<?php\n",
		"cache/pages/home.html":           "<p>cached</p>\n", // ignored, with files
		"app/cache/":                      "",
		"writable/":                       "",
		"vendor/autoload.php":             "<?php\n",
		"views/scratch.volt":              "{{ x }}\n",
		".env.local":                      "APP_SECRET=x\n",
		"api/public/index.php":            "<?php\n",
		"storage/framework/cache/data/ab": "x",
	})
	clone := writeApp(t, committed)
	list := fileList(committed)

	got := detectWith(t, worktree, detect.WithFiles(list))
	for _, tc := range []struct {
		name string
		app  *detect.App
	}{
		{"clone, walked", detectApp(t, clone)},
		{"clone, listed", detectWith(t, clone, detect.WithFiles(list))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(factsOf(tc.app), factsOf(got)); diff != "" {
				t.Errorf("facts (-clone +work tree):\n%s", diff)
			}
			if diff := cmp.Diff(tc.app.Files, got.Files); diff != "" {
				t.Errorf("Files (-clone +work tree):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff([]string{"storage", "var"}, got.Writable); diff != "" {
		t.Errorf("Writable (-want +got):\n%s", diff)
	}
	// The walk of the work tree sees the extras: the list is what keeps
	// them out.
	walked := detectApp(t, worktree)
	if diff := cmp.Diff([]string{"cache", "storage", "var"}, walked.Writable); diff != "" {
		t.Errorf("walked Writable (-want +got):\n%s", diff)
	}
}

func TestDetectWithFilesLeavesOut(t *testing.T) {
	dir := writeApp(t, map[string]string{
		"index.php":                        "<?php\n",
		"vendor/acme/x/composer.json":      "{}",
		"node_modules/x/package.json":      "{}",
		"lib/sub/README":                   "", // a submodule: git lists "lib/sub"
		"packages/greeter/vendor/x.php":    "<?php\n",
		"packages/greeter/node_modules/x":  "",
		"packages/greeter/.git/HEAD":       "ref: refs/heads/main\n",
		"packages/greeter/src/Greeter.php": "<?php\n",
	})
	a := detectWith(t, dir, detect.WithFiles([]string{
		"packages/greeter/src/Greeter.php", "index.php", "index.php",
		"vendor/acme/x/composer.json", "node_modules/x/package.json", "lib/sub",
		"packages/greeter/vendor/x.php", "packages/greeter/node_modules/x", "packages/greeter/.git/HEAD",
	}))
	want := []string{"index.php", "packages/greeter/node_modules/x", "packages/greeter/src/Greeter.php", "packages/greeter/vendor/x.php"}
	if diff := cmp.Diff(want, a.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

func TestDetectWithFilesDirs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string // on disk
		list     []string
		wantRoot string
		wantErr  string // a part of a *badinput.Error; "" for none
	}{
		{
			name:     "a symlinked public/ that is listed",
			files:    map[string]string{"index.php": "<?php\n", "releases/1/index.php": "<?php\n", "public": "->releases/1"},
			list:     []string{"index.php", "public", "releases/1/index.php"},
			wantRoot: "public",
		},
		{
			name:     "a symlinked public/ that is not listed",
			files:    map[string]string{"index.php": "<?php\n", "releases/1/index.php": "<?php\n", "public": "->releases/1"},
			list:     []string{"index.php", "releases/1/index.php"},
			wantRoot: ".",
		},
		{
			name:     "public/index.php on disk, not listed",
			files:    map[string]string{"index.php": "<?php\n", "public/index.php": "<?php\n"},
			list:     []string{"index.php"},
			wantRoot: ".",
		},
		{
			name:    "web_root on disk, not listed",
			files:   map[string]string{"index.php": "<?php\n", "htdocs/index.php": "<?php\n", "project.toml": "[build]\nweb_root = \"htdocs\"\n"},
			list:    []string{"index.php", "project.toml"},
			wantErr: `"htdocs" is not a directory of the app`,
		},
		{
			name:    "volt dir on disk, not listed",
			files:   map[string]string{"index.php": "<?php\n", "views/a.volt": "", "project.toml": "[volt]\ndirs = [\"views\"]\n"},
			list:    []string{"index.php", "project.toml"},
			wantErr: `"views" is not a directory of the app`,
		},
		{
			name:    "a listed file missing",
			files:   map[string]string{"index.php": "<?php\n"},
			list:    []string{"index.php", "src/Gone.php"},
			wantErr: "no such file or directory",
		},
		{
			name:    "a listed symlink loop",
			files:   map[string]string{"index.php": "<?php\n", "loop": "->loop"},
			list:    []string{"index.php", "loop"},
			wantErr: "symlink loop",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			a, err := detect.Detect(context.Background(), dir, detect.WithFiles(tc.list))
			if tc.wantErr != "" {
				if !badinput.Is(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Detect error = %v, want a *badinput.Error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.WebRoot != tc.wantRoot {
				t.Errorf("WebRoot = %q, want %q", a.WebRoot, tc.wantRoot)
			}
		})
	}
}

// Names that are not clean paths inside the app are the caller's mistake,
// not the user's.
func TestDetectWithFilesBadNames(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": "<?php\n"})
	for _, name := range []string{"", ".", "..", "../x", "/etc/passwd", "a//b", "a/./b", "a/"} {
		_, err := detect.Detect(context.Background(), dir, detect.WithFiles([]string{"index.php", name}))
		if err == nil || badinput.Is(err) || !strings.Contains(err.Error(), "WithFiles") {
			t.Errorf("WithFiles(%q): error %v, want one naming WithFiles that is not bad input", name, err)
		}
	}
}

func TestDetectWithFilesNotPHPApp(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": "<?php\n"})
	_, err := detect.Detect(context.Background(), dir, detect.WithFiles(nil))
	if !errors.Is(err, detect.ErrNotPHPApp) {
		t.Errorf("Detect with no files: %v, want ErrNotPHPApp", err)
	}
}

func detectWith(t *testing.T, dir string, opts ...detect.Option) *detect.App {
	t.Helper()
	a, err := detect.Detect(context.Background(), dir, opts...)
	if err != nil {
		t.Fatalf("Detect(%s): %v", dir, err)
	}
	return a
}
