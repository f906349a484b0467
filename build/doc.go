// Package build owns the build plan — the app, its runtime and its layer keys
// as data (`phpbuild plan`) — and, from it, running the build: BuildKit for
// steps that execute programs, go-containerregistry for assembly and push.
package build
