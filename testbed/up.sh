#!/usr/bin/env bash
# make testbed: brings up the services of DESIGN.md "The test bed" from Debian's packages and the
# Go module proxy alone. Every step first probes for its result, so that a run against a test bed
# that is already up only probes and returns within seconds.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(ca-certificates curl debootstrap docker-registry docker.io containerd iptables runc mariadb-server mariadb-client openssh-server openssh-client chromium qemu-user-static)

# Background jobs (the buildkitd build, debootstraps) run in their own process groups so that a
# failing run can end them whole, go or debootstrap children included, and nothing else. Like
# the daemons, they do not get fd 9, the lock.
BACKGROUND=()
end_background() {
	local pid
	for pid in "${BACKGROUND[@]}"; do
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
}
trap end_background EXIT

main() {
	[[ $(id -u) == 0 ]] || die "make testbed must run as root: it installs packages and starts dockerd"
	take_lock
	ensure_packages
	start_buildkit_build
	ensure registry "$REGISTRY_EXE" registry_healthy start_registry "http://$REGISTRY_ADDR"
	ensure dockerd "$DOCKERD_EXE" docker_healthy start_dockerd "unix://$DOCKER_SOCK"
	ensure_binfmt
	ensure_images
	finish_buildkit_build
	ensure buildkitd "$BUILDKITD_EXE" buildkit_healthy start_buildkitd "unix://$BUILDKIT_SOCK"
	ensure mariadb "$MARIADB_EXE" mariadb_healthy start_mariadb "$MARIADB_SOCK"
	ensure_mariadb_user
	write_env
}

