package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "phpbuild",
		Short: "Build one immutable OCI image per commit of a PHP/Phalcon app, and release it",
		Long: `phpbuild detects a PHP or Phalcon app, resolves the PHP and Phalcon versions its
composer files ask for, and builds one reproducible, layered OCI image per git commit.

Exit codes: 0 ok, 1 failure, 2 bad input (a file, flag, argument or constraint to fix),
75 transient (registry or network; retry), 130 interrupted.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%s: %w (see --help)", c.CommandPath(), err)}
	})
	env := readEnv()
	root.AddCommand(newBuild(env), newDetect(), newPlan(env), newRuntime(env), newRelease(), newRollback(), newReleases(), newStatus(), newUnlock(), newMaintenance(), newRun(), newLogs(), newUI(), newSBOM(), newProvenance(), newRebase(env))
	argsAreUsage(root)
	return root
}

// argsAreUsage makes a wrong number of arguments a usage error (exit 2) in
// cmd and every command below it, whatever validator the command chose.
// A command without one keeps cobra's default: an unknown command name.
func argsAreUsage(cmd *cobra.Command) {
	if validate := cmd.Args; validate != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := validate(c, args)
			var ue *usageError
			if err == nil || errors.As(err, &ue) {
				return err
			}
			return &usageError{fmt.Errorf("%s: %w (see --help)", c.CommandPath(), err)}
		}
	}
	for _, c := range cmd.Commands() {
		argsAreUsage(c)
	}
}

// dirArg is the app dir argument shared by commands: at most one, default ".".
func dirArg(args []string) string {
	if len(args) == 0 {
		return "."
	}
	return args[0]
}

func maxOneDir(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return &usageError{fmt.Errorf("%s takes at most one directory, got %d arguments", cmd.CommandPath(), len(args))}
	}
	return nil
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, got %d", cmd.CommandPath(), len(args))}
	}
	return nil
}
