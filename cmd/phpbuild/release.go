package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/release"
)

func newRelease() *cobra.Command {
	var (
		env    envOptions
		change changeOptions
		out    outputOptions
		img    string
		plan   bool
	)
	cmd := &cobra.Command{
		Use:   "release [DIR] --env NAME [--image TAG|DIGEST]",
		Short: "Put an image and the environment's env snapshot into an environment, with zero downtime",
		Long: `Pulls the image (default: the SHA tag of DIR's git HEAD in the environment's image repo), writes the
env snapshot (env_files + secrets from this process's environment, 0600) on the docker host, runs the
backup and pre_release hooks, starts the new container on the environment's private network, waits for
its health check, switches the front proxy (nginx, graceful reload), then drains and stops the old
container. If anything fails before the switch, the old container keeps serving.`,
		Args: maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, dir string, e *release.Environment) error {
			o := change.options(cmd)
			o.Image = img
			if o.Image == "" {
				c, err := git.ReadCommit(cmd.Context(), dir)
				if err != nil {
					return err
				}
				o.Image, o.Version, o.SHA = c.SHA, c.Version, c.SHA
			}
			if plan {
				p, err := release.PlanRelease(cmd.Context(), e, o)
				if err != nil {
					return err
				}
				return out.print(cmd, p, func(w io.Writer) error {
					printReleasePlan(w, p)
					return nil
				})
			}
			rec, err := release.Release(cmd.Context(), e, o)
			return printRecord(cmd, out, rec, err)
		}),
	}
	env.AddFlags(cmd)
	change.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	cmd.Flags().StringVar(&img, "image", "", "tag or digest in the environment's image repo, or a full ref (default: the git HEAD's SHA tag)")
	cmd.Flags().BoolVar(&plan, "plan", false, "print the image, the env changes (secrets redacted) and the steps; change nothing")
	return cmd
}

func printReleasePlan(w io.Writer, p *release.Plan) {
	fmt.Fprintf(w, "image: %s\nenv:   %s\n", p.Image, p.Env)
	if p.Current != nil {
		fmt.Fprintf(w, "now:   %s (%s)\n", p.Current.ID, p.Current.Digest)
	}
	fmt.Fprintln(w, "env changes:")
	if len(p.EnvDiff) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, d := range p.EnvDiff {
		fmt.Fprintln(w, "  "+d)
	}
	fmt.Fprintln(w, "steps:")
	for i, s := range p.Steps {
		fmt.Fprintf(w, "  %d. %s\n", i+1, s)
	}
	fmt.Fprintln(w, "filesystem:")
	for _, l := range p.Filesystem {
		fmt.Fprintln(w, "  "+l)
	}
}

func printRecord(cmd *cobra.Command, out outputOptions, rec *release.Record, err error) error {
	if err != nil {
		return err
	}
	return out.print(cmd, rec, func(w io.Writer) error {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s %s in %s, new version serving after %s (pull %s, start %s, health %s, switch %s, drain %s)\n", rec.Kind, rec.ID, rec.Duration,
			orZero(rec.Steps["serving"]), orZero(rec.Steps["pull"]), orZero(rec.Steps["start"]), orZero(rec.Steps["health"]), orZero(rec.Steps["switch"]), orZero(rec.Steps["drain"]))
		fmt.Fprintln(w, rec.Digest)
		return nil
	})
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

func newRollback() *cobra.Command {
	var (
		env    envOptions
		change changeOptions
		out    outputOptions
		to     string
	)
	cmd := &cobra.Command{
		Use:   "rollback [DIR] --env NAME [--to ID]",
		Short: "Put the previous (or a named) release back: its image and its env snapshot, health-gated",
		Args:  maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
			rec, err := release.Rollback(cmd.Context(), e, to, change.options(cmd))
			return printRecord(cmd, out, rec, err)
		}),
	}
	env.AddFlags(cmd)
	change.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	cmd.Flags().StringVar(&to, "to", "", "release ID to go back to (default: the one before the current)")
	return cmd
}

func newReleases() *cobra.Command {
	var (
		env envOptions
		out outputOptions
	)
	cmd := &cobra.Command{
		Use:   "releases [DIR] --env NAME",
		Short: "List an environment's releases, newest first",
		Args:  maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
			hist, err := release.History(cmd.Context(), e)
			if err != nil {
				return err
			}
			if hist == nil {
				hist = []release.Record{} // JSON []
			}
			return out.print(cmd, hist, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tRESULT\tVERSION\tIMAGE\tENV\tBY\tDURATION")
				for i := len(hist) - 1; i >= 0; i-- {
					r := hist[i]
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Result, orDash(r.Version), short(digestOf(r.Digest)), short(r.Env), r.User, r.Duration)
				}
				return tw.Flush()
			})
		}),
	}
	env.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	return cmd
}

