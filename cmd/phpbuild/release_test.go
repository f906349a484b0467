package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestReleaseBadInput: every refusal comes before the docker host is
// touched, so no test bed is needed.
func TestReleaseBadInput(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	project := func(extra string) string {
		return "[environments.staging]\nimage = \"127.0.0.1:9/app\"\nport = 18999\nenv_files = [\"deploy/staging.env\"]\nsecrets = [\"PHPBUILD_TEST_SECRET_NOT_SET\"]\n" + extra
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		args  []string
		want  []string
	}{
		{name: "no --env", files: map[string]string{"index.php": index}, args: []string{"release", "{DIR}"}, want: []string{"--env NAME is required"}},
		{name: "unknown environment", files: map[string]string{"index.php": index, "project.toml": project("")}, args: []string{"release", "{DIR}", "--env", "prod"}, want: []string{"project.toml", "environments.prod", "defined: staging"}},
		{name: "env file syntax error", files: map[string]string{"index.php": index, "project.toml": project(""), "deploy/staging.env": "A=1\nB=\"open\n"}, args: []string{"release", "{DIR}", "--env", "staging", "--image", "v1"}, want: []string{"staging.env:2", "unterminated"}},
		{name: "env file missing", files: map[string]string{"index.php": index, "project.toml": project("")}, args: []string{"release", "{DIR}", "--env", "staging", "--image", "v1"}, want: []string{"staging.env"}},
		{name: "missing secret", files: map[string]string{"index.php": index, "project.toml": project(""), "deploy/staging.env": "A=1\n"}, args: []string{"release", "{DIR}", "--env", "staging", "--image", "v1"}, want: []string{"project.toml", "environments.staging.secrets", "PHPBUILD_TEST_SECRET_NOT_SET", "not set"}},
		{name: "no image and no git", files: map[string]string{"index.php": index, "project.toml": project(""), "deploy/staging.env": "A=1\n"}, args: []string{"release", "{DIR}", "--env", "staging"}, want: []string{"not a git repository"}},
		{name: "bad drain timeout", files: map[string]string{"index.php": index, "project.toml": project("drain_timeout = \"soon\"\n")}, args: []string{"release", "{DIR}", "--env", "staging"}, want: []string{"project.toml", "drain_timeout"}},
		{name: "rollback to an unknown flag", files: map[string]string{"index.php": index}, args: []string{"rollback", "{DIR}", "--env", "staging", "--too", "x"}, want: []string{"unknown flag: --too"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeApp(t, tc.files)
			args := append([]string{}, tc.args...)
			for i := range args {
				if args[i] == "{DIR}" {
					args[i] = dir
				}
			}
			os.Unsetenv("PHPBUILD_TEST_SECRET_NOT_SET")
			stdout, stderr, code := runMain(t, args...)
			checkBadInput(t, stdout, stderr, code, tc.want, false)
		})
	}
}
