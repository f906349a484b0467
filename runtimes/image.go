package runtimes

import (
	"fmt"
	"strings"

	"github.com/moby/buildkit/client/llb"
)

// Paths inside runtime images, relied on by the launcher and app builds.
const (
	LauncherPath = "/usr/local/bin/launcher"
	// CompiledExtDir holds extensions compiled from source; their ini files
	// name them by absolute path, so the PHP API number never matters.
	CompiledExtDir = "/usr/local/lib/phpbuild/ext"
	// AppUID is the fixed non-root user (and group) apps run as: "app".
	AppUID = 1000
	AppDir = "/app"
	// RunDir is where the launcher writes rendered config, owned by AppUID;
	// a read-only container mounts a tmpfs here.
	RunDir = "/run/phpbuild"
	// LabelWritable on an app image is a JSON Writable: a read-only
	// release mounts a tmpfs on each writable dir no volume holds. An
	// image without it predates read-only releases.
	LabelWritable = "dev.phpbuild.writable"
)

// sh runs a POSIX shell script as one BuildKit step.
func sh(script string, name string, more ...llb.RunOption) []llb.RunOption {
	return append([]llb.RunOption{
		llb.Args([]string{"/bin/sh", "-c", script}),
		llb.WithCustomName(name),
		llb.AddEnv("DEBIAN_FRONTEND", "noninteractive"),
		llb.AddEnv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
	}, more...)
}

// aptInstall installs packages without recommends and leaves no apt lists,
// docs or logs behind: those are dead weight in every image pulled.
func aptInstall(pkgs []string) string {
	return "set -eu\n" +
		"apt-get update -qq\n" +
		"apt-get install -y -qq --no-install-recommends " + strings.Join(pkgs, " ") + "\n" +
		slimScript
}

const slimScript = "apt-get clean\n" +
	"rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /usr/share/doc/* /usr/share/man/* /usr/share/info/* " +
	"/var/log/apt /var/log/dpkg.log /var/log/alternatives.log /tmp/*\n"

// runState is the run image: PHP, php-fpm, nginx, extensions, the launcher
// and the app user; no compilers.
func runState(base llb.State, p *plan, launcher llb.State, compiled map[string]llb.State) llb.State {
	m := p.minor.Minor
	setup := aptInstall(p.packages) + fmt.Sprintf(`groupadd --gid %[1]d app
useradd --uid %[1]d --gid %[1]d --home-dir %[2]s --no-create-home --shell /usr/sbin/nologin app
mkdir -p %[2]s %[4]s
# The launcher renders nginx and php-fpm config here as the app user.
chown %[1]d:%[1]d %[4]s
ln -sf /usr/sbin/php-fpm%[3]s /usr/local/sbin/php-fpm
`, AppUID, AppDir, m, RunDir)
	st := base.Run(sh(setup, fmt.Sprintf("install PHP %s, php-fpm, nginx and %d packages", m, len(p.packages)), refreshed(p)...)...).Root()
	st = st.File(llb.Copy(launcher, "launcher", LauncherPath, &llb.CopyInfo{CreateDestPath: true}), llb.WithCustomName("add the launcher"))
	if len(p.compiled) == 0 {
		return st
	}
	var enable strings.Builder
	enable.WriteString("set -eu\n")
	for _, c := range p.compiled {
		st = st.File(llb.Copy(compiled[c.name], "/"+c.name+".so", CompiledExtDir+"/"+c.name+".so", &llb.CopyInfo{CreateDestPath: true}),
			llb.WithCustomName("add ext-"+c.name))
		// Debian's phpenmod orders conf.d by the priority comment: PDO is 10,
		// its drivers 20, so Phalcon (30) loads after them.
		fmt.Fprintf(&enable, "printf '; priority=%d\\nextension=%s/%s.so\\n' > /etc/php/%s/mods-available/%s.ini\nphpenmod -v %s -s ALL %s\n",
			c.priority, CompiledExtDir, c.name, m, c.name, m, c.name)
	}
	return st.Run(sh(enable.String(), "enable compiled extensions")...).Root()
}

// refreshed makes an apt step differ, for BuildKit's cache, with the
// plan's refresh token, so that it runs again on the suite as it is now.
func refreshed(p *plan) []llb.RunOption {
	if p.refresh == "" {
		return nil
	}
	return []llb.RunOption{llb.AddEnv("PHPBUILD_REFRESH", p.refresh)}
}

