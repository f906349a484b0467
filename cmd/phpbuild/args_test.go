package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// TestTooManyArguments: an extra argument is bad input to every command,
// exit 2 like a wrong flag, and nothing runs.
func TestTooManyArguments(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": index})
	cases := []struct {
		command string
		args    []string // after the command
		want    string
	}{
		{command: "build", args: []string{dir, dir}, want: "phpbuild build takes at most one directory, got 2 arguments"},
		{command: "detect", args: []string{dir, dir}, want: "phpbuild detect takes at most one directory, got 2 arguments"},
		{command: "plan", args: []string{dir, dir, dir}, want: "phpbuild plan takes at most one directory, got 3 arguments"},
		{command: "release", args: []string{dir, dir, "--env", "staging"}, want: "phpbuild release takes at most one directory"},
		{command: "rollback", args: []string{dir, dir, "--env", "staging"}, want: "phpbuild rollback takes at most one directory"},
		{command: "releases", args: []string{dir, dir}, want: "phpbuild releases takes at most one directory"},
		{command: "status", args: []string{dir, dir}, want: "phpbuild status takes at most one directory"},
		{command: "unlock", args: []string{dir, dir}, want: "phpbuild unlock takes at most one directory"},
		{command: "ui", args: []string{dir, dir}, want: "phpbuild ui takes at most one directory"},
		{command: "run", args: []string{dir, dir, "--env", "staging", "--", "php", "-v"}, want: "phpbuild run takes at most one directory"},
		{command: "logs", args: []string{dir, dir, "--env", "staging"}, want: "phpbuild logs takes at most one directory"},
		{command: "maintenance", args: []string{"on", dir, dir, "--env", "staging"}, want: "phpbuild maintenance takes at most one directory"},
		{command: "runtime build", args: []string{"8.2", "--php", "8.2", "--repo", "127.0.0.1:9/rt"}, want: "phpbuild runtime build takes no arguments, got 1"},
		{command: "sbom", args: []string{"127.0.0.1:9/app:1", "x"}, want: "phpbuild sbom takes one IMAGE (a tag or a digest), got 2 arguments"},
		{command: "provenance", args: []string{}, want: "phpbuild provenance takes one IMAGE (a tag or a digest), got 0 arguments"},
		{command: "rebase", args: []string{}, want: "phpbuild rebase takes one IMAGE (a tag or a digest), got 0 arguments"},
		{command: "runtime outdated", args: []string{"x"}, want: "phpbuild runtime outdated takes no arguments, got 1"},
		{command: "runtime ls", args: []string{"127.0.0.1:9/rt"}, want: "phpbuild runtime ls takes no arguments, got 1"},
	}
	for _, tc := range cases {
		t.Run(tc.command, func(t *testing.T) {
			args := append(strings.Fields(tc.command), tc.args...)
			stdout, stderr, code := runMain(t, args...)
			checkBadInput(t, stdout, stderr, code, []string{tc.want}, false)
		})
	}
	t.Run("every command is covered", func(t *testing.T) {
		var want, got []string
		for _, c := range runnable(newRoot()) {
			want = append(want, strings.TrimPrefix(c.CommandPath(), "phpbuild "))
		}
		for _, tc := range cases {
			got = append(got, tc.command)
		}
		sort.Strings(want)
		sort.Strings(got)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("commands not in the table above (-runnable +table):\n%s", d)
		}
	})
}

// runnable is every command below root that runs something, and so takes
// arguments.
func runnable(root *cobra.Command) []*cobra.Command {
	var cmds []*cobra.Command
	for _, c := range root.Commands() {
		if c.Runnable() {
			cmds = append(cmds, c)
		}
		cmds = append(cmds, runnable(c)...)
	}
	return cmds
}

// TestEveryCommandValidatesArguments: a command without an Args validator
// would take any argument silently.
func TestEveryCommandValidatesArguments(t *testing.T) {
	for _, c := range runnable(newRoot()) {
		if c.Args == nil {
			t.Errorf("%s has no Args validator", c.CommandPath())
		}
	}
}
