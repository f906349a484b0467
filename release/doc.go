// Package release owns putting an image into an environment: environments,
// env snapshots, container replacement, the proxy switch, rollback, the
// per-environment lock and the release log. (Filled in by the release work.)
package release
