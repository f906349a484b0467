// Command launcher is PID 1 inside app images: it renders the nginx and
// php-fpm config from the environment, sizes the php-fpm pool from the
// container's memory limit, starts php-fpm and, once its socket accepts
// connections, nginx; it forwards signals, stops both gracefully (nginx
// first) and reaps every child. `launcher process NAME` runs one of the
// image's process types and `launcher schedule` its scheduled jobs, so the
// one image serves workers and the scheduler too.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "health" {
		os.Exit(health(os.Getenv, os.Stdout))
	}
	makeWritable(filepath.Join(envOr(os.Getenv, "PHPBUILD_CONFIG_DIR", "/etc/phpbuild"), writableFile), os.Stderr)
	if len(os.Args) > 2 && os.Args[1] == "exec" {
		os.Exit(execWithEnv(os.Args[2:], os.Getenv, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "process" {
		os.Exit(runProcess(os.Args[2:], os.Getenv, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "schedule" {
		os.Exit(runSchedule(os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	os.Exit(launch(os.Getenv, hostSystem, os.Stderr))
}

func launch(getenv func(string) string, sys system, log io.Writer) int {
	// The env file, when one is mounted, is the app's configuration: it
	// also decides PHP_MEMORY_LIMIT for sizing.
	extra, err := readEnvFile(envOr(getenv, "PHPBUILD_ENV_FILE", "/app/.env"))
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return exitBadInput
	}
	fromFile := map[string]string{}
	for _, kv := range withEnv(nil, extra) {
		k, v, _ := strings.Cut(kv, "=")
		fromFile[k] = v
	}
	base := getenv
	getenv = func(k string) string {
		if v, ok := fromFile[k]; ok {
			return v
		}
		return base(k)
	}
	s, err := loadSettings(getenv, sys)
	s.Env = withEnv(os.Environ(), extra)
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

// execWithEnv is `launcher exec CMD...`: CMD with the env file's values
// in its environment, as php-fpm gets them; release hooks run so.
func execWithEnv(argv []string, getenv func(string) string, log io.Writer) int {
	env, err := appEnv(getenv)
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return exitBadInput
	}
	bin, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(log, "launcher: %v\n", err)
		return 127
	}
	err = syscall.Exec(bin, argv, env)
	fmt.Fprintf(log, "launcher: exec %s: %v\n", argv[0], err)
	return 126
}
