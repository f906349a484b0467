// Package release owns putting an image into an environment: environments,
// env snapshots, container replacement, the proxy switch, rollback, the
// per-environment lock and the release log. run (release.go) is every
// release's one sequence; each target (target.go: a docker host's
// containers, a Swarm service) implements its steps, and the state dir
// (state.go) is reached through the front proxy container.
package release
