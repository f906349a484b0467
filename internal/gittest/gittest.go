// Package gittest makes the git repositories tests build from: git run
// with the tester's own config, identity and any GIT_DIR of a hook kept
// out, so a test sees the same repository on every machine.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Require skips t where git is not installed.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not in PATH")
	}
}

// Env is the environment git runs in: no global or system config, a fixed
// identity and, when when is not "", author and committer dates.
func Env(when string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GIT_")
	})
	env = append(env,
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
	)
	if when != "" {
		env = append(env, "GIT_AUTHOR_DATE="+when, "GIT_COMMITTER_DATE="+when)
	}
	return env
}

// Git runs git in dir and returns its trimmed stdout; a failure fails t
// with git's stderr.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	return GitAt(t, "", dir, args...)
}

// GitAt is Git with commits dated when (RFC 3339 or any date git reads).
func GitAt(t testing.TB, when, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = Env(when)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// Init makes dir a repository on branch main.
func Init(t testing.TB, dir string) {
	t.Helper()
	Git(t, dir, "init", "-q", "-b", "main")
}

// NewRepo is a new, empty repository on branch main in a temp dir.
func NewRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	Init(t, dir)
	return dir
}

// CommitAll commits every change in dir, dated when ("" is now), and
// returns the new commit's sha.
func CommitAll(t testing.TB, dir, msg, when string) string {
	t.Helper()
	GitAt(t, when, dir, "add", "-A")
	GitAt(t, when, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

// InitCommit makes dir, with the files in it, a repository on branch main
// with one commit.
func InitCommit(t testing.TB, dir string) {
	t.Helper()
	Init(t, dir)
	CommitAll(t, dir, "first", "")
}

// Write writes dir/rel (slash-separated), making its parent dirs.
func Write(t testing.TB, dir, rel, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
