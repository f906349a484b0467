#!/usr/bin/env bash
# Builds buildkitd and buildctl at BUILDKIT_VERSION from the Go module proxy into a machine-local
# cache. `go install ...@version` refuses modules with exclude directives, hence the throwaway
# module; -mod=mod lets it take buildkit's own requirements as they are.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
go mod init x
go get "github.com/moby/buildkit@$BUILDKIT_VERSION"
go build -trimpath -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
	-o "$tmp/bin/" github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl
"$tmp/bin/buildkitd" --version

# Renamed into place one by one, so that a build cut short never leaves a binary that up.sh
# would take for a finished one (it checks for both).
mkdir -p "$BUILDKIT_BIN_DIR"
for bin in buildctl buildkitd; do
	cp "$tmp/bin/$bin" "$BUILDKIT_BIN_DIR/.$bin.tmp"
	mv -f "$BUILDKIT_BIN_DIR/.$bin.tmp" "$BUILDKIT_BIN_DIR/$bin"
done
