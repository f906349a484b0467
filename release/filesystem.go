package release

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"

	"github.com/phpbuild/phpbuild/runtimes"
)

// fsLayout is how a release's containers see their filesystem: read-only,
// with a tmpfs on each dir the app writes that no volume holds, or
// writable as the image is.
type fsLayout struct {
	readOnly bool
	// tmpfs are absolute dirs, sorted.
	tmpfs []string
	// kept are dirs under a tmpfs whose image content stays, read-only
	// (Volt's compiled templates): each is a volume of the release,
	// which docker fills from the image when it makes it.
	kept []keptDir
	// note says why a read-only environment runs an image writable.
	note string
}

type keptDir struct{ dir, volume string }

// roleKept labels the volumes that hold a release's kept dirs.
const roleKept = "kept"

// layoutOf is the layout of the image with labels for release id in env:
// /tmp, the run dir and the image's writable dirs (its
// runtimes.LabelWritable) become tmpfs unless a volume is mounted on them
// or above them.
func layoutOf(env *Environment, labels map[string]string, ref, id string) (fsLayout, error) {
	if !env.ReadOnly {
		return fsLayout{}, nil
	}
	v, ok := labels[runtimes.LabelWritable]
	if !ok {
		return fsLayout{note: "the image has no " + runtimes.LabelWritable + " label (built by an earlier phpbuild): its containers run writable"}, nil
	}
	var w runtimes.Writable
	if err := json.Unmarshal([]byte(v), &w); err != nil {
		return fsLayout{}, fmt.Errorf("reading the %s label of %s: %w", runtimes.LabelWritable, ref, err)
	}
	held := func(d string) bool {
		return slices.ContainsFunc(volumeMounts(env), func(m mount.Mount) bool {
			t := path.Clean(m.Target)
			return d == t || strings.HasPrefix(d, t+"/")
		})
	}
	l := fsLayout{readOnly: true}
	for _, d := range append([]string{"/tmp", runtimes.RunDir}, w.Dirs...) {
		d = path.Clean(d)
		if !path.IsAbs(d) {
			return fsLayout{}, fmt.Errorf("reading the %s label of %s: %q is not an absolute path", runtimes.LabelWritable, ref, d)
		}
		if !held(d) && !slices.Contains(l.tmpfs, d) {
			l.tmpfs = append(l.tmpfs, d)
		}
	}
	slices.Sort(l.tmpfs)
	for i, d := range w.Kept {
		d = path.Clean(d)
		under := slices.ContainsFunc(l.tmpfs, func(t string) bool { return strings.HasPrefix(d, t+"/") })
		if path.IsAbs(d) && under && !held(d) {
			l.kept = append(l.kept, keptDir{dir: d, volume: fmt.Sprintf("phpbuild-%s-%s-%s-kept%d", env.App, env.Name, id, i)})
		}
	}
	return l, nil
}

// keptMounts are the layout's kept dirs: read-only volumes of the
// release, labelled so that a later release removes them.
func (h *host) keptMounts(id string) []mount.Mount {
	var ms []mount.Mount
	for _, k := range h.fs.kept {
		ms = append(ms, mount.Mount{Type: mount.TypeVolume, Source: k.volume, Target: k.dir, ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{Labels: h.labels(roleKept, id)}})
	}
	return ms
}

// removeKept removes the kept-dir volumes of every release but keep's;
// one a container still uses stays until a later release.
func (h *host) removeKept(ctx context.Context, keep string) {
	list, err := h.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name), filters.Arg("label", labelRole+"="+roleKept))})
	if err != nil {
		return
	}
	for _, v := range list.Volumes {
		if v.Labels[labelRelease] != keep {
			h.cli.VolumeRemove(ctx, v.Name, false)
		}
	}
}

// hostConfig is a container's filesystem on a docker host: the env
// snapshot, the environment's volumes, and, read-only, a tmpfs owned by
// the app user on each of the layout's dirs (noexec, nosuid, nodev, as
// docker run --tmpfs makes them).
func (h *host) hostConfig(snapPath, id string) *container.HostConfig {
	hc := &container.HostConfig{Mounts: append(append([]mount.Mount{snapshotMount(snapPath)}, h.volumes()...), h.keptMounts(id)...)}
	if h.fs.readOnly {
		hc.ReadonlyRootfs = true
		hc.Tmpfs = map[string]string{}
		for _, d := range h.fs.tmpfs {
			hc.Tmpfs[d] = fmt.Sprintf("uid=%d,gid=%d,mode=0755", runtimes.AppUID, runtimes.AppUID)
		}
	}
	return hc
}

// serviceMounts are a swarm task's mounts: the environment's volumes and,
// read-only, an anonymous volume on each of the layout's tmpfs dirs. A
// service's tmpfs takes neither an owner nor (through Docker 20.10's
// executor) a mode, so the app user could not write it; an anonymous
// volume starts as the image has the dir (owner, mode, the dirs under it)
// and goes with the task's container.
func (h *host) serviceMounts(id string) []mount.Mount {
	mounts := h.volumes()
	for _, d := range h.fs.tmpfs {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Target: d})
	}
	return append(mounts, h.keptMounts(id)...)
}

// describe is the layout for release --plan.
func (l fsLayout) describe(env *Environment) []string {
	if !l.readOnly {
		if l.note != "" {
			return []string{l.note}
		}
		return []string{"containers run writable (read_only = false)"}
	}
	lines := []string{"containers run with a read-only root filesystem; writable:"}
	for _, d := range l.tmpfs {
		lines = append(lines, "  "+d+": tmpfs, empty at each start")
	}
	for _, k := range l.kept {
		lines = append(lines, "  "+k.dir+": read-only, as built (precompiled templates), inside the tmpfs above")
	}
	for _, m := range volumeMounts(env) {
		lines = append(lines, "  "+m.Target+": volume "+m.Source+", kept across releases")
	}
	return lines
}
