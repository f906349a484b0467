package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/gittest"
)

// commitDate is every test commit's date; not UTC, so the tests see that
// Commit.Time is converted.
const commitDate = "2024-01-02T03:04:05+02:00"

var commitTime = time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)

func requireGit(t *testing.T) { t.Helper(); gittest.Require(t) }

// git runs git in dir, every commit dated commitDate.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.GitAt(t, commitDate, dir, args...)
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	gittest.Write(t, dir, name, content)
}

// commitAll commits everything in dir and returns the new sha.
func commitAll(t *testing.T, dir, msg string) string {
	t.Helper()
	return gittest.CommitAll(t, dir, msg, commitDate)
}

// commits makes n empty commits.
func commits(t *testing.T, dir string, n int) string {
	t.Helper()
	var sha string
	for i := range n {
		sha = commitAll(t, dir, fmt.Sprintf("commit %d", i))
	}
	return sha
}

func readCommit(t *testing.T, dir string) *Commit {
	t.Helper()
	c, err := ReadCommit(t.Context(), dir)
	if err != nil {
		t.Fatalf("ReadCommit(%s): %v", dir, err)
	}
	checkVersion(t, c.Version)
	return c
}

// checkVersion asserts what Commit.Version promises: strict semver and a
// valid OCI tag.
func checkVersion(t *testing.T, v string) {
	t.Helper()
	if _, err := semver.StrictNewVersion(v); err != nil {
		t.Errorf("Version %q is not strict semver: %v", v, err)
	}
	if !ociTag.MatchString(v) {
		t.Errorf("Version %q is not a valid OCI tag", v)
	}
}

func TestReadCommitClean(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	writeFile(t, dir, "src/b.php", "<?php\n")
	writeFile(t, dir, "a.php", "<?php\n")
	sha := commitAll(t, dir, "one")

	git(t, dir, "tag", "main") // a tag named like the branch must not change Branch

	c := readCommit(t, dir)
	want := &Commit{
		SHA:     sha,
		Time:    commitTime,
		Subject: "one",
		Branch:  "main",
		Version: "0.0.0-dev.1.g" + sha[:12],
		Files:   []string{"a.php", "src/b.php"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("ReadCommit (-want +got):\n%s", diff)
	}
	if c.Time.Location() != time.UTC {
		t.Errorf("Time in %v, want UTC", c.Time.Location())
	}
}

// ReadCommitEarly names HEAD and its parent before it returns: "" for the
// parent of a root commit.
func TestReadCommitEarly(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	writeFile(t, dir, "a.php", "<?php\n")
	root := commitAll(t, dir, "root")
	var got [][2]string
	early := func(head, parent string) { got = append(got, [2]string{head, parent}) }
	if _, err := ReadCommitEarly(t.Context(), dir, early); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "a.php", "<?php // two\n")
	second := commitAll(t, dir, "second")
	c, err := ReadCommitEarly(t.Context(), dir, early)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{root, ""}, {second, root}}; !slices.Equal(got, want) {
		t.Errorf("told %q, want %q", got, want)
	}
	if c.SHA != second || len(c.Ancestors) != 1 || c.Ancestors[0] != root {
		t.Errorf("read %s with ancestors %q, want %s with %s", c.SHA, c.Ancestors, second, root)
	}
}

