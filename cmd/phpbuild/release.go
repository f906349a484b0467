package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/release"
)

// envFlags are what every release command takes: the app dir and --env.
type envFlags struct {
	env    string
	asJSON bool
}

func (f *envFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.env, "env", "", "environment, an [environments.NAME] of project.toml (required)")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
}

func (f *envFlags) load(cmd *cobra.Command, args []string) (string, *release.Environment, error) {
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	if f.env == "" {
		return "", nil, &usageError{fmt.Errorf("%s: --env NAME is required", cmd.CommandPath())}
	}
	env, err := release.LoadEnvironment(dir, f.env)
	return dir, env, err
}

func progressTo(cmd *cobra.Command) func(string, ...any) {
	w := cmd.ErrOrStderr()
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

func newRelease() *cobra.Command {
	var (
		f        envFlags
		img, msg string
		plan     bool
		lockWait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "release [DIR] --env NAME [--image TAG|DIGEST]",
		Short: "Put an image and the environment's env snapshot into an environment, with zero downtime",
		Long: `Pulls the image (default: the SHA tag of DIR's git HEAD in the environment's image repo), writes the
env snapshot (env_files + secrets from this process's environment, 0600) on the docker host, runs the
backup and pre_release hooks, starts the new container on the environment's private network, waits for
its health check, switches the front proxy (nginx, graceful reload), then drains and stops the old
container. If anything fails before the switch, the old container keeps serving.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, env, err := f.load(cmd, args)
			if err != nil {
				return err
			}
			o := release.Options{Image: img, Message: msg, LockWait: lockWait, Progress: progressTo(cmd)}
			if o.Image == "" {
				c, err := git.ReadCommit(cmd.Context(), dir)
				if err != nil {
					return err
				}
				o.Image, o.Version, o.SHA = c.SHA, c.Version, c.SHA
			}
			if plan {
				p, err := release.PlanRelease(cmd.Context(), env, o)
				if err != nil {
					return err
				}
				if f.asJSON {
					return writeJSON(cmd.OutOrStdout(), p)
				}
				w := cmd.OutOrStdout()
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
				return nil
			}
			rec, err := release.Release(cmd.Context(), env, o)
			return printRecord(cmd, f.asJSON, rec, err)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&img, "image", "", "tag or digest in the environment's image repo, or a full ref (default: the git HEAD's SHA tag)")
	cmd.Flags().StringVar(&msg, "message", "", "why, for the release log and the lock")
	cmd.Flags().BoolVar(&plan, "plan", false, "print the image, the env changes (secrets redacted) and the steps; change nothing")
	cmd.Flags().DurationVar(&lockWait, "lock-wait", 0, "wait this long for another release of the environment to finish")
	return cmd
}

func printRecord(cmd *cobra.Command, asJSON bool, rec *release.Record, err error) error {
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), rec)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s in %s (pull %s, start %s, health %s, switch %s, drain %s)\n", rec.Kind, rec.ID, rec.Duration,
		orZero(rec.Steps["pull"]), orZero(rec.Steps["start"]), orZero(rec.Steps["health"]), orZero(rec.Steps["switch"]), orZero(rec.Steps["drain"]))
	fmt.Fprintln(cmd.OutOrStdout(), rec.Digest)
	return nil
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

func newRollback() *cobra.Command {
	var (
		f        envFlags
		to, msg  string
		lockWait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rollback [DIR] --env NAME [--to ID]",
		Short: "Put the previous (or a named) release back: its image and its env snapshot, health-gated",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, env, err := f.load(cmd, args)
			if err != nil {
				return err
			}
			rec, err := release.Rollback(cmd.Context(), env, to, release.Options{Message: msg, LockWait: lockWait, Progress: progressTo(cmd)})
			return printRecord(cmd, f.asJSON, rec, err)
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVar(&to, "to", "", "release ID to go back to (default: the one before the current)")
	cmd.Flags().StringVar(&msg, "message", "", "why, for the release log and the lock")
	cmd.Flags().DurationVar(&lockWait, "lock-wait", 0, "wait this long for another release of the environment to finish")
	return cmd
}

func newReleases() *cobra.Command {
	var f envFlags
	cmd := &cobra.Command{
		Use:   "releases [DIR] --env NAME",
		Short: "List an environment's releases, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, env, err := f.load(cmd, args)
			if err != nil {
				return err
			}
			hist, err := release.History(cmd.Context(), env)
			if err != nil {
				return err
			}
			if f.asJSON {
				if hist == nil {
					hist = []release.Record{}
				}
				return writeJSON(cmd.OutOrStdout(), hist)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tRESULT\tVERSION\tIMAGE\tENV\tBY\tDURATION")
			for i := len(hist) - 1; i >= 0; i-- {
				r := hist[i]
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Result, orDash(r.Version), short(digestOf(r.Digest)), short(r.Env), r.User, r.Duration)
			}
			return tw.Flush()
		},
	}
	f.bind(cmd)
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
	var f envFlags
	cmd := &cobra.Command{
		Use:   "status [DIR] --env NAME",
		Short: "Show an environment's current release, its health and the lock",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, env, err := f.load(cmd, args)
			if err != nil {
				return err
			}
			st, err := release.GetStatus(cmd.Context(), env)
			if err != nil {
				return err
			}
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			w := cmd.OutOrStdout()
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
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

func msgOf(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}

func newUnlock() *cobra.Command {
	var f envFlags
	cmd := &cobra.Command{
		Use:   "unlock [DIR] --env NAME",
		Short: "Break an environment's lock, e.g. one left by a killed release on another machine",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, env, err := f.load(cmd, args)
			if err != nil {
				return err
			}
			l, err := release.Unlock(cmd.Context(), env)
			if err != nil {
				return err
			}
			if l == nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "the environment was not locked")
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "broke the lock of %s (pid %d on %s, since %s)\n", l.Holder, l.PID, l.Host, l.Since)
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}
