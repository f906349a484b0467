package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/phpbuild/phpbuild/ui"
)

func newUI() *cobra.Command {
	var (
		listen string
		open   bool
	)
	cmd := &cobra.Command{
		Use:   "ui [DIR] [--listen ADDR] [--open]",
		Short: "Serve the deploy page: every environment, its history; deploy, promote, roll back and unlock",
		Long: `Serves a web page for the environments of DIR's project.toml: per environment the current release
(version, commit, image and env digests, who released it, when, how long it took), the health of its
containers and processes, the lock and maintenance mode; and each environment's release log, newest
first, with what changed between releases. From it you deploy a tag or promote what another
environment runs (plan, confirm, live progress), roll back to any release, and break a stale lock.
Releases run inside this process: closing the browser never stops one. It listens on ` + ui.DefaultListen + `
by default; anywhere else it needs PHPBUILD_UI_TOKEN (16 characters or more), sent as the basic-auth
password.`,
		Args: maxOneDir,
		RunE: func(cmd *cobra.Command, args []string) error {
			token := os.Getenv("PHPBUILD_UI_TOKEN")
			if err := ui.CheckListen(listen, token != ""); err != nil {
				return err
			}
			var opts []ui.Option
			if token != "" {
				opts = append(opts, ui.WithToken(token))
			}
			h, err := ui.New(dirArg(args), opts...)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", listen, err)
			}
			url := "http://" + ln.Addr().String() + "/"
			fmt.Fprintf(cmd.ErrOrStderr(), "phpbuild ui: serving %s (Ctrl-C stops)\n", url)
			if open {
				openBrowser(url)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", ui.DefaultListen, "HOST:PORT to listen on")
	cmd.Flags().BoolVar(&open, "open", false, "open the page in the default browser")
	return cmd
}

// openBrowser opens url with the desktop's opener, if there is one.
func openBrowser(url string) {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	if err := exec.Command(name, url).Start(); err != nil {
		fmt.Fprintf(os.Stderr, "phpbuild ui: could not open a browser (%v); open %s\n", err, url)
	}
}
