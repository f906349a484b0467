package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestRegistryOptions: the flag wins over the environment, and errors name
// the flag the command has.
func TestRegistryOptions(t *testing.T) {
	for _, tc := range []struct {
		name, flag, repo, env string
		want                  string // the repo, or a substring of the error
		usage                 bool   // the error is a usage error
	}{
		{name: "flag", flag: "repo", repo: "r.example/a", env: "r.example/b", want: "r.example/a"},
		{name: "environment", flag: "repo", env: "r.example/b", want: "r.example/b"},
		{name: "neither", flag: "repo", want: "phpbuild runtime ls: --repo REGISTRY/REPO is required (or set PHPBUILD_RUNTIME_REPO)", usage: true},
		{name: "bad flag", flag: "runtimes", repo: "Not A Repo", want: `--runtimes "Not A Repo"`, usage: true},
		{name: "bad environment", flag: "repo", env: "Not A Repo", want: `--repo "Not A Repo"`, usage: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := &cobra.Command{Use: "phpbuild"}
			cmd := &cobra.Command{Use: "ls"}
			runtime := &cobra.Command{Use: "runtime"}
			runtime.AddCommand(cmd)
			root.AddCommand(runtime)
			o := registryOptions{Default: tc.env}
			o.AddFlags(cmd, tc.flag, "")
			if tc.repo != "" {
				if err := cmd.Flags().Set(tc.flag, tc.repo); err != nil {
					t.Fatal(err)
				}
			}
			repo, err := o.requiredRepository(cmd)
			var ue *usageError
			switch {
			case err != nil && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			case err != nil && errors.As(err, &ue) != tc.usage:
				t.Errorf("error %q: usage error %v, want %v", err, !tc.usage, tc.usage)
			case err == nil && (tc.usage || repo.String() != tc.want):
				t.Errorf("got repo %q, want %q", repo, tc.want)
			}
		})
	}
}
