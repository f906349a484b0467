package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/processes"
)

func newDetect() *cobra.Command {
	var out outputOptions
	cmd := &cobra.Command{
		Use:   "detect [DIR]",
		Short: "Show what the app in DIR is: web root, Phalcon, Volt, node assets, writable dirs, env files",
		Args:  maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			app, err := build.DetectDir(cmd.Context(), dirArg(args))
			if err != nil {
				return err
			}
			return out.print(cmd, app, func(w io.Writer) error {
				printApp(w, app)
				printWarnings(cmd.ErrOrStderr(), app.Warnings)
				return nil
			})
		},
	}
	out.AddFlags(cmd, "the result")
	return cmd
}

func printApp(w io.Writer, app *detect.App) {
	row := func(k, v string) { fmt.Fprintf(w, "%-10s %s\n", k+":", v) }
	row("app", app.Dir)
	row("web root", app.WebRoot)
	switch {
	case app.Composer == nil:
		row("composer", "none")
	case app.Composer.Lock == nil:
		row("composer", "composer.json (no composer.lock)")
	default:
		row("composer", fmt.Sprintf("composer.json + composer.lock (%d packages)", len(app.Composer.Lock.Packages)))
	}
	if app.Phalcon.Used {
		row("phalcon", "yes ("+app.Phalcon.Reason+")")
	} else {
		row("phalcon", "no")
	}
	row("volt", list(app.Volt.Dirs))
	if app.Node != nil {
		lock := app.Node.Lockfile
		if lock == "" {
			lock = "no lockfile"
		}
		row("node", fmt.Sprintf("%s run build (%s; %s)", app.Node.PackageManager, app.Node.BuildScript, lock))
	} else {
		row("node", "none")
	}
	row("writable", list(app.Writable))
	row("env files", list(app.EnvFiles)+" (never shipped)")
	printProcesses(w, app.Processes)
}

// printProcesses lists the process types and schedules besides web, each
// with where it was declared.
func printProcesses(w io.Writer, t *processes.Table) {
	if t.Empty() {
		return
	}
	fmt.Fprintln(w, "processes:")
	fmt.Fprintf(w, "  %-12s %-9s %s\n", "web", "", "nginx + php-fpm (the launcher)")
	for _, p := range t.Processes {
		health := "running after " + p.StartPeriod.String()
		if p.Health != nil {
			health = "health: " + processes.Display(p.Health)
		}
		fmt.Fprintf(w, "  %-12s %-9s %s   [%s; stop %s within %s; %s]\n", p.Name, fmt.Sprintf("x%d", p.Replicas),
			processes.Display(p.Command), p.Source, p.StopSignal, p.StopTimeout, health)
	}
	if t.Release != "" {
		fmt.Fprintf(w, "  %-12s %-9s %s   [Procfile; the pre_release hook of environments that set none]\n", "release", "", t.Release)
	}
	if len(t.Schedules) > 0 {
		fmt.Fprintln(w, "schedule:")
		for _, s := range t.Schedules {
			extra := s.Concurrency
			if s.Timeout > 0 {
				extra += ", timeout " + s.Timeout.String()
			}
			fmt.Fprintf(w, "  %-12s %-14s %s   [%s; %s]\n", s.Name, s.Cron, processes.Display(s.Command), s.Source, extra)
		}
	}
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintln(w, "warning: "+s)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
