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
	Image         string // PHPBUILD_IMAGE: build --image
	// SourceURL is the image's org.opencontainers.image.source, from CI's
	// usual variables; a remote URL from git config may hold credentials,
	// so it is not read.
	SourceURL string
}

// readEnv is called once, by newRoot. Secrets and DOCKER_HOST are not read
// here: the release library reads them where it uses them.
func readEnv() envDefaults {
	return envDefaults{
		RuntimeRepo:   os.Getenv("PHPBUILD_RUNTIME_REPO"),
		PhalconSource: os.Getenv("PHPBUILD_PHALCON_SOURCE"),
		Launcher:      defaultLauncher(os.Getenv("PHPBUILD_LAUNCHER")),
		BuildkitHost:  buildkit.HostFromEnv(),
		Image:         os.Getenv("PHPBUILD_IMAGE"),
		SourceURL:     sourceURL(),
	}
}

// sourceURL is PHPBUILD_SOURCE_URL, else GitHub Actions' or GitLab CI's
// repository URL.
func sourceURL() string {
	if s := os.Getenv("PHPBUILD_SOURCE_URL"); s != "" {
		return s
	}
	if server, repo := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"); server != "" && repo != "" {
		return server + "/" + repo
	}
	return os.Getenv("CI_PROJECT_URL") // GitLab
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
