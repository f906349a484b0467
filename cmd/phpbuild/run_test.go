package main

import (
	"testing"
)

// TestRunBadInput: a run without a command, or with a wrong DIR or
// environment, is refused before the docker host is asked.
func TestRunBadInput(t *testing.T) {
	project := "[environments.staging]\nimage = \"127.0.0.1:9/app\"\nport = 18999\n"
	dir := writeApp(t, map[string]string{"index.php": index, "project.toml": project})
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "no --", args: []string{"run", dir, "--env", "staging"}, want: []string{"phpbuild run needs a command after --"}},
		{name: "nothing after --", args: []string{"run", dir, "--env", "staging", "--"}, want: []string{"phpbuild run needs a command after --"}},
		{name: "a command without --", args: []string{"run", "--env", "staging", "php", "-v"}, want: []string{"unknown shorthand flag: 'v'"}},
		{name: "no --env", args: []string{"run", dir, "--", "php", "-v"}, want: []string{"--env NAME is required"}},
		{name: "unknown environment", args: []string{"run", dir, "--env", "prod", "--", "php", "-v"}, want: []string{"project.toml", "environments.prod"}},
		{name: "two dirs", args: []string{"run", dir, dir, "--env", "staging", "--", "php"}, want: []string{"phpbuild run takes at most one directory, got 2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, tc.args...)
			checkBadInput(t, stdout, stderr, code, tc.want, false)
		})
	}
}
