package release

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"

	"github.com/phpbuild/phpbuild/processes"
)

// Hooks are project.toml's commands run around a release, each in a
// one-off container of the release's image with its env snapshot.

// hookCmd is one of project.toml's hooks.
type hookCmd struct{ name, cmd string }

// hooksBefore are the hooks run before the new container starts. A
// rollback takes a backup but runs no pre_release: the older image's
// migrations would not undo the newer ones. The image's Procfile release
// command is the pre_release hook of an environment that sets none.
func hooksBefore(env *Environment, kind string, t *processes.Table) []hookCmd {
	hooks := []hookCmd{{"backup", env.Hooks.Backup}}
	if kind != "rollback" {
		pre := env.Hooks.PreRelease
		if pre == "" && t != nil {
			pre = t.Release
		}
		hooks = append(hooks, hookCmd{"pre_release", pre})
	}
	return hooks
}

// runHooks runs, in one-off containers, each hook that has a command,
// timing each as a step. haveSnap false means the env snapshot the hooks
// would run with is gone from the host.
func (a *attempt) runHooks(ctx context.Context, hooks []hookCmd, snapPath string, haveSnap bool) error {
	for _, hk := range hooks {
		if hk.cmd == "" {
			continue
		}
		if !haveSnap {
			return fmt.Errorf("the env snapshot %s of that release is gone from the host's state dir, and hook %s needs it", a.rec.Env, hk.name)
		}
		t0 := time.Now()
		a.o.logf("hook %s: %s", hk.name, hk.cmd)
		if err := a.h.hook(ctx, a.rec, hk.name, hk.cmd, snapPath); err != nil {
			return err
		}
		a.step(hk.name, t0)
	}
	return nil
}

// hook runs cmd in a one-off container of the release's image with its
// env snapshot (the launcher loads it), as the app user; backups go to
// /backup, kept in the state dir with the release.
func (h *host) hook(ctx context.Context, rec *Record, name, cmd, snapPath string) error {
	hc := h.hostConfig(snapPath, rec.ID)
	if name == "backup" {
		dir := "backups/" + rec.ID
		if err := h.state.mkdir(ctx, dir, 1000); err != nil {
			return fmt.Errorf("making the backup dir: %w", err)
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: h.state.hostPath(dir), Target: "/backup"})
	}
	cfg := &container.Config{Image: rec.Digest, Labels: h.labels("hook", rec.ID), Env: []string{"PHPBUILD_ENV_FILE=/app/.env"},
		Entrypoint: []string{"/usr/local/bin/launcher", "exec", "/bin/sh", "-c", cmd}}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, h.prefix()+"-"+rec.ID+"-"+strings.ReplaceAll(name, "_", "-"))
	if err != nil {
		return fmt.Errorf("hook %s: %w", name, err)
	}
	defer h.cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true})
	wait, werr := h.cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("hook %s: %w", name, err)
	}
	select {
	case err := <-werr:
		return fmt.Errorf("hook %s: %w", name, err)
	case res := <-wait:
		if res.StatusCode != 0 {
			return fmt.Errorf("hook %s exited with code %d; nothing was switched:\n  %s", name, res.StatusCode, strings.ReplaceAll(h.logs(ctx, created.ID, 20), "\n", "\n  "))
		}
	}
	return nil
}
