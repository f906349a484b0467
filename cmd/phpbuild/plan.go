package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
)

func newPlan() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show the build plan of the app in DIR: runtime, and each layer with its key",
		Args:  maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := build.PlanDir(cmd.Context(), dirArg(args))
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
	return cmd
}

func printPlan(w io.Writer, p *build.Plan) {
	phalcon := "none"
	if p.Runtime.Phalcon != nil {
		phalcon = *p.Runtime.Phalcon
	}
	fmt.Fprintf(w, "runtime:  PHP %s, Phalcon %s, on %s\n", p.Runtime.PHP, phalcon, p.Runtime.Base)
	fmt.Fprintf(w, "          extensions: %s\n", list(p.Runtime.Extensions))
	fmt.Fprintf(w, "app:      %s (web root %s)\n", p.App.Path, p.App.WebRoot)
	fmt.Fprintln(w, "layers:")
	for _, l := range p.Layers {
		fmt.Fprintf(w, "  %-8s %s\n", l.Name, l.Key)
	}
}
