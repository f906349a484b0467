package release

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"

	"github.com/phpbuild/phpbuild/processes"
)

// The swarm target runs the app as the service APP-ENV, replaced by
// Swarm's own rolling update (start-first, failure action rollback) and
// gated by the same `launcher health` check.
//
// How traffic reaches it: the service publishes nothing. The docker
// target's front proxy (a plain container running nginx, which owns the
// published port, the state dir and the lock) is attached to the
// environment's attachable overlay network and sends every request to
// tasks.APP-ENV, the service being in dnsrr endpoint mode. The service
// cannot publish the port itself: the routing mesh needs IPVS, which some
// kernels lack (this test bed's does), and with host-mode publishing on
// one node a start-first update cannot start the new task while the old
// one holds the port. Zero downtime holds because Swarm adds a task to
// tasks.APP-ENV only once its health check passes, and removes it two
// seconds (Swarm's gossip delay) before stopping it, while the proxy's
// nginx re-resolves the name every second: no proxy reload per release.

// labelSnapshot is the env digest a secret holds, to check that a secret
// found by name is the snapshot wanted.
const labelSnapshot = "dev.phpbuild.snapshot"

const (
	swarmReplicas = 1
	healthRetries = 3
	// convergeMargin is what an update may take besides the health
	// deadline: scheduling, creating the task, the monitor period.
	convergeMargin = 30 * time.Second
	// gossipDelay is how long Swarm keeps a task out of DNS before it
	// stops it.
	gossipDelay = 2 * time.Second
	envTarget   = "/app/.env"
)

// ErrNotSwarmManager is a docker host that cannot take a service: not in
// a swarm, or only a worker. phpbuild never creates a swarm itself.
var ErrNotSwarmManager = errors.New("the docker host is not a manager of an active swarm")

// Swarm's naming rules (swarmkit's controlapi): services are DNS labels,
// secrets a little looser; both at most 63 or 64 characters.
var (
	serviceName = regexp.MustCompile(`^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`)
	secretName  = regexp.MustCompile(`^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$`)
)

func (h *host) service() string { return h.prefix() }

func checkSwarmNames(env *Environment) error {
	svc := env.App + "-" + env.Name
	if len(svc) > 63 || !serviceName.MatchString(svc) {
		return env.desc.FieldError("environments."+env.Name+".app", "%q (with the environment: service %q) cannot name a swarm service: letters, digits, '-' and '_', at most 63 characters", env.App, svc)
	}
	if sec := svc + "-env-0123456789ab"; len(sec) > 64 || !secretName.MatchString(sec) {
		return env.desc.FieldError("environments."+env.Name+".app", "%q is too long for the names of swarm secrets (%s): at most 47 characters with the environment's name", env.App, sec)
	}
	return nil
}

// swarmTarget runs each release as an update of the service APP-ENV.
type swarmTarget struct{ h *host }

// check refuses names Swarm would refuse, before touching the host, and a
// daemon that is not a manager.
func (t *swarmTarget) check(ctx context.Context) error {
	if err := checkSwarmNames(t.h.env); err != nil {
		return err
	}
	return t.h.checkManager(ctx)
}

func (t *swarmTarget) ensureNetwork(ctx context.Context) error { return t.h.ensureOverlay(ctx) }

// recover has nothing to do: Swarm replaces the tasks of an update that
// stopped halfway, and a smoke canary left behind goes with the next.
func (t *swarmTarget) recover(context.Context) {}

// needsSnapshot is false: a rollback whose state dir copy is gone can
// still use the snapshot's secret.
func (t *swarmTarget) needsSnapshot() bool { return false }

// start smoke-checks a canary of the release, then creates or updates the
// service and waits until Swarm has converged on it.
func (t *swarmTarget) start(ctx context.Context, a *attempt, snap []byte, snapPath string) (*started, error) {
	h, rec := t.h, a.rec
	if len(h.env.Health.Smoke) > 0 {
		if snap == nil {
			return nil, fmt.Errorf("the env snapshot %s of that release is gone from the host's state dir, and the smoke checks need it", rec.Env)
		}
		t0 := time.Now()
		if err := h.smokeCanary(ctx, rec, snapPath, &a.o); err != nil {
			return nil, err
		}
		a.step("smoke", t0)
	}
	secret, err := h.ensureSecret(ctx, rec.Env, snap)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	d, err := h.deploy(ctx, rec, secret)
	if err != nil {
		return nil, err
	}
	if d.created {
		a.o.logf("created service %s with %s", h.service(), rec.Digest)
	} else {
		a.o.logf("updating service %s to %s (start-first)", h.service(), rec.Digest)
	}
	healthyAt, err := h.converge(ctx, d, rec, t0, &a.o)
	if err != nil {
		if d.created {
			// Nothing served before: do not leave a failing service
			// restarting.
			h.cli.ServiceRemove(context.WithoutCancel(ctx), d.id)
		}
		return nil, err
	}
	return &started{id: d.id, ready: healthyAt}, nil
}