ensure_packages() {
	local status p missing=()
	status=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null) || true
	for p in "${PACKAGES[@]}"; do
		grep -qx "$p installed" <<<"$status" || missing+=("$p")
	done
	if ((${#missing[@]} == 0)); then
		echo "packages: installed"
		return
	fi
	set -- "${missing[@]}"
	echo "packages: installing $* (log: $LOG_DIR/apt.log)"
	# Package scripts would start their services (dockerd with its defaults, the registry as its
	# own user); the test bed starts them itself, with its own configuration.
	local policy=/usr/sbin/policy-rc.d added_policy=''
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 0755 "$policy"
		added_policy=1
	fi
	local ok=1
	# The lock timeout waits out another apt run on the machine instead of failing at once.
	{
		DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
				-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
	} >"$LOG_DIR/apt.log" 2>&1 </dev/null || ok=
	[[ -z $added_policy ]] || rm -f "$policy"
	if [[ -z $ok ]]; then
		tail -n 20 "$LOG_DIR/apt.log" >&2
		die "apt-get install $* failed; see $LOG_DIR/apt.log"
	fi
	echo "packages: installed $*"
}

# ensure NAME EXE HEALTHY START WHERE: reuse a live, answering NAME of ours; replace one that
# runs but no longer answers; refuse to clobber a stranger answering at WHERE.
ensure() {
	local name=$1 exe=$2 healthy=$3 start=$4 where=$5 pid
	if pid=$(pid_of "$name" "$exe"); then
		if "$healthy" || wait_healthy "$name" "$exe" "$healthy" 20; then
			echo "$name: up (already running, pid $pid)"
			return
		fi
		echo "testbed: $name (pid $pid) runs but does not answer at $where; restarting it" >&2
		stop_pid "$name" "$pid" "$exe" 20
	elif "$healthy"; then
		die "$name: a process the test bed did not start already answers at $where; stop it first"
	fi
	rm -f "$RUN_DIR/$name.pid"
	[[ ! -e $LOG_DIR/$name.log ]] || mv -f "$LOG_DIR/$name.log" "$LOG_DIR/$name.log.1"
	"$start"
	if ! wait_healthy "$name" "$exe" "$healthy" 60; then
		tail -n 20 "$LOG_DIR/$name.log" >&2 || true
		die "$name did not come up at $where; see $LOG_DIR/$name.log"
	fi
	echo "$name: up (started, pid $(<"$RUN_DIR/$name.pid"))"
}

wait_healthy() {
	local name=$1 exe=$2 healthy=$3 seconds=$4 i
	for ((i = 0; i < seconds * 10; i++)); do
		"$healthy" && return 0
		pid_of "$name" "$exe" >/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# launch NAME EXE ARGS...: setsid runs in place here (a job of a script leads no process
# group), so $! is the daemon itself, in a session of its own that outlives this script. Fd 9
# holds the lock: a daemon that inherited it would make the next make testbed wait forever.
launch() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&- &
	local pid=$! i
	echo "$pid" >"$RUN_DIR/$name.pid"
	# Until the child has exec'd, /proc/PID/exe still names bash and pid_of would call the
	# daemon dead.
	for ((i = 0; i < 50; i++)); do
		pid_runs "$pid" "$1" && return
		[[ $(readlink "/proc/$pid/exe" 2>/dev/null) ]] || return 0
		sleep 0.05
	done
}

start_registry() {
	mkdir -p "$STATE/registry"
	cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
	launch registry "$REGISTRY_EXE" serve "$STATE/registry.yml"
}

start_dockerd() {
	mkdir -p "$STATE/docker" "$DOCKER_EXEC_ROOT"
	cat >"$STATE/daemon.json" <<EOF
{
  "data-root": "$STATE/docker",
  "exec-root": "$DOCKER_EXEC_ROOT",
  "pidfile": "$DOCKER_EXEC_ROOT/dockerd.pid",
  "hosts": ["unix://$DOCKER_SOCK"],
  "storage-driver": "overlay2",
  "registry-mirrors": ["http://$REGISTRY_ADDR"],
  "insecure-registries": ["$REGISTRY_ADDR"]
}
EOF
	stop_orphan_containerd
	rm -f "$DOCKER_SOCK"
	launch dockerd "$DOCKERD_EXE" --config-file "$STATE/daemon.json"
}

start_buildkitd() {
	mkdir -p "$STATE/buildkit" "$(dirname "$BUILDKIT_SOCK")"
	cat >"$STATE/buildkitd.toml" <<EOF
root = "$STATE/buildkit"

[grpc]
  address = ["unix://$BUILDKIT_SOCK"]

[worker.oci]
  enabled = true
  binary = "$(command -v runc)"
  snapshotter = "overlayfs"
  networkMode = "host"

[worker.containerd]
  enabled = false

# docker.io/library/debian:* and the like resolve offline, from the images ensure_images pushed.
[registry."docker.io"]
  mirrors = ["$REGISTRY_ADDR"]

[registry."$REGISTRY_ADDR"]
  http = true
  insecure = true
EOF
	rm -f "$BUILDKIT_SOCK"
	launch buildkitd "$BUILDKITD_EXE" --config "$STATE/buildkitd.toml"
}

start_mariadb() {
	local data=$STATE/mariadb
	if [[ ! -d $data/mysql ]]; then
		mkdir -p "$data"
		chown mysql:mysql "$data"
		mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=socket \
			--skip-test-db >"$LOG_DIR/mariadb-install.log" 2>&1 ||
			die "mariadb-install-db failed; see $LOG_DIR/mariadb-install.log"
	fi
	# mariadbd drops to the mysql user before it makes its socket.
	mkdir -p "$(dirname "$MARIADB_SOCK")"
	chown mysql:mysql "$(dirname "$MARIADB_SOCK")"
	rm -f "$MARIADB_SOCK"
	launch mariadb "$MARIADB_EXE" --no-defaults --user=mysql --datadir="$data" --socket="$MARIADB_SOCK" \
		--pid-file="$(dirname "$MARIADB_SOCK")/mariadbd.pid" --port="$MARIADB_PORT" --bind-address=0.0.0.0 \
		--skip-name-resolve --innodb-buffer-pool-size=64M --max-connections=200 --log-error="$LOG_DIR/mariadb.err"
}

# Tests make their own databases, named phpbuild_*, as this user.
ensure_mariadb_user() {
	mariadb --socket="$MARIADB_SOCK" -uroot -e "
		CREATE USER IF NOT EXISTS '$MARIADB_USER'@'%' IDENTIFIED BY '$MARIADB_PASSWORD';
		GRANT ALL PRIVILEGES ON \`phpbuild\\_%\`.* TO '$MARIADB_USER'@'%';" ||
		die "creating the MariaDB user $MARIADB_USER failed"
}

# The address app containers reach the host's MariaDB at: the default bridge's gateway.
docker_gateway() {
	local gw
	gw=$(ip -4 -o addr show docker0 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }')
	echo "${gw:-172.17.0.1}"
}

# The compile takes minutes and needs only the Go toolchain, so it overlaps the downloads.
BUILD_PID=
start_buildkit_build() {
	if [[ -x $BUILDKITD_EXE && -x $BUILDCTL_EXE ]]; then
		return
	fi
	echo "buildkitd: building $BUILDKIT_VERSION from the Go module proxy (log: $LOG_DIR/buildkit-build.log)"
	setsid bash "$TESTBED_SRC/build-buildkit.sh" </dev/null >"$LOG_DIR/buildkit-build.log" 2>&1 9>&- &
	BUILD_PID=$!
	BACKGROUND+=("$BUILD_PID")
}

finish_buildkit_build() {
	[[ -n $BUILD_PID ]] || return 0
	local ok=1
	wait "$BUILD_PID" || ok=
	BACKGROUND=()
	if [[ -z $ok ]]; then
		tail -n 20 "$LOG_DIR/buildkit-build.log" >&2
		die "building buildkitd $BUILDKIT_VERSION failed; see $LOG_DIR/buildkit-build.log"
	fi
	echo "buildkitd: built $BUILDKIT_VERSION into $BUILDKIT_BIN_DIR"
}

image_present() {
	curl -fsS -m 5 -o /dev/null -I \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://$REGISTRY_ADDR/v2/library/debian/manifests/$1" 2>/dev/null
}

# ensure_binfmt registers QEMU's aarch64 handler (Debian's qemu-user-static, flags F: the kernel
# keeps the interpreter open, so it works inside containers and BuildKit steps too), which makes
# linux/arm64 a platform of buildkitd and docker on this amd64 machine.
ensure_binfmt() {
	local dir=/proc/sys/fs/binfmt_misc conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[[ $(dpkg --print-architecture) == amd64 ]] || return 0
	if [[ ! -e $dir/register ]]; then
		mount -t binfmt_misc binfmt_misc "$dir" || die "cannot mount binfmt_misc on $dir: arm64 emulation needs it"
	fi
	if [[ -e $dir/qemu-aarch64 ]]; then
		echo "binfmt qemu-aarch64: registered"
		return
	fi
	[[ -r $conf ]] || die "$conf is missing: is qemu-user-static installed?"
	cat "$conf" >"$dir/register" || die "cannot register $conf with binfmt_misc"
	echo "binfmt qemu-aarch64: registered (linux/arm64 runs under QEMU)"
}

ensure_images() {
	local suite arch tag pending=() pids=() mirror security failed='' i
	for suite in "${DEBIAN_SUITES[@]}" "${DEBIAN_FOREIGN[@]}"; do
		tag=${suite%/*}-slim
		[[ $suite == */* ]] && tag=$tag-${suite#*/}
		if image_present "$tag"; then
			echo "image debian:$tag: present"
		else
			pending+=("$suite")
		fi
	done
	((${#pending[@]})) || return 0
	mirror=$(debian_mirror) ||
		die "no Debian archive found in /etc/apt/sources.list or /etc/apt/sources.list.d/ to debootstrap from"
	security=$(debian_security_mirror) || true
	echo "images: debootstrapping ${pending[*]} from $mirror (named by this machine's apt sources)"
	for suite in "${pending[@]}"; do
		arch=
		[[ $suite == */* ]] && arch=${suite#*/}
		setsid bash "$TESTBED_SRC/debian-image.sh" "${suite%/*}" "$mirror" "$security" $arch \
			</dev/null >"$LOG_DIR/image-${suite/\//-}.log" 2>&1 9>&- &
		pids+=($!)
		BACKGROUND+=($!)
	done
	for i in "${!pending[@]}"; do
		suite=${pending[$i]}
		tag=${suite%/*}-slim
		[[ $suite == */* ]] && tag=$tag-${suite#*/}
		if wait "${pids[$i]}"; then
			echo "image debian:$tag: built and pushed to $REGISTRY_ADDR/library/debian:$tag"
		else
			tail -n 20 "$LOG_DIR/image-${suite/\//-}.log" >&2
			echo "testbed: building debian:$tag failed; see $LOG_DIR/image-${suite/\//-}.log" >&2
			failed=1
		fi
	done
	BACKGROUND=(${BUILD_PID:+"$BUILD_PID"})
	[[ -z $failed ]] || exit 1
}

# apt_entries prints "URI SUITE" for each enabled binary source of this machine, from one-line
# .list files and deb822 .sources files alike.
apt_entries() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		awk '
			function flush(i, j) {
				if (deb && enabled) for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print uris[i], suites[j]
				deb = 0; enabled = 1; nu = 0; ns = 0
			}
			BEGIN { enabled = 1 }
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1)
				if (key == "types:") for (i = 2; i <= NF; i++) { if ($i == "deb") deb = 1 }
				if (key == "uris:") for (i = 2; i <= NF; i++) uris[++nu] = $i
				if (key == "suites:") for (i = 2; i <= NF; i++) suites[++ns] = $i
				if (key == "enabled:" && tolower($2) == "no") enabled = 0
			}
			END { flush() }' "$f"
	done
}

# The Debian archive is the source that serves this machine's own release (security and
# third-party sources such as nodesource serve other suites); failing that, one whose path is
# the conventional /debian.
debian_mirror() {
	local codename uri suite fallback=
	codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d "\"'")
	while read -r uri suite; do
		case $uri in http://* | https://* | file:/*) ;; *) continue ;; esac
		if [[ -n $codename ]]; then
			case $suite in "$codename" | "$codename"-updates | "$codename"-backports)
				echo "${uri%/}"
				return 0
				;;
			esac
		fi
		if [[ -z $fallback && ${uri%/} == */debian && $suite != *security* ]]; then
			fallback=${uri%/}
		fi
	done < <(apt_entries)
	[[ -n $fallback ]] && echo "$fallback"
}

debian_security_mirror() {
	local uri suite
	while read -r uri suite; do
		case $suite in *-security | */updates)
			echo "${uri%/}"
			return 0
			;;
		esac
	done < <(apt_entries)
	return 1
}

write_env() {
	cat >"$STATE/env" <<EOF
BUILDKIT_HOST=unix://$BUILDKIT_SOCK
DOCKER_HOST=unix://$DOCKER_SOCK
PHPBUILD_TEST_REGISTRY=$REGISTRY_ADDR
PHPBUILD_TEST_MARIADB=$(docker_gateway):$MARIADB_PORT
PHPBUILD_TEST_MARIADB_LOCAL=127.0.0.1:$MARIADB_PORT
PHPBUILD_TEST_MARIADB_USER=$MARIADB_USER
PHPBUILD_TEST_MARIADB_PASSWORD=$MARIADB_PASSWORD
EOF
	echo "env: $STATE/env"
	sed 's/^/  /' "$STATE/env"
}

main "$@"
