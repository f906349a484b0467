package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/swarm"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
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
	// Maintenance is set while maintenance mode is on.
	Maintenance *Maintenance `json:"maintenance"`
	// Processes are the process types and the scheduler ("schedule"),
	// by name, the scheduler last.
	Processes []ProcessStatus `json:"processes"`
}

// ProcessStatus is a process type, or the scheduler, and what runs it.
type ProcessStatus struct {
	Name       string            `json:"name"`
	Containers []ContainerStatus `json:"containers"`
}

// ContainerStatus is one container of a process type; on Swarm, one task
// of its service.
type ContainerStatus struct {
	Name    string `json:"name"`
	Release string `json:"release"`
	Image   string `json:"image"`
	// State is docker's (running, restarting, exited) or the task's.
	State string `json:"state"`
	// Health is docker's: healthy, unhealthy, starting; "" without a
	// health check, or for a task on another node.
	Health string `json:"health,omitempty"`
}

// ErrNeverReleased is an environment without a front proxy yet.
var ErrNeverReleased = errors.New("the environment has never been released")

// open connects to env's docker host and checks that its proxy exists.
func open(ctx context.Context, env *Environment) (*host, error) {
	h, err := connect(ctx, env)
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
	return h.status(ctx)
}

func (h *host) status(ctx context.Context) (*Status, error) {
	st := &Status{Serving: h.upstream(ctx)}
	var err error
	if st.Current, err = h.current(ctx); err != nil {
		return nil, err
	}
	if st.Serving != "" {
		st.Health = newTarget(h).health(ctx, st.Serving)
	}
	if l, err := h.readLock(ctx); err == nil {
		st.Lock = l
	}
	if st.Maintenance, err = h.maintenance(ctx); err != nil {
		return nil, err
	}
	if st.Processes, err = h.processStatus(ctx); err != nil {
		return nil, err
	}
	return st, nil
}

