package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
)

func newPlan(env envDefaults) *cobra.Command {
	var (
		reg = registryOptions{Default: env.RuntimeRepo}
		out outputOptions
	)
	cmd := &cobra.Command{
		Use:   "plan [DIR]",
		Short: "Show the build plan of the app in DIR: runtime, and each layer with its key",
		Args:  maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []build.Option
			repo, ok, err := reg.repository()
			if err != nil {
				return err
			}
			if ok {
				opts = append(opts, build.WithRuntimeRepo(repo, reg.remote()...))
			}
			p, err := build.PlanDir(cmd.Context(), dirArg(args), opts...)
			if err != nil {
				return err
			}
			return out.print(cmd, p, func(w io.Writer) error {
				printPlan(w, p)
				printWarnings(cmd.ErrOrStderr(), p.Warnings)
				return nil
			})
		},
	}
	out.AddFlags(cmd, "the plan")
	reg.AddFlags(cmd, "runtimes", "resolve against the runtimes built in this repo (default $PHPBUILD_RUNTIME_REPO; none: the catalog alone)")
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
	if v := p.App.Volt; len(v.Options) > 0 {
		fmt.Fprintln(w, "volt:")
		for _, o := range v.Options {
			fmt.Fprintf(w, "  %-10s %-24q %s\n", o.Name, fmt.Sprint(o.Value), o.Source)
		}
		var factory, own []string
		for _, s := range v.Services {
			if s.Source == `Phalcon\Di\FactoryDefault` {
				factory = append(factory, s.Name)
			} else {
				own = append(own, s.Name+" ("+s.Source+")")
			}
		}
		if len(factory) > 0 {
			fmt.Fprintf(w, "  services   Phalcon's FactoryDefault: %s\n", strings.Join(factory, ", "))
		}
		for _, s := range own {
			fmt.Fprintf(w, "             %s\n", s)
		}
		for _, e := range v.Extensions {
			fmt.Fprintf(w, "  %-10s %-24s %s\n", e.Kind, e.Name, e.Source)
		}
		if len(v.Ignored) > 0 {
			fmt.Fprintf(w, "  ignored    %s (project.toml volt.ignore_services)\n", strings.Join(v.Ignored, ", "))
		}
	}
	printProcesses(w, p.App.Processes)
	fmt.Fprintln(w, "layers:")
	for _, l := range p.Layers {
		fmt.Fprintf(w, "  %-8s %s\n", l.Name, l.Key)
		if l.Note != "" {
			fmt.Fprintf(w, "           %s\n", l.Note)
		}
	}
}