// route points the front proxy at tasks.SERVICE, once: the config then
// stays the same from release to release, Swarm's DNS doing the switch.
func (t *swarmTarget) route(ctx context.Context, a *attempt, _ *started) error {
	h := t.h
	if err := h.routeProxy(ctx, h.service()); err != nil {
		return err
	}
	a.o.logf("tasks.%s serves %s", h.service(), a.rec.ID)
	return nil
}

func (t *swarmTarget) startProcesses(ctx context.Context, a *attempt, snap []byte, _ string) error {
	if len(a.procs.Processes) > 0 && snap == nil {
		return fmt.Errorf("the env snapshot %s of that release is gone from the host's state dir, and the process types need it", a.rec.Env)
	}
	return t.h.swarmStartProcesses(ctx, a, snap)
}

func (t *swarmTarget) abandon(ctx context.Context, a *attempt) { a.runUndo(ctx) }

func (t *swarmTarget) replaceProcesses(ctx context.Context, a *attempt, snap []byte, _ string) error {
	return t.h.swarmReplaceProcesses(ctx, a, snap)
}

func (t *swarmTarget) drain(ctx context.Context, a *attempt, s *started) {
	t.h.waitDrained(ctx, s.id, a.rec.ID)
}

func (t *swarmTarget) retain(ctx context.Context) { t.h.retainSecrets(ctx) }

func (t *swarmTarget) health(ctx context.Context, _ string) string { return t.h.serviceHealth(ctx) }

// checkManager refuses a daemon that is not a swarm manager; phpbuild
// never runs `docker swarm init` for you.
func (h *host) checkManager(ctx context.Context) error {
	info, err := h.cli.Info(ctx)
	if err != nil {
		return transient(fmt.Errorf("asking docker for its swarm state: %w", err))
	}
	sw := info.Swarm
	if sw.LocalNodeState == swarm.LocalNodeStateActive && sw.ControlAvailable {
		return nil
	}
	state := "swarm: " + string(sw.LocalNodeState)
	if sw.LocalNodeState == swarm.LocalNodeStateActive {
		state = "a worker node"
	}
	return fmt.Errorf("%w (%s): run `docker swarm init` on it, point environments.%s.host at a manager, or use target = \"docker\"", ErrNotSwarmManager, state, h.env.Name)
}

// ensureOverlay creates the environment's network as an attachable
// overlay: the service's tasks and the proxy container meet on it.
func (h *host) ensureOverlay(ctx context.Context) error {
	n, err := h.cli.NetworkInspect(ctx, h.network(), network.InspectOptions{})
	if err == nil {
		if n.Driver != "overlay" || !n.Attachable {
			return fmt.Errorf("network %s is a %s network, not an attachable overlay: the environment ran with target = \"docker\"; remove its containers and that network first", h.network(), n.Driver)
		}
		return nil
	}
	_, err = h.cli.NetworkCreate(ctx, h.network(), network.CreateOptions{Driver: "overlay", Attachable: true, Labels: h.labels("network", "")})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("creating network %s: %w", h.network(), err)
	}
	return nil
}

func (t *swarmTarget) planSteps(envDigest string) []string {
	env := t.h.env
	svc := env.App + "-" + env.Name
	hex := strings.TrimPrefix(envDigest, "sha256:")
	var steps []string
	if len(env.Health.Smoke) > 0 {
		steps = append(steps, "start a one-off container of the new image with the new env on the network; wait for its health check")
		for _, c := range env.Health.Smoke {
			steps = append(steps, c.describe()+" against it; a failure stops the release before the service changes")
		}
	}
	return append(steps,
		fmt.Sprintf("create the secret %s-env-%s (unless the swarm has it), mounted at %s", svc, hex[:min(12, len(hex))], envTarget),
		"update each of the image's process types (its "+processes.Label+" label) as the service "+svc+"-NAME: start-first; a failure rolls it back and stops the release",
		fmt.Sprintf("update the service %s: start the new task first, wait for %s → %d (every %s, up to %s); a failure rolls the service back",
			svc, healthPath(env), env.Health.Status, env.Health.Interval, env.Health.Deadline),
		fmt.Sprintf("the proxy on port %d sends to tasks.%s: the new task once healthy, the old one no more", env.Port, svc),
		fmt.Sprintf("Swarm drains and stops the old task (SIGQUIT, up to %s)", env.Drain.Round(time.Second)),
		"update the scheduler's service "+svc+"-schedule stop-first (the old task stops before the new one starts); remove the services of process types the image dropped",
	)
}
