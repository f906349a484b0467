// Command launcher is PID 1 inside app images: it renders the nginx and
// php-fpm config from the environment, sizes the php-fpm pool from the
// container's memory limit, starts php-fpm and, once its socket accepts
// connections, nginx; it forwards signals, stops both gracefully (nginx
// first) and reaps every child.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(launch(os.Getenv, hostSystem, os.Stderr))
}

func launch(getenv func(string) string, sys system, log io.Writer) int {
	s, err := loadSettings(getenv, sys)
	if err == nil {
		err = renderConfig(s)
	}
	if err == nil {
		err = prepareRunDir(s.RunDir)
	}
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return 1
	}
	fmt.Fprintf(log, "launcher: port %d, %v\n", s.Port, s.Workers)
	return newSupervisor(s, log).run()
}
