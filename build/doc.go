// Package build owns the build plan — the app, its runtime and its layer keys
// as data (`phpbuild plan`) — and, from it, running the build: a producer per
// layer kind (a BuildKit step for layers that programs make, Go for the
// others), assembly with go-containerregistry, and publishers that deliver
// the image (registry, docker daemon, OCI layout, tarball).
package build
