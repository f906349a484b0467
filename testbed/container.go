package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
)

// ContainerSpec is what a test container runs with.
type ContainerSpec struct {
	Image    string
	Env      []string
	ReadOnly bool
	// Tmpfs maps a path to its mount options (e.g. "uid=1000,mode=0755").
	Tmpfs map[string]string
	// Mounts are more mounts: volumes, binds.
	Mounts []mount.Mount
	// HostPort publishes ContainerPort on 127.0.0.1:HostPort when set.
	HostPort, ContainerPort int
	// Local images are already in the daemon and not pulled.
	Local bool
	// Memory is the container's memory limit in bytes (0: none).
	Memory int64
}

// Container is a running test container, removed when the test ends (its
// last logs are printed if the test failed).
type Container struct {
	ID  string
	cli *dockerclient.Client
}

// Docker is a client for the test bed's dockerd; the API version is
// negotiated, as Debian's dockerd speaks 1.41.
func Docker(t testing.TB) *dockerclient.Client {
	t.Helper()
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithHost(DockerHost(t)), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// StartContainer pulls spec.Image and starts it.
func StartContainer(t testing.TB, spec ContainerSpec) *Container {
	t.Helper()
	cli := Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if !spec.Local {
		pull, err := cli.ImagePull(ctx, spec.Image, image.PullOptions{})
		if err != nil {
			t.Fatalf("pulling %s: %v", spec.Image, err)
		}
		err = jsonmessage.DisplayJSONMessagesStream(pull, &bytes.Buffer{}, 0, false, nil)
		pull.Close()
		if err != nil {
			t.Fatalf("pulling %s: %v", spec.Image, err)
		}
	}
	cfg := &container.Config{Image: spec.Image, Env: spec.Env}
	host := &container.HostConfig{ReadonlyRootfs: spec.ReadOnly, Tmpfs: spec.Tmpfs, Mounts: spec.Mounts, Resources: container.Resources{Memory: spec.Memory}}
	if spec.HostPort != 0 {
		p := nat.Port(strconv.Itoa(spec.ContainerPort) + "/tcp")
		cfg.ExposedPorts = nat.PortSet{p: {}}
		host.PortBindings = nat.PortMap{p: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(spec.HostPort)}}}
	}
	created, err := cli.ContainerCreate(ctx, cfg, host, nil, nil, "")
	if err != nil {
		t.Fatalf("creating container: %v", err)
	}
	c := &Container{ID: created.ID, cli: cli}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container logs:\n%s", c.Logs(t))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			t.Errorf("removing container %s: %v", c.ID, err)
		}
	})
	if err := cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
		t.Fatalf("starting container: %v", err)
	}
	return c
}

// Exec runs cmd in the container as its user and returns the combined
// output and exit code.
func (c *Container) Exec(t testing.TB, cmd ...string) (string, int) {
	t.Helper()
	return c.ExecAs(t, "", cmd...)
}

// ExecAs runs cmd in the container as user ("" for the image's) and
// returns the combined output and exit code.
func (c *Container) ExecAs(t testing.TB, user string, cmd ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := c.cli.ContainerExecCreate(ctx, c.ID, container.ExecOptions{User: user, Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	att, err := c.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	defer att.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, att.Reader); err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	ins, err := c.cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		t.Fatalf("exec %q: %v", cmd, err)
	}
	return out.String(), ins.ExitCode
}

// ReadFiles returns the regular files under dir in the container, by
// absolute path, as `docker cp` copies them.
func (c *Container) ReadFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, _, err := c.cli.CopyFromContainer(ctx, c.ID, dir)
	if err != nil {
		t.Fatalf("copying %s out of the container: %v", dir, err)
	}
	defer rc.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("copying %s out of the container: %v", dir, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("copying %s out of the container: %v", dir, err)
		}
		// The archive is rooted at dir's own name.
		out[path.Join(path.Dir(path.Clean(dir)), h.Name)] = b
	}
}

// Stop stops the container the way `docker stop` does: the image's stop
// signal, then SIGKILL after timeout.
func (c *Container) Stop(t testing.TB, timeout time.Duration) {
	t.Helper()
	secs := int(timeout.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	if err := c.cli.ContainerStop(ctx, c.ID, container.StopOptions{Timeout: &secs}); err != nil {
		t.Fatalf("stopping container: %v", err)
	}
}

// ExitCode is the exit code of a stopped container.
func (c *Container) ExitCode(t testing.TB) int {
	t.Helper()
	ins, err := c.cli.ContainerInspect(context.Background(), c.ID)
	if err != nil {
		t.Fatalf("inspecting container: %v", err)
	}
	return ins.State.ExitCode
}

// Logs are the container's output so far.
func (c *Container) Logs(t testing.TB) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := c.cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "100"})
	if err != nil {
		return fmt.Sprintf("(reading logs: %v)", err)
	}
	defer r.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, r)
	return out.String()
}

// FreePort is a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RemoveLabeled force-removes every container, running or not, that has
// the label (key=value).
func RemoveLabeled(t testing.TB, label string) {
	t.Helper()
	cli := Docker(t)
	ctx := context.Background()
	cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
	for _, c := range cs {
		cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}

// WaitHealthy waits until GET base/health answers 200, failing t with the
// container's logs after timeout.
func (c *Container) WaitHealthy(t testing.TB, base string, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container never became healthy at %s (last: %v)\n%s", base, err, c.Logs(t))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