// compileState compiles one PECL-style extension against base's PHP and
// returns the /out mount, which holds only NAME.so.
func compileState(base llb.State, p *plan, c compiledExt, src llb.State) llb.State {
	m := p.minor.Minor
	dev := base.Run(sh(aptInstall([]string{"php" + m + "-dev", "php" + m + "-cli", "build-essential", "pkg-config"}),
		"install the PHP "+m+" toolchain")...).Root()
	script := fmt.Sprintf(`set -eu
mkdir -p /build
if [ -f /src/source.tar ]; then tar -xf /src/source.tar -C /build; else cp -a /src/. /build/; fi
m4=$(find /build -name config.m4 | awk '{ print length($0) " " $0 }' | sort -n | head -n 1 | cut -d' ' -f2-)
if [ -z "$m4" ]; then echo "no config.m4 in the %[1]s source: not a PECL-style extension" >&2; exit 1; fi
cd "$(dirname "$m4")"
phpize%[2]s > /tmp/phpize.log 2>&1 || { tail -n 30 /tmp/phpize.log >&2; exit 1; }
CFLAGS="-O2 -g0 -Wno-incompatible-pointer-types" ./configure --with-php-config=php-config%[2]s > /tmp/configure.log 2>&1 || { tail -n 30 /tmp/configure.log >&2; exit 1; }
# make's output streams to the progress display (a Phalcon build runs for
# minutes); on failure its last lines are repeated so they end the log.
{ make -j"$(nproc)" 2>&1; echo $? > /tmp/make.rc; } | tee /tmp/make.log | grep -E --line-buffered '^(/bin/bash .*libtool --mode=compile|libtool: compile)' | sed -u 's/.* -c \([^ ]*\) .*/compiling \1/' || true
if [ "$(cat /tmp/make.rc)" != 0 ]; then tail -n 30 /tmp/make.log >&2; exit 1; fi
if [ ! -f modules/%[1]s.so ]; then echo "the build made no modules/%[1]s.so; found: $(ls modules)" >&2; exit 1; fi
strip --strip-unneeded modules/%[1]s.so
cp modules/%[1]s.so /out/%[1]s.so
`, c.name, m)
	ex := dev.Run(sh(script, compileStepName(c.name), llb.AddMount("/src", src, llb.Readonly))...)
	return ex.AddMount("/out", llb.Scratch())
}

func compileStepName(ext string) string { return "compile ext-" + ext + " (phpize, configure, make)" }

// composerState is the composer image: the run image plus composer and
// what it fetches with. The vendor, volt and app steps run on it; it is the
// build image's first layers, so a fresh buildkitd that only rebuilds the
// app layer pulls a fraction of the build image.
func composerState(run llb.State) llb.State {
	return run.Run(sh(aptInstall([]string{"composer", "unzip", "git"})+"composer --version\n",
		"install composer, git and unzip")...).Root()
}

// cliState is the CLI image: the base image plus PHP's CLI with curl (for
// composer's parallel downloads), unzip and composer, nothing else.
// Composer's install and autoloader dump run on it, so a lock change or a
// class added on a fresh runner pulls this image, under half of the
// composer image, which carries php-fpm, nginx, every extension and git.
// PHP and composer come from the same suite as the composer image's (the
// runtime test checks their versions match); composer is told the run
// image's platform (see Entry.Platform).
func cliState(base llb.State, p *plan) llb.State {
	m := p.minor.Minor
	return base.Run(sh(aptInstall([]string{"php" + m + "-cli", "php" + m + "-curl", "composer", "unzip"})+"php -r 'echo PHP_VERSION, PHP_EOL;'\ncomposer --version\n",
		"install PHP "+m+"'s CLI, curl, composer and unzip (the CLI image)", refreshed(p)...)...).Root()
}

// buildState is the build image: the composer image plus the PHP headers
// and node, for asset builds.
func buildState(run llb.State, p *plan) llb.State {
	return buildOn(composerState(run), p)
}

// nodeOn is the node image: a CLI image plus node and npm, where the
// assets step runs. A fresh runner that builds the assets then unpacks one
// layer besides the CLI image's, which the composer steps unpack too,
// not the build image's PHP headers and compilers.
func nodeOn(cli llb.State) llb.State {
	return cli.Run(sh(aptInstall([]string{"nodejs", "npm"})+"node --version\nnpm --version\n",
		"install nodejs and npm (the node image)")...).Root()
}

// buildOn adds the build image's own layer to a composer image.
func buildOn(composer llb.State, p *plan) llb.State {
	m := p.minor.Minor
	return composer.Run(sh(aptInstall([]string{"php" + m + "-dev", "nodejs", "npm"})+"node --version\nnpm --version\n",
		"install php"+m+"-dev, nodejs and npm")...).Root()
}

// verifyScript probes a run image; each probe writes its output and exit
// code under /verify for the client to compare with what was asked.
func verifyScript(p *plan) string {
	s := `cd /
probe() { out=$1; shift; "$@" > /verify/$out 2>&1; echo $? > /verify/$out.rc; }
probe php php -r 'echo PHP_VERSION;'
probe modules php -m
probe fpm php-fpm -t
probe nginx nginx -t
`
	if p.phalcon != "" {
		s += "probe phalcon php --ri phalcon\n"
	}
	return s
}

// Writable is an app image's LabelWritable: the dirs the app writes, and
// the dirs inside them whose content the image ships and that must stay
// as built (Volt's compiled templates), all absolute.
type Writable struct {
	Dirs []string `json:"dirs"`
	Kept []string `json:"kept,omitempty"`
}
