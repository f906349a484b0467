#!/usr/bin/env bash
# debian-image.sh SUITE MIRROR [SECURITY_MIRROR [ARCH]]: debootstraps Debian SUITE, trims it the way
# Debian's own -slim images are trimmed, and pushes it to the test bed registry as
# library/debian:SUITE-slim, which is what docker.io/library/debian:SUITE-slim resolves to there.
# Another ARCH than the machine's (arm64, run through QEMU's binfmt_misc handler) goes to
# library/debian:SUITE-slim-ARCH.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

suite=$1 mirror=$2 security=${3:-}
native=$(dpkg --print-architecture)
arch=${4:-$native}
tag=$suite-slim
[[ $arch == "$native" ]] || tag=$suite-slim-$arch
work=$STATE/images/$tag
rootfs=$work/rootfs

# debootstrap mounts /proc and /sys into the target; a run killed halfway may leave them, and
# rm -rf must never walk into the host's.
clean_work() {
	local m
	findmnt -rn -o TARGET | awk -v w="$work/" 'index($0, w) == 1' | sort -r | while read -r m; do
		umount -l "$m"
	done
	rm -rf --one-file-system "$work"
}
trap clean_work EXIT
clean_work
mkdir -p "$work"

# debootstrap only knows the suites that existed when it was released; Debian's later suites
# are bootstrapped the way sid is.
script=/usr/share/debootstrap/scripts/$suite
[[ -e $script ]] || script=/usr/share/debootstrap/scripts/sid
echo "debootstrap $suite from $mirror with $script"
if ! debootstrap --variant=minbase --components=main --arch="$arch" "$suite" "$rootfs" "$mirror" "$script"; then
	tail -n 30 "$rootfs/debootstrap/debootstrap.log" 2>/dev/null || true
	exit 1
fi

# Debian's -slim images exclude these from every later package install too.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
SLIM
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CLEAN
printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{info,linda,locale,man}/* "$rootfs"/usr/share/lintian/overrides/*
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
	"$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/archives/partial/* \
	"$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old "${rootfs:?}"/dev/*
find "$rootfs/var/log" -type f -delete
rm -f "$rootfs/etc/machine-id" "$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

# apt inside the image uses the same archive the machine does.
rm -f "$rootfs/etc/apt/sources.list"
{
	printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
		"$mirror" "$suite" "$suite"
	if [[ -n $security ]]; then
		printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$security" "$suite"
	fi
} >"$rootfs/etc/apt/sources.list.d/debian.sources"

tar --numeric-owner --xattrs --xattrs-include='security.capability' -C "$rootfs" -cf "$work/rootfs.tar" .
echo "rootfs: $(du -sh "$work/rootfs.tar" | cut -f1)"

cd "$REPO_ROOT" || exit
go run ./testbed/cmd/pushrootfs -rootfs "$work/rootfs.tar" -arch "$arch" \
	-created-by "debootstrap --variant=minbase $suite" \
	-ref "$REGISTRY_ADDR/library/debian:$tag"
