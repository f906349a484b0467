package release

import (
	"context"
	"time"
)

// target is where an environment's releases run: containers on a docker
// host behind the front proxy (dockerTarget), or a Swarm service behind
// it (swarmTarget). run drives every release through one, chosen once
// from the environment's target; another orchestrator is one more file.
type target interface {
	// check refuses, before anything changes, a host that cannot take
	// the target's releases.
	check(ctx context.Context) error
	// ensureNetwork makes the network the release and the proxy meet on.
	ensureNetwork(ctx context.Context) error
	// recover removes what a release killed midway left behind.
	recover(ctx context.Context)
	// needsSnapshot is whether a rollback stops when its env snapshot is
	// gone from the state dir (a swarm may still hold it as a secret).
	needsSnapshot() bool
	// start runs the release's containers or service with the env
	// snapshot (snap; nil when only the host has it) and waits until they
	// are healthy and pass the smoke checks. It times those steps, and
	// removes what it started when they fail.
	start(ctx context.Context, a *attempt, snap []byte, snapPath string) (*started, error)
	// startProcesses starts the release's process types (a.procs) and
	// waits until each is ready; when one is not, it removes what it
	// started, and nothing that runs changed.
	startProcesses(ctx context.Context, a *attempt, snap []byte, snapPath string) error
	// abandon removes what startProcesses started, when a later step of
	// the release failed.
	abandon(ctx context.Context, a *attempt)
	// replaceProcesses, once the release serves, stops the earlier
	// releases' process types gracefully and moves the scheduler: the old
	// one stops before the new one starts.
	replaceProcesses(ctx context.Context, a *attempt, snap []byte, snapPath string) error
	// route sends the proxy's traffic to s, and only to it once drain
	// returns.
	route(ctx context.Context, a *attempt, s *started) error
	// drain waits until what served before s has stopped, gracefully.
	drain(ctx context.Context, a *attempt, s *started)
	// retain removes what the target keeps per release beyond images and
	// snapshots, for releases older than the kept ones.
	retain(ctx context.Context)
	// instances is what runs in the environment: web, every process type
	// and the scheduler, for status and logs.
	instances(ctx context.Context) ([]instance, error)
	// health is docker's view of what serves: healthy, unhealthy, starting.
	health(ctx context.Context, serving string) string
	// planSteps is what a release does after its hooks, for --plan.
	planSteps(envDigest string) []string
}

// started is a release's containers or service, healthy, not yet serving.
type started struct {
	// id is the container's name, or the service's ID.
	id string
	// ready is when it could first take traffic: the switch is timed
	// from it.
	ready time.Time
}

// newTarget is env's target on h; h may have no client for planSteps.
func newTarget(h *host) target {
	if h.env.Target == "swarm" {
		return &swarmTarget{h}
	}
	return &dockerTarget{h}
}

var (
	_ target = (*dockerTarget)(nil)
	_ target = (*swarmTarget)(nil)
)
