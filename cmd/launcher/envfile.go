package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/phpbuild/phpbuild/internal/dotenv"
	"github.com/phpbuild/phpbuild/internal/envlist"
)

// exitBadInput is phpbuild's exit code for input the user must fix: the
// env file, read as strictly as `phpbuild release` reads env files, or
// the image's process table.
const exitBadInput = 2

// readEnvFile reads the env file at path as KEY=value pairs, so the
// children get the app's configuration in their environment without it
// appearing in the container's config. It is a release's snapshot (see
// dotenv.Format) or a .env mounted by docker run -v, compose or a
// Kubernetes Secret, so it is read in the dialect `phpbuild release` reads
// env files in, ${NAME} included: it expands to NAME from earlier lines
// of the file, never from the container's environment, as in a release.
// A missing file is no error: the image runs without one too. Any other
// error is a *badinput.Error, one line naming the file and line.
func readEnvFile(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	vars, err := dotenv.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	env := make([]string, 0, len(vars))
	for _, v := range vars {
		env = append(env, v.Key+"="+v.Value)
	}
	return env, nil
}

// appEnv is the environment php-fpm gets: the launcher's own with the
// env file's values, read from PHPBUILD_ENV_FILE (default /app/.env).
func appEnv(getenv func(string) string) ([]string, error) {
	extra, err := readEnvFile(envOr(getenv, "PHPBUILD_ENV_FILE", "/app/.env"))
	if err != nil {
		return nil, err
	}
	return withEnv(os.Environ(), extra), nil
}

// withEnv sets each KEY=value of over in base; the launcher's own
// settings (PHPBUILD_*) stay as the image set them.
func withEnv(base, over []string) []string {
	return envlist.Set(base, over, func(k string) bool { return strings.HasPrefix(k, "PHPBUILD_") })
}