func digestOf(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ref
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newStatus() *cobra.Command {
	var (
		env envOptions
		out outputOptions
	)
	cmd := &cobra.Command{
		Use:   "status [DIR] --env NAME",
		Short: "Show an environment's current release, its health, the lock, and its process types' and scheduler's containers",
		Args:  maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
			st, err := release.GetStatus(cmd.Context(), e)
			if err != nil {
				return err
			}
			return out.print(cmd, st, func(w io.Writer) error {
				printStatus(w, st)
				return nil
			})
		}),
	}
	env.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	return cmd
}

func printStatus(w io.Writer, st *release.Status) {
	if st.Current != nil {
		fmt.Fprintf(w, "current: %s (%s) %s, env %s, by %s at %s\n", st.Current.ID, st.Current.Kind, st.Current.Digest, short(st.Current.Env), st.Current.User, st.Current.Started)
	} else {
		fmt.Fprintln(w, "current: none")
	}
	fmt.Fprintf(w, "serving: %s (%s)\n", orDash(st.Serving), orDash(st.Health))
	if st.Lock != nil {
		fmt.Fprintf(w, "lock:    held by %s (pid %d on %s) since %s%s\n", st.Lock.Holder, st.Lock.PID, st.Lock.Host, st.Lock.Since, msgOf(st.Lock.Message))
	} else {
		fmt.Fprintln(w, "lock:    free")
	}
	if m := st.Maintenance; m != nil {
		fmt.Fprintf(w, "maintenance: on since %s by %s%s\n", m.Since, m.User, msgOf(m.Message))
	} else {
		fmt.Fprintln(w, "maintenance: off")
	}
	if len(st.Processes) == 0 {
		fmt.Fprintln(w, "processes: none")
		return
	}
	fmt.Fprintln(w, "processes:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PROCESS\tCONTAINER\tSTATE\tHEALTH\tRELEASE\tIMAGE")
	for _, p := range st.Processes {
		for _, c := range p.Containers {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Name, c.Name, c.State, orDash(c.Health), orDash(c.Release), short(digestOf(c.Image)))
		}
	}
	tw.Flush()
}

func msgOf(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}

func newUnlock() *cobra.Command {
	var (
		env     envOptions
		message string
		out     outputOptions // accepted, as by the other release commands; unlock prints no result
	)
	cmd := &cobra.Command{
		Use:   "unlock [DIR] --env NAME [--message TEXT]",
		Short: "Break an environment's lock, e.g. one left by a killed release on another machine",
		Args:  maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
			l, err := release.Unlock(cmd.Context(), e, release.Options{Message: message})
			if err != nil {
				return err
			}
			if l == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "the environment was not locked")
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "broke the lock of %s (pid %d on %s, since %s)\n", l.Holder, l.PID, l.Host, l.Since)
			}
			return nil
		}),
	}
	env.AddFlags(cmd)
	cmd.Flags().StringVar(&message, "message", "", "why, for the release log")
	out.AddFlags(cmd, "the result")
	return cmd
}

func newMaintenance() *cobra.Command {
	var (
		env    envOptions
		change changeOptions
		out    outputOptions
	)
	cmd := &cobra.Command{
		Use:   "maintenance on|off [DIR] --env NAME [--message M]",
		Short: "Answer every request with 503 and a maintenance page (on), or serve again (off)",
		Long: `maintenance on makes the environment's front proxy answer every request, except the health
route, with 503, a Retry-After header and the environment's maintenance_page (or a plain page
showing --message); maintenance off serves the app again. Both reload the proxy gracefully, so no
connection is dropped. Releases and rollbacks may run meanwhile (the usual way to run a breaking
migration); the environment stays in maintenance until it is turned off.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || (args[0] != "on" && args[0] != "off") {
				return &usageError{fmt.Errorf("say on or off: phpbuild maintenance on|off [DIR] --env NAME")}
			}
			return maxOneDir(cmd, args[1:])
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			on := args[0] == "on"
			return env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
				rec, err := release.SetMaintenance(cmd.Context(), e, on, change.options(cmd))
				if err != nil {
					return err
				}
				return out.print(cmd, rec, func(w io.Writer) error {
					fmt.Fprintf(w, "maintenance %s\n", rec.Result)
					return nil
				})
			})(cmd, args[1:])
		},
	}
	env.AddFlags(cmd)
	change.AddFlags(cmd)
	out.AddFlags(cmd, "the result")
	return cmd
}
