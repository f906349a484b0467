#!/usr/bin/env bash
# make testbed-down: stops what make testbed started, found by its pid files and nothing else.
# State (registry storage, images, caches) stays, so the next make testbed is quick.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_service() {
	local name=$1 exe=$2 wait=$3 pid
	if pid=$(pid_of "$name" "$exe"); then
		stop_pid "$name" "$pid" "$exe" "$wait"
		echo "$name: stopped (pid $pid)"
	else
		echo "$name: not running"
	fi
	rm -f "$RUN_DIR/$name.pid"
}

[[ $(id -u) == 0 ]] || die "make testbed-down must run as root, like make testbed"
take_lock
stop_service mariadb "$MARIADB_EXE" 30
stop_service buildkitd "$BUILDKITD_EXE" 20
# dockerd gives its containers 15 s to stop before it stops itself.
stop_service dockerd "$DOCKERD_EXE" 30
stop_orphan_containerd
stop_service registry "$REGISTRY_EXE" 10
unmount_state