// current is the environment's current release; nil when there is none.
func (h *host) current(ctx context.Context) (*Record, error) {
	hist, err := h.history(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := h.state.read(ctx, "current")
	if err != nil && !errors.Is(err, errNoState) {
		return nil, err
	}
	id := strings.TrimSpace(string(cur))
	for i := range hist {
		if hist[i].ID == id {
			return &hist[i], nil
		}
	}
	return nil, nil
}

// requireCurrent is current for what cannot go without a release: its
// image and env snapshot.
func (h *host) requireCurrent(ctx context.Context) (*Record, error) {
	rec, err := h.current(ctx)
	if err == nil && rec == nil {
		err = fmt.Errorf("%s: %w (no release has succeeded yet)", h.env.Name, ErrNeverReleased)
	}
	return rec, err
}

// processStatus lists every process type's and the scheduler's
// containers, whatever release they belong to: during a release, or after
// one killed midway, the old ones run beside the new.
func (h *host) processStatus(ctx context.Context) ([]ProcessStatus, error) {
	ins, err := h.instances(ctx)
	if err != nil {
		return nil, err
	}
	out := []ProcessStatus{} // JSON []
	for _, in := range ins {
		if in.process == webName {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Name != in.process {
			out = append(out, ProcessStatus{Name: in.process})
		}
		p := &out[len(out)-1]
		p.Containers = append(p.Containers, ContainerStatus{Name: in.name, Release: in.release, Image: in.image, State: in.state, Health: h.containerHealth(ctx, in.container)})
	}
	return out, nil
}

// containerHealth is docker's health of a container on this host, ""
// when it has no health check or is elsewhere.
func (h *host) containerHealth(ctx context.Context, id string) string {
	if id == "" {
		return ""
	}
	ins, err := h.cli.ContainerInspect(ctx, id)
	if err != nil || ins.ContainerJSONBase == nil || ins.State == nil || ins.State.Health == nil {
		return ""
	}
	return h.healthOf(ctx, ins)
}

// healthOf is docker's health of an inspected container that has a health
// check. Before docker's first check (health.docker_interval after the
// start, 30 s by default), where docker says "starting", phpbuild runs the
// container's check once itself: "healthy" when it passes, else
// "unhealthy".
func (h *host) healthOf(ctx context.Context, ins container.InspectResponse) string {
	hs := ins.State.Health
	if hs.Status != container.Starting || len(hs.Log) > 0 || !ins.State.Running || ins.Config == nil || ins.Config.Healthcheck == nil {
		return hs.Status
	}
	test := ins.Config.Healthcheck.Test
	if len(test) < 2 || test[0] != "CMD" {
		return hs.Status
	}
	if _, ok := h.check(ctx, ins.ID, nil, 0, test[1:]...); ok {
		return container.Healthy
	}
	return container.Unhealthy
}

// webName is web's name among the process types, as the Procfile has it.
const webName = "web"

// instance is one container of the environment, on Swarm one task: of
// web, of a process type or of the scheduler.
type instance struct {
	// process is webName, a process type or schedulerName.
	process string
	// replica numbers the containers of a process type (a task's slot);
	// 0 when there is no number.
	replica int
	name    string
	release string
	image   string
	state   string
	// container is its container's ID; "" for a swarm task that has none
	// yet.
	container string
	// logs opens its output, multiplexed as docker sends it.
	logs func(context.Context, container.LogsOptions) (io.ReadCloser, error)
}

// instances is what runs in the environment, sorted: web, the process
// types by name, the scheduler; each by replica.
func (h *host) instances(ctx context.Context) ([]instance, error) {
	ins, err := newTarget(h).instances(ctx)
	if err != nil {
		return nil, err
	}
	rank := func(p string) int {
		switch p {
		case webName:
			return 0
		case schedulerName:
			return 2
		}
		return 1
	}
	slices.SortFunc(ins, func(a, b instance) int {
		return cmp.Or(cmp.Compare(rank(a.process), rank(b.process)), strings.Compare(a.process, b.process),
			cmp.Compare(a.replica, b.replica), strings.Compare(a.name, b.name))
	})
	return ins, nil
}

// instances are the environment's web, process and scheduler containers.
func (t *dockerTarget) instances(ctx context.Context) ([]instance, error) {
	h := t.h
	var out []instance
	for _, role := range []string{"app", roleProcess, roleScheduler} {
		cs, err := h.roleContainers(ctx, role)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			in := instance{process: webName, release: c.Labels[labelRelease], image: c.Image, state: c.State, container: c.ID}
			if len(c.Names) > 0 {
				in.name = strings.TrimPrefix(c.Names[0], "/")
			}
			switch role {
			case roleProcess:
				in.process = c.Labels[labelProcess]
				// APP-ENV-NAME-ID-N
				if i := strings.LastIndexByte(in.name, '-'); i >= 0 {
					in.replica, _ = strconv.Atoi(in.name[i+1:])
				}
			case roleScheduler:
				in.process = schedulerName
			}
			id := c.ID
			in.logs = func(ctx context.Context, o container.LogsOptions) (io.ReadCloser, error) {
				return h.cli.ContainerLogs(ctx, id, o)
			}
			out = append(out, in)
		}
	}
	return out, nil
}

// instances are the running tasks of the environment's services: web's,
// each process type's and the scheduler's. Tasks Swarm has shut down are
// history, and left out.
func (t *swarmTarget) instances(ctx context.Context) ([]instance, error) {
	h := t.h
	svcs, err := h.cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name))})
	if err != nil {
		return nil, transient(fmt.Errorf("listing services: %w", err))
	}
	var out []instance
	for _, s := range svcs {
		var process string
		switch s.Spec.Labels[labelRole] {
		case "service": // web's (serviceSpec)
			process = webName
		case roleProcess:
			process = s.Spec.Labels[labelProcess]
		case roleScheduler:
			process = schedulerName
		default:
			continue
		}
		tasks, err := h.tasks(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		for _, tk := range tasks {
			if tk.DesiredState != swarm.TaskStateRunning {
				continue
			}
			in := instance{process: process, replica: tk.Slot, name: taskName(s.Spec.Name, &tk), release: taskRelease(&tk), state: string(tk.Status.State)}
			if cs := tk.Spec.ContainerSpec; cs != nil {
				in.image = cs.Image
			}
			if cs := tk.Status.ContainerStatus; cs != nil {
				in.container = cs.ContainerID
			}
			id := tk.ID
			in.logs = func(ctx context.Context, o container.LogsOptions) (io.ReadCloser, error) {
				return h.cli.TaskLogs(ctx, id, o)
			}
			out = append(out, in)
		}
	}
	return out, nil
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

// Unlock breaks env's lock and returns who held it (nil: nobody). A lock
// it breaks goes to the release log (kind "unlock", result "broken"), under
// o's user and message.
func Unlock(ctx context.Context, env *Environment, o Options) (*Lock, error) {
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
	now := time.Now()
	msg := fmt.Sprintf("broke the lock of %s (pid %d on %s, since %s%s)", l.Holder, l.PID, l.Host, l.Since, msgSuffix(l.Message))
	if o.Message != "" {
		msg = o.Message + "; " + msg
	}
	rec := &Record{ID: newID(now), Kind: "unlock", Result: "broken", User: o.user(), Started: now.UTC().Format(time.RFC3339), Duration: "0s", Message: msg}
	if err := h.appendLog(ctx, rec); err != nil {
		return l, err
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
	// Filesystem says which dirs the containers may write, and how.
	Filesystem []string `json:"filesystem"`
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
		h, err := connect(ctx, env)
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
	labels, err := planLabels(ctx, env, ref)
	if err != nil {
		p.Filesystem = []string{fmt.Sprintf("unknown until the release pulls the image (%v)", err)}
		return p, nil
	}
	fs, err := layoutOf(env, labels, ref, "ID")
	if err != nil {
		return nil, err
	}
	p.Filesystem = fs.describe(env)
	return p, nil
}

// planLabels are ref's labels, from the docker host when it has the image,
// else from the registry.
func planLabels(ctx context.Context, env *Environment, ref string) (map[string]string, error) {
	if h, err := connect(ctx, env); err == nil {
		defer h.Close()
		if ins, err := h.cli.ImageInspect(ctx, ref); err == nil {
			return imageLabels(ins), nil
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	return cf.Config.Labels, nil
}

func healthPath(env *Environment) string {
	if env.Health.Path == "" {
		return "the image's health route"
	}
	return env.Health.Path
}

// EnvChanges says, for each pair of env snapshot digests {from, to}, which
// variables to added ("+ NAME"), changed ("~ NAME") or removed ("- NAME")
// against from: names only, never a value. A snapshot the host no longer
// keeps leaves its pair nil.
func EnvChanges(ctx context.Context, env *Environment, pairs [][2]string) ([][]string, error) {
	h, err := open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	snaps := map[string]map[string]string{}
	read := func(digest string) map[string]string {
		if vars, ok := snaps[digest]; ok {
			return vars
		}
		var vars map[string]string
		if b, err := h.state.read(ctx, snapshotFile(digest)); err == nil {
			if parsed, err := ParseEnv("snapshot "+digest, b); err == nil {
				vars = map[string]string{}
				for _, v := range parsed {
					vars[v.Key] = v.Value
				}
			}
		}
		snaps[digest] = vars
		return vars
	}
	out := make([][]string, len(pairs))
	for i, p := range pairs {
		from, to := read(p[0]), read(p[1])
		if from == nil || to == nil {
			continue
		}
		changes := []string{}
		for _, k := range slices.Sorted(maps.Keys(to)) {
			old, ok := from[k]
			switch {
			case !ok:
				changes = append(changes, "+ "+k)
			case old != to[k]:
				changes = append(changes, "~ "+k)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(from)) {
			if _, ok := to[k]; !ok {
				changes = append(changes, "- "+k)
			}
		}
		out[i] = changes
	}
	return out, nil
}
