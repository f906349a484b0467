package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/release"
)

func newLogs() *cobra.Command {
	var (
		env     envOptions
		process string
		follow  bool
		since   string
		tail    int
	)
	cmd := &cobra.Command{
		Use:   "logs [DIR] --env NAME [--process NAME|web|schedule] [--follow] [--since D] [--tail N]",
		Short: "Show the output of the current release's web, process and scheduler containers",
		Long: `Shows the output (stdout and stderr) of the environment's current release: web, each process
type's containers and the scheduler, or only those of --process. With several containers each line
starts with a short name (web, worker.2, schedule). --follow streams new lines until Ctrl-C.`,
		Example: `  phpbuild logs --env staging --tail 50
  phpbuild logs --env staging --process worker --follow --since 10m`,
		Args: maxOneDir,
		RunE: env.run(func(cmd *cobra.Command, _ string, e *release.Environment) error {
			o := release.LogOptions{Process: process, Follow: follow, Tail: tail}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return &usageError{fmt.Errorf("--since %q: %w", since, err)}
				}
				o.Since = t
			}
			err := release.Logs(cmd.Context(), e, o, cmd.OutOrStdout())
			// Ctrl-C is how --follow ends.
			if follow && errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				return nil
			}
			return err
		}),
	}
	env.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&process, "process", "", "only web, schedule or this process type (default: all of them)")
	f.BoolVarP(&follow, "follow", "f", false, "stream new output until interrupted")
	f.StringVar(&since, "since", "", "only output after this: a duration back from now (10m, 1h30m) or an RFC 3339 time")
	f.IntVar(&tail, "tail", -1, "only each container's last N lines (-1: all)")
	return cmd
}

// parseSince reads --since: a duration before now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, errors.New("a negative duration")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errors.New("want a duration (10m) or an RFC 3339 time (2026-01-02T15:04:05Z)")
	}
	return t, nil
}
