package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
)

func newPlan() *cobra.Command {
	var asJSON bool
	var repoName string
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show the build plan of the app in DIR: runtime, and each layer with its key",
		Args:  maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []build.Option
			if repoName == "" {
				repoName = os.Getenv("PHPBUILD_RUNTIME_REPO")
			}
			if repoName != "" {
				repo, err := repoFlag(cmd, repoName)
				if err != nil {
					return err
				}
				opts = append(opts, build.WithRuntimeRepo(repo, remoteOptions(cmd.Context())...))
			}
			p, err := build.PlanDir(cmd.Context(), dirArg(args), opts...)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), p)
			}
			printPlan(cmd.OutOrStdout(), p)
			printWarnings(cmd.ErrOrStderr(), p.Warnings)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.Flags().StringVar(&repoName, "runtimes", "", "resolve against the runtimes built in this repo (default $PHPBUILD_RUNTIME_REPO; none: the catalog alone)")
	return cmd
}

func printPlan(w io.Writer, p *build.Plan) {
	phalcon := "none"
	if p.Runtime.Phalcon != nil {
		phalcon = *p.Runtime.Phalcon
	}
	fmt.Fprintf(w, "runtime:  PHP %s, Phalcon %s, on %s\n", p.Runtime.PHP, phalcon, p.Runtime.Base)
	fmt.Fprintf(w, "          extensions: %s\n", list(p.Runtime.Extensions))
	if p.Runtime.RunImage != "" {
		fmt.Fprintf(w, "          run image: %s\n", p.Runtime.RunImage)
	}
	fmt.Fprintf(w, "app:      %s (web root %s)\n", p.App.Path, p.App.WebRoot)
	fmt.Fprintln(w, "layers:")
	for _, l := range p.Layers {
		fmt.Fprintf(w, "  %-8s %s\n", l.Name, l.Key)
	}
}
