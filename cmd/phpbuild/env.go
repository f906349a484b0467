package main

import (
	"os"
	"path/filepath"

	"github.com/phpbuild/phpbuild/internal/buildkit"
)

// envDefaults are the flag defaults phpbuild takes from its process
// environment, read here and nowhere else in the CLI; README.md lists them.
// A flag given on the command line wins over its variable.
type envDefaults struct {
	RuntimeRepo   string // PHPBUILD_RUNTIME_REPO: --repo, --runtimes
	PhalconSource string // PHPBUILD_PHALCON_SOURCE: --phalcon-source
	Launcher      string // PHPBUILD_LAUNCHER: --launcher, else launcher next to phpbuild
	BuildkitHost  string // BUILDKIT_HOST, as buildctl reads it; no flag
}

// readEnv is called once, by newRoot. Secrets and DOCKER_HOST are not read
// here: the release library reads them where it uses them.
func readEnv() envDefaults {
	return envDefaults{
		RuntimeRepo:   os.Getenv("PHPBUILD_RUNTIME_REPO"),
		PhalconSource: os.Getenv("PHPBUILD_PHALCON_SOURCE"),
		Launcher:      defaultLauncher(os.Getenv("PHPBUILD_LAUNCHER")),
		BuildkitHost:  buildkit.HostFromEnv(),
	}
}

func defaultLauncher(fromEnv string) string {
	if fromEnv != "" {
		return fromEnv
	}
	exe, err := os.Executable()
	if err != nil {
		return "launcher"
	}
	return filepath.Join(filepath.Dir(exe), "launcher")
}
