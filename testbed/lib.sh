# shellcheck shell=bash disable=SC2034
# Sourced by the other scripts here, which use its variables. The test bed only ever acts on processes named by its own pid
# files, and only after checking they still run the program it started: after a killed session
# a pid file may name a dead process or, worse, an unrelated one that reused the pid.

set -euo pipefail

TESTBED_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$TESTBED_SRC")
STATE=${PHPBUILD_TESTBED_DIR:-/var/lib/phpbuild-testbed}
RUN_DIR=$STATE/run
LOG_DIR=$STATE/log

REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_EXE=/usr/bin/docker-registry

BUILDKIT_VERSION=v0.28.1
BUILDKIT_BIN_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/phpbuild-testbed/buildkit-$BUILDKIT_VERSION
BUILDKITD_EXE=$BUILDKIT_BIN_DIR/buildkitd
BUILDCTL_EXE=$BUILDKIT_BIN_DIR/buildctl
BUILDKIT_SOCK=/run/buildkit/buildkitd.sock

DOCKERD_EXE=/usr/sbin/dockerd
CONTAINERD_EXE=/usr/bin/containerd
DOCKER_SOCK=/var/run/docker.sock
# dockerd's exec-root lives in the state dir, so that its pid file and containerd's sockets
# never mix with those of a Docker engine someone else runs on the machine.
DOCKER_EXEC_ROOT=$STATE/docker-exec

# MariaDB for the apps' databases: on all addresses, so that app containers on any docker
# network reach it through their gateway; a port of its own, never a system server's 3306.
MARIADB_EXE=/usr/sbin/mariadbd
MARIADB_PORT=3307
MARIADB_SOCK=$STATE/mariadb-run/mariadb.sock
MARIADB_USER=phpbuild
MARIADB_PASSWORD=phpbuild-testbed

# Images the default catalog asks for as docker.io/library/debian:<suite>-slim.
DEBIAN_SUITES=(bookworm trixie)
# Other architectures' images, SUITE/ARCH, pushed as debian:SUITE-slim-ARCH: the multi-platform
# runtime test bootstraps its arm64 run image on it.
DEBIAN_FOREIGN=(trixie/arm64)

export PATH=$PATH:/usr/local/go/bin:/usr/local/sbin:/usr/sbin:/sbin

die() {
	echo "testbed: $*" >&2
	exit 1
}

# pid_of NAME EXE prints the pid recorded for NAME if it is alive and runs EXE.
# Reading /proc/PID/exe also rules out zombies, which nothing may reap here.
pid_of() {
	local file=$RUN_DIR/$1.pid pid exe
	[[ -s $file ]] || return 1
	pid=$(<"$file")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_runs "$pid" "$2" || return 1
	echo "$pid"
}

# pid_runs PID EXE: a replaced binary shows as "EXE (deleted)" and is still ours.
pid_runs() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	[[ ${exe% (deleted)} == "$2" ]]
}

# stop_pid NAME PID EXE SECONDS: TERM, wait up to SECONDS, then KILL.
stop_pid() {
	local name=$1 pid=$2 exe=$3 wait=$4 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < wait * 10; i++)); do
		pid_runs "$pid" "$exe" || return 0
		sleep 0.1
	done
	echo "testbed: $name (pid $pid) ignored TERM for ${wait}s; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		pid_runs "$pid" "$exe" || return 0
		sleep 0.1
	done
	die "$name (pid $pid) survived KILL"
}

# dockerd starts its own containerd and leaves it behind when it is killed.
stop_orphan_containerd() {
	local file=$DOCKER_EXEC_ROOT/containerd/containerd.pid pid
	if [[ -s $file ]]; then
		pid=$(<"$file")
		if [[ $pid =~ ^[0-9]+$ ]] && pid_runs "$pid" "$CONTAINERD_EXE"; then
			stop_pid containerd "$pid" "$CONTAINERD_EXE" 10
		fi
	fi
	rm -f "$file" "$DOCKER_EXEC_ROOT"/containerd/*.sock* "$DOCKER_EXEC_ROOT/dockerd.pid"
}

# dockerd bind-mounts its data root onto itself, and a daemon killed with containers or builds
# running leaves their mounts behind; unmounted, the state dir can simply be deleted.
unmount_state() {
	local m
	findmnt -rn -o TARGET | awk -v s="$STATE/" 'index($0, s) == 1' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

registry_healthy() {
	curl -fsS -m 2 -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null
}

docker_healthy() {
	[[ -S $DOCKER_SOCK ]] &&
		curl -fsS -m 2 -o /dev/null --unix-socket "$DOCKER_SOCK" http://localhost/_ping 2>/dev/null
}

buildkit_healthy() {
	[[ -S $BUILDKIT_SOCK && -x $BUILDCTL_EXE ]] &&
		timeout 3 "$BUILDCTL_EXE" --addr "unix://$BUILDKIT_SOCK" debug workers >/dev/null 2>&1
}

mariadb_healthy() {
	[[ -S $MARIADB_SOCK ]] && timeout 3 mariadb-admin --socket="$MARIADB_SOCK" -uroot ping >/dev/null 2>&1
}

# Holding the lock keeps two `make testbed` runs (say, two test jobs) from racing to start the
# same daemons.
take_lock() {
	mkdir -p "$STATE" "$RUN_DIR" "$LOG_DIR"
	exec 9>"$STATE/lock"
	flock -w 900 9 || die "another make testbed/testbed-down holds $STATE/lock"
}
