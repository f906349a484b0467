package main

import (
	"fmt"
	"time"

	"github.com/moby/term"
	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/release"
)

func newRun() *cobra.Command {
	var (
		env envOptions
		img string
	)
	cmd := &cobra.Command{
		Use:   "run [DIR] --env NAME [--image TAG|DIGEST] -- CMD [ARGS...]",
		Short: "Run a one-off command in a container of the environment's current release, with its env",
		Long: `Runs CMD in a new container of the environment's current release (or of --image) on its docker
host: the release's env snapshot at /app/.env, loaded by launcher exec as php-fpm gets it, the
environment's volumes and network. The container is removed when the command exits; phpbuild exits
with the command's exit code. With a terminal on stdin and stdout, the command gets a terminal too;
otherwise stdin is streamed to it and closed at its end. No lock is taken and no release state is
written.`,
		Example: `  phpbuild run --env staging -- php bin/console migrations:status
  echo '{"id": 1}' | phpbuild run --env staging -- php cli.php import
  phpbuild run --env staging -- bash`,
		Args: runArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			_, e, err := env.load(cmd, args[:dash])
			if err != nil {
				return err
			}
			code, err := runOneOff(cmd, e, release.RunOptions{Image: img, Cmd: args[dash:]})
			if err != nil {
				return err
			}
			if code != 0 {
				// The command's own status; the terminal is restored by now.
				return &exitCodeError{code}
			}
			return nil
		},
	}
	env.AddFlags(cmd)
	cmd.Flags().StringVar(&img, "image", "", "tag or digest in the environment's image repo, or a full ref (default: the current release's image); the env is the current release's")
	return cmd
}

// runArgs is at most one DIR before --, and a command after it.
func runArgs(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	if dash < 0 || dash == len(args) {
		return &usageError{fmt.Errorf("%s needs a command after --, e.g. %s --env NAME -- php -v", cmd.CommandPath(), cmd.CommandPath())}
	}
	return maxOneDir(cmd, args[:dash])
}

// runOneOff wires the command's stdio to this process's: a terminal in
// raw mode when stdin and stdout are terminals, so keys like Ctrl-C reach
// the command, and its size follows this one's.
func runOneOff(cmd *cobra.Command, e *release.Environment, o release.RunOptions) (int, error) {
	stdin, stdout := cmd.InOrStdin(), cmd.OutOrStdout()
	o.Stdin, o.Stdout, o.Stderr = stdin, stdout, cmd.ErrOrStderr()
	inFd, inTerm := term.GetFdInfo(stdin)
	outFd, outTerm := term.GetFdInfo(stdout)
	// A TTY merges stderr into stdout and ends lines with \r\n: not for
	// output that goes to a file or a pipe.
	o.TTY = inTerm && outTerm
	if !o.TTY {
		return release.Run(cmd.Context(), e, o)
	}
	state, err := term.SetRawTerminal(inFd)
	if err != nil {
		return 0, fmt.Errorf("setting the terminal to raw mode: %w", err)
	}
	defer term.RestoreTerminal(inFd, state)
	if outState, err := term.SetRawTerminalOutput(outFd); err == nil && outState != nil {
		defer term.RestoreTerminal(outFd, outState)
	}
	sizes := make(chan release.TermSize, 1)
	done := make(chan struct{})
	defer close(done)
	go watchSize(outFd, sizes, done)
	o.Resize = sizes
	return release.Run(cmd.Context(), e, o)
}

// watchSize sends the terminal's size, then each change, until done. It
// polls, as docker's CLI does on Windows: an ioctl a quarter second costs
// nothing, and SIGWINCH does not exist everywhere phpbuild builds.
func watchSize(fd uintptr, sizes chan<- release.TermSize, done <-chan struct{}) {
	var last release.TermSize
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if ws, err := term.GetWinsize(fd); err == nil {
			if s := (release.TermSize{Height: uint(ws.Height), Width: uint(ws.Width)}); s != last && s.Width > 0 {
				select {
				case sizes <- s:
					last = s
				case <-done:
					return
				}
			}
		}
		select {
		case <-tick.C:
		case <-done:
			return
		}
	}
}
