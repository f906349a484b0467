package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Status is what an environment runs now.
type Status struct {
	Current *Record `json:"current"`
	// Serving is the container (swarm: the service) the front proxy sends
	// traffic to.
	Serving string `json:"serving"`
	// Health is docker's view of it: healthy, unhealthy, starting.
	Health string `json:"health"`
	Lock   *Lock  `json:"lock"`
}

// ErrNeverReleased is an environment without a front proxy yet.
var ErrNeverReleased = errors.New("the environment has never been released")

// open connects to env's docker host and checks that its proxy exists.
func open(ctx context.Context, env *Environment) (*host, error) {
	h, err := connect(env)
	if err != nil {
		return nil, err
	}
	if _, err := h.cli.ContainerInspect(ctx, h.proxyName()); err != nil {
		h.Close()
		return nil, fmt.Errorf("%s: %w (no %s container on the docker host)", env.Name, ErrNeverReleased, h.proxyName())
	}
	return h, nil
}

// GetStatus reads the current release, its health and the lock.
func GetStatus(ctx context.Context, env *Environment) (*Status, error) {
	h, err := open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	st := &Status{Serving: h.upstream(ctx)}
	hist, err := h.history(ctx)
	if err != nil {
		return nil, err
	}
	cur, _ := h.state.read(ctx, "current")
	id := strings.TrimSpace(string(cur))
	for i := range hist {
		if hist[i].ID == id {
			st.Current = &hist[i]
		}
	}
	if st.Serving != "" {
		st.Health = newTarget(h).health(ctx, st.Serving)
	}
	if l, err := h.readLock(ctx); err == nil {
		st.Lock = l
	}
	return st, nil
}

// History is env's release log, oldest first.
func History(ctx context.Context, env *Environment) ([]Record, error) {
	h, err := open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	return h.history(ctx)
}

// Unlock breaks env's lock and returns who held it (nil: nobody).
func Unlock(ctx context.Context, env *Environment) (*Lock, error) {
	h, err := open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	l, err := h.readLock(ctx)
	if err != nil {
		return nil, nil
	}
	if err := h.state.remove(ctx, "lock"); err != nil {
		return nil, err
	}
	return l, nil
}

// Plan is what a release would do, changing nothing.
type Plan struct {
	Image   string   `json:"image"`
	Env     string   `json:"env"`
	EnvDiff []string `json:"envDiff"`
	Current *Record  `json:"current"`
	Steps   []string `json:"steps"`
}

// PlanRelease reads the env files and secrets and compares them with the
// current release's; nothing on the host changes.
func PlanRelease(ctx context.Context, env *Environment, o Options) (*Plan, error) {
	snap, ref, err := releaseInputs(env, o)
	if err != nil {
		return nil, err
	}
	p := &Plan{Image: ref, Env: snap.Digest}
	var old []EnvVar
	if st, err := GetStatus(ctx, env); err == nil && st.Current != nil {
		p.Current = st.Current
		h, err := connect(env)
		if err == nil {
			if b, err := h.state.read(ctx, snapshotFile(st.Current.Env)); err == nil {
				old, _ = ParseEnv("current snapshot", b)
			}
			h.Close()
		}
	}
	p.EnvDiff = snap.Diff(old)
	if p.EnvDiff == nil {
		p.EnvDiff = []string{}
	}
	p.Steps = append(p.Steps, "pull "+ref+" (unless the host has it)", "write the env snapshot "+snap.Digest[:19]+"… (0600)")
	for _, hk := range []struct{ n, c string }{{"backup", env.Hooks.Backup}, {"pre_release", env.Hooks.PreRelease}} {
		if hk.c != "" {
			p.Steps = append(p.Steps, "hook "+hk.n+": "+hk.c)
		}
	}
	p.Steps = append(p.Steps, newTarget(&host{env: env}).planSteps(snap.Digest)...)
	return p, nil
}

func healthPath(env *Environment) string {
	if env.Health.Path == "" {
		return "the image's health route"
	}
	return env.Health.Path
}