func TestReadCommitVersion(t *testing.T) {
	requireGit(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // dir has one commit
		wantTag string
		want    string // %s is HEAD's sha12
	}{
		{
			name:    "exact tag",
			setup:   func(t *testing.T, dir string) { git(t, dir, "tag", "v1.2.3") },
			wantTag: "v1.2.3",
			want:    "1.2.3",
		},
		{
			name:    "exact annotated tag",
			setup:   func(t *testing.T, dir string) { git(t, dir, "tag", "-a", "-m", "release", "v1.2.3") },
			wantTag: "v1.2.3",
			want:    "1.2.3",
		},
		{
			name:    "exact pre-release tag",
			setup:   func(t *testing.T, dir string) { git(t, dir, "tag", "v2.0.0-rc.1") },
			wantTag: "v2.0.0-rc.1",
			want:    "2.0.0-rc.1",
		},
		{
			name: "two tags on HEAD pick the highest",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "v1.10.0")
				git(t, dir, "tag", "-a", "-m", "older", "v1.9.0")
			},
			wantTag: "v1.10.0",
			want:    "1.10.0",
		},
		{
			name: "non-semver tags ignored",
			setup: func(t *testing.T, dir string) {
				for _, tag := range []string{"v1.0", "release-2", "1.2.3", "v1.2.3+build.5", "v01.2.3"} {
					git(t, dir, "tag", tag)
				}
			},
			want: "0.0.0-dev.1.g%s",
		},
		{
			name: "commits after a release",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "v1.2.3")
				commits(t, dir, 3)
			},
			want: "1.2.4-dev.3.g%s",
		},
		{
			name: "commits after an annotated release",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "-a", "-m", "release", "v1.2.3")
				commits(t, dir, 2)
			},
			want: "1.2.4-dev.2.g%s",
		},
		{
			name: "commits after a pre-release",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "v1.2.3")
				commits(t, dir, 1)
				git(t, dir, "tag", "v2.0.0-rc.1")
				commits(t, dir, 2)
			},
			want: "2.0.0-rc.1.dev.2.g%s",
		},
		{
			name:  "no tags",
			setup: func(t *testing.T, dir string) { commits(t, dir, 2) },
			want:  "0.0.0-dev.3.g%s",
		},
		{
			// describe prefers the annotated tag on a commit.
			name: "highest of the tags on the nearest tagged commit",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "-a", "-m", "release", "v1.2.3")
				git(t, dir, "tag", "v1.3.0")
				commits(t, dir, 1)
			},
			want: "1.3.1-dev.1.g%s",
		},
		{
			name: "nearest v tag is not semver",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "v1.2.3")
				commits(t, dir, 1)
				git(t, dir, "tag", "v1.3")
				commits(t, dir, 1)
			},
			want: "1.2.4-dev.2.g%s",
		},
		{
			name: "tags outside HEAD's history ignored",
			setup: func(t *testing.T, dir string) {
				git(t, dir, "tag", "v1.2.3")
				git(t, dir, "checkout", "-q", "-b", "other")
				writeFile(t, dir, "other.php", "")
				commitAll(t, dir, "other")
				git(t, dir, "tag", "v9.0.0")
				git(t, dir, "checkout", "-q", "main")
				commits(t, dir, 1)
			},
			want: "1.2.4-dev.1.g%s",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := gittest.NewRepo(t)
			commitAll(t, dir, "initial")
			tc.setup(t, dir)
			sha := git(t, dir, "rev-parse", "HEAD")

			c := readCommit(t, dir)
			want := tc.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, sha[:12])
			}
			if c.Tag != tc.wantTag || c.Version != want {
				t.Errorf("Tag, Version = %q, %q; want %q, %q", c.Tag, c.Version, tc.wantTag, want)
			}
		})
	}
}

// TestReadCommitDevVersionOrder checks dev versions sort after the tag they
// count from and before the next release.
func TestReadCommitDevVersionOrder(t *testing.T) {
	tests := []struct{ tag, next string }{
		{"v1.2.3", "1.2.4"},
		{"v2.0.0-rc.1", "2.0.0-rc.2"},
	}
	for _, tc := range tests {
		t.Run(tc.tag, func(t *testing.T) {
			requireGit(t)
			t.Parallel()
			dir := gittest.NewRepo(t)
			commitAll(t, dir, "initial")
			git(t, dir, "tag", tc.tag)
			commits(t, dir, 12)
			v := semver.MustParse(readCommit(t, dir).Version)
			if tag := semver.MustParse(tc.tag); !v.GreaterThan(tag) {
				t.Errorf("%s <= %s", v, tag)
			}
			if next := semver.MustParse(tc.next); !v.LessThan(next) {
				t.Errorf("%s >= %s", v, next)
			}
		})
	}
}

func TestReadCommitDetachedHEAD(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	sha := commits(t, dir, 2)
	git(t, dir, "checkout", "-q", "--detach", "HEAD~1")

	c := readCommit(t, dir)
	if c.Branch != "" {
		t.Errorf("Branch = %q, want empty for a detached HEAD", c.Branch)
	}
	if c.SHA == sha {
		t.Errorf("SHA = %s, the branch tip, not the checked-out commit", c.SHA)
	}
}

