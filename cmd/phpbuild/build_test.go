package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/phpbuild/phpbuild/internal/gittest"
)

// TestBuildBadInput: each refusal happens before anything is built or
// pushed, so no test bed is needed.
func TestBuildBadInput(t *testing.T) {
	gittest.Require(t)
	composer := map[string]string{"composer.json": `{"require": {"php": ">=8.2"}}`, "public/index.php": index}
	for _, tc := range []struct {
		name  string
		files map[string]string
		git   string // "", "init", "commit", "dirty"
		args  []string
		want  []string
	}{
		{name: "not a git repo", files: map[string]string{"index.php": index}, want: []string{"not a git repository"}},
		{name: "no commits", files: map[string]string{"index.php": index}, git: "init", want: []string{"no commits yet"}},
		{name: "dirty tree", files: map[string]string{"index.php": index}, git: "dirty", want: []string{"uncommitted changes", "index.php", "--allow-dirty"}},
		{name: "no composer.lock", files: composer, git: "commit", want: []string{"composer.json: no composer.lock", "commit composer.lock"}},
		{name: "bad output", files: map[string]string{"index.php": index}, git: "commit", args: []string{"build", "{DIR}", "--output", "zip:x"}, want: []string{"--output", "docker, oci:DIR, tar:FILE"}},
		{name: "output without path", files: map[string]string{"index.php": index}, git: "commit", args: []string{"build", "{DIR}", "--output", "tar:"}, want: []string{"--output", "tar needs a path"}},
		{name: "nowhere to put it", files: map[string]string{"index.php": index}, git: "commit", args: []string{"build", "{DIR}"}, want: []string{"nowhere to put the image"}},
		{name: "push without image", files: map[string]string{"index.php": index}, git: "commit", args: []string{"build", "{DIR}", "--push"}, want: []string{"--push needs --image"}},
		{name: "bad image name", files: map[string]string{"index.php": index}, git: "commit", args: []string{"build", "{DIR}", "--image", "Not/Valid:repo:x"}, want: []string{"--image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			switch tc.git {
			case "init":
				gittest.Init(t, dir)
			case "commit":
				gittest.InitCommit(t, dir)
			case "dirty":
				gittest.InitCommit(t, dir)
				if err := os.WriteFile(filepath.Join(dir, "index.php"), []byte("<?php echo 2;\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := tc.args
			if args == nil {
				args = []string{"build", "{DIR}", "--output", "oci:" + filepath.Join(t.TempDir(), "oci"), "--runtimes", "127.0.0.1:9/none"}
			}
			for i := range args {
				if args[i] == "{DIR}" {
					args[i] = dir
				}
			}
			stdout, stderr, code := runMain(t, args...)
			checkBadInput(t, stdout, stderr, code, tc.want, false)
		})
	}
}