func TestReadCommitDirty(t *testing.T) {
	requireGit(t)
	tests := []struct {
		name      string
		change    func(t *testing.T, dir string)
		wantDirty []string // nil: clean
		wantFiles []string
	}{
		{
			name:      "clean",
			change:    func(t *testing.T, dir string) {},
			wantFiles: []string{".gitignore", "a.php", "b.php"},
		},
		{
			name:      "tracked change",
			change:    func(t *testing.T, dir string) { writeFile(t, dir, "a.php", "<?php echo 1;\n") },
			wantDirty: []string{"a.php"},
			wantFiles: []string{".gitignore", "a.php", "b.php"},
		},
		{
			name:      "staged change",
			change:    func(t *testing.T, dir string) { writeFile(t, dir, "a.php", "changed"); git(t, dir, "add", "a.php") },
			wantDirty: []string{"a.php"},
			wantFiles: []string{".gitignore", "a.php", "b.php"},
		},
		{
			name:      "untracked file",
			change:    func(t *testing.T, dir string) { writeFile(t, dir, "new.php", "<?php\n") },
			wantDirty: []string{"new.php"},
			wantFiles: []string{".gitignore", "a.php", "b.php", "new.php"},
		},
		{
			name:      "untracked directory",
			change:    func(t *testing.T, dir string) { writeFile(t, dir, "lib/x.php", ""); writeFile(t, dir, "lib/y.php", "") },
			wantDirty: []string{"lib/"},
			wantFiles: []string{".gitignore", "a.php", "b.php", "lib/x.php", "lib/y.php"},
		},
		{
			name: "ignored file",
			change: func(t *testing.T, dir string) {
				writeFile(t, dir, "debug.log", "x")
				writeFile(t, dir, "cache/c.log", "x")
			},
			wantFiles: []string{".gitignore", "a.php", "b.php"},
		},
		{
			name: "deleted tracked file",
			change: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "b.php")); err != nil {
					t.Fatal(err)
				}
			},
			wantDirty: []string{"b.php"},
			wantFiles: []string{".gitignore", "a.php"},
		},
		{
			name:      "rename",
			change:    func(t *testing.T, dir string) { git(t, dir, "mv", "b.php", "c.php") },
			wantDirty: []string{"c.php"},
			wantFiles: []string{".gitignore", "a.php", "c.php"},
		},
		{
			name: "untracked nested repository",
			change: func(t *testing.T, dir string) {
				writeFile(t, dir, "nested/f.php", "")
				git(t, filepath.Join(dir, "nested"), "init", "-q")
			},
			wantDirty: []string{"nested/"},
			wantFiles: []string{".gitignore", "a.php", "b.php"},
		},
		{
			name: "at most ten dirty files named",
			change: func(t *testing.T, dir string) {
				for i := range 12 {
					writeFile(t, dir, fmt.Sprintf("n%02d.php", i), "")
				}
			},
			wantDirty: []string{"n00.php", "n01.php", "n02.php", "n03.php", "n04.php", "n05.php", "n06.php", "n07.php", "n08.php", "n09.php"},
			wantFiles: []string{
				".gitignore", "a.php", "b.php",
				"n00.php", "n01.php", "n02.php", "n03.php", "n04.php", "n05.php",
				"n06.php", "n07.php", "n08.php", "n09.php", "n10.php", "n11.php",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := gittest.NewRepo(t)
			writeFile(t, dir, ".gitignore", "*.log\n")
			writeFile(t, dir, "a.php", "<?php\n")
			writeFile(t, dir, "b.php", "<?php\n")
			commitAll(t, dir, "initial")
			tc.change(t, dir)

			c := readCommit(t, dir)
			if c.Dirty != (tc.wantDirty != nil) {
				t.Errorf("Dirty = %v, want %v", c.Dirty, tc.wantDirty != nil)
			}
			if diff := cmp.Diff(tc.wantDirty, c.DirtyFiles); diff != "" {
				t.Errorf("DirtyFiles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantFiles, c.Files); diff != "" {
				t.Errorf("Files (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadCommitSubdir reads an app inside a monorepo: paths are relative to
// the app and only its changes count.
func TestReadCommitSubdir(t *testing.T) {
	requireGit(t)
	t.Parallel()
	root := gittest.NewRepo(t)
	writeFile(t, root, "apps/shop/composer.json", "{}")
	writeFile(t, root, "apps/shop/src/Cart.php", "<?php\n")
	writeFile(t, root, "apps/blog/index.php", "<?php\n")
	writeFile(t, root, "README.md", "")
	sha := commitAll(t, root, "initial")
	app := filepath.Join(root, "apps", "shop")

	writeFile(t, root, "apps/blog/index.php", "<?php // changed\n")
	writeFile(t, root, "README.md", "changed")
	writeFile(t, root, "untracked.txt", "")

	c := readCommit(t, app)
	if c.SHA != sha {
		t.Errorf("SHA = %s, want %s", c.SHA, sha)
	}
	if c.Dirty {
		t.Errorf("changes outside the app made it dirty: %v", c.DirtyFiles)
	}
	if diff := cmp.Diff([]string{"composer.json", "src/Cart.php"}, c.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}

	writeFile(t, root, "apps/shop/src/Cart.php", "<?php // changed\n")
	writeFile(t, root, "apps/shop/src/New.php", "<?php\n")
	c = readCommit(t, app)
	if !c.Dirty {
		t.Error("Dirty = false after changing a file of the app")
	}
	if diff := cmp.Diff([]string{"src/Cart.php", "src/New.php"}, c.DirtyFiles); diff != "" {
		t.Errorf("DirtyFiles (-want +got):\n%s", diff)
	}
}

func TestReadCommitShallowClone(t *testing.T) {
	requireGit(t)
	t.Parallel()
	src := gittest.NewRepo(t)
	commitAll(t, src, "initial")
	git(t, src, "tag", "v1.2.3")
	commits(t, src, 3)

	dst := filepath.Join(t.TempDir(), "clone")
	git(t, src, "clone", "-q", "--depth", "1", "file://"+filepath.ToSlash(src), dst)
	sha := git(t, dst, "rev-parse", "HEAD")

	c := readCommit(t, dst)
	if !c.Shallow {
		t.Error("Shallow = false in a --depth 1 clone")
	}
	// The tag is outside the fetched history, so the version cannot see it.
	if want := "0.0.0-dev.1.g" + sha[:12]; c.Version != want {
		t.Errorf("Version = %q, want %q", c.Version, want)
	}

	if readCommit(t, src).Shallow {
		t.Error("Shallow = true in a full repository")
	}
}

// TestReadCommitIgnoresUserConfig sets config that changes git's output for
// people; what ReadCommit parses must stay the same.
func TestReadCommitIgnoresUserConfig(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	writeFile(t, dir, "a.php", "<?php\n")
	commitAll(t, dir, "initial")
	git(t, dir, "tag", "v1.0.0")
	git(t, dir, "tag", "v1.1.0")
	for _, kv := range [][2]string{
		{"color.ui", "always"},
		{"core.quotepath", "true"},
		{"status.showUntrackedFiles", "no"},
		{"status.short", "true"},
		{"status.branch", "true"},
		{"column.ui", "always"},
		{"tag.sort", "-version:refname"},
		{"log.showSignature", "true"},
		{"format.pretty", "oneline"},
	} {
		git(t, dir, "config", kv[0], kv[1])
	}
	writeFile(t, dir, "café.php", "<?php\n")

	c := readCommit(t, dir)
	if c.Tag != "v1.1.0" || c.Version != "1.1.0" {
		t.Errorf("Tag, Version = %q, %q; want v1.1.0, 1.1.0", c.Tag, c.Version)
	}
	if !c.Time.Equal(commitTime) {
		t.Errorf("Time = %v, want %v", c.Time, commitTime)
	}
	if diff := cmp.Diff([]string{"café.php"}, c.DirtyFiles); diff != "" {
		t.Errorf("DirtyFiles (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a.php", "café.php"}, c.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// TestReadCommitIgnoresGitDirEnv: a GIT_DIR exported by a hook or `git
// rebase --exec` must not make ReadCommit read another repository.
func TestReadCommitIgnoresGitDirEnv(t *testing.T) {
	requireGit(t)
	other := gittest.NewRepo(t)
	commitAll(t, other, "other")
	dir := gittest.NewRepo(t)
	sha := commitAll(t, dir, "mine")
	t.Setenv("GIT_DIR", filepath.Join(other, ".git"))
	t.Setenv("GIT_WORK_TREE", other)

	if c := readCommit(t, dir); c.SHA != sha {
		t.Errorf("SHA = %s, want %s of dir, not of GIT_DIR", c.SHA, sha)
	}
}

func TestReadCommitBadInput(t *testing.T) {
	requireGit(t)
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want string
	}{
		{
			name: "not a repository",
			dir: func(t *testing.T) string {
				dir := t.TempDir()
				cmd := exec.Command("git", "rev-parse", "--git-dir")
				cmd.Dir = dir
				cmd.Env = gittest.Env(commitDate)
				if cmd.Run() == nil {
					t.Skip("the temp dir is inside a git repository")
				}
				return dir
			},
			want: "not a git repository",
		},
		{
			name: "inside .git",
			dir: func(t *testing.T) string {
				dir := gittest.NewRepo(t)
				commitAll(t, dir, "initial")
				return filepath.Join(dir, ".git")
			},
			want: "not a git repository",
		},
		{
			name: "no commits",
			dir:  func(t *testing.T) string { return gittest.NewRepo(t) },
			want: "has no commits yet",
		},
		{
			name: "missing dir",
			dir:  func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") },
			want: "no such file or directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.dir(t)
			_, err := ReadCommit(t.Context(), dir)
			t.Log(err)
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("ReadCommit error = %v, want a *badinput.Error", err)
			}
			if be.File != dir {
				t.Errorf("File = %q, want %q", be.File, dir)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestReadCommitGitFailure: a broken repository is not the user's input to
// fix in phpbuild's sense, and git's own reason is in the message.
func TestReadCommitGitFailure(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	sha := commitAll(t, dir, "initial")
	if err := os.Remove(filepath.Join(dir, ".git", "objects", sha[:2], sha[2:])); err != nil {
		t.Fatal(err)
	}
	_, err := ReadCommit(t.Context(), dir)
	t.Log(err)
	if err == nil || badinput.Is(err) {
		t.Fatalf("ReadCommit error = %v, want a git failure", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "fatal: ") || strings.Contains(msg, "\n") {
		t.Errorf("error %q, want git's fatal: line and one line only", msg)
	}
}

func TestReadCommitGitMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	_, err := ReadCommit(t.Context(), dir)
	if err == nil || !strings.Contains(err.Error(), "git not found in PATH") {
		t.Errorf("ReadCommit error = %v, want git not found in PATH", err)
	}
	if badinput.Is(err) {
		t.Errorf("missing git is not input the user must fix: %v", err)
	}
}

func TestReadCommitCanceled(t *testing.T) {
	requireGit(t)
	t.Parallel()
	dir := gittest.NewRepo(t)
	commitAll(t, dir, "initial")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ReadCommit(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadCommit error = %v, want context.Canceled", err)
	}
}

func TestGitErrorLine(t *testing.T) {
	tests := []struct{ stderr, want string }{
		{"fatal: bad object HEAD\n", "fatal: bad object HEAD"},
		{"warning: x\nfatal: y\nhint: z\n", "fatal: y"},
		{"something odd\nmore\n", "something odd"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := firstErrorLine(tc.stderr); got != tc.want {
			t.Errorf("firstErrorLine(%q) = %q, want %q", tc.stderr, got, tc.want)
		}
	}
}

func TestGitParseDescribe(t *testing.T) {
	tests := []struct {
		in     string
		tag    string
		n      int
		abbrev string
		isOK   bool
	}{
		{"v1.2.3-4-g0123456789ab", "v1.2.3", 4, "0123456789ab", true},
		{"v2.0.0-rc.1-0-g0123456789ab", "v2.0.0-rc.1", 0, "0123456789ab", true},
		{"v1-g-x-12-gabcdef", "v1-g-x", 12, "abcdef", true},
		{"0123456789ab", "", 0, "", false},
	}
	for _, tc := range tests {
		tag, n, abbrev, ok := parseDescribe(tc.in)
		if tag != tc.tag || n != tc.n || abbrev != tc.abbrev || ok != tc.isOK {
			t.Errorf("parseDescribe(%q) = %q, %d, %q, %v; want %q, %d, %q, %v", tc.in, tag, n, abbrev, ok, tc.tag, tc.n, tc.abbrev, tc.isOK)
		}
	}
}
