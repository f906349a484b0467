package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	tr "github.com/phpbuild/phpbuild/transient"
)

// Labels phpbuild puts on what it runs, to find it again.
const (
	labelApp     = "dev.phpbuild.app"
	labelEnv     = "dev.phpbuild.env"
	labelRelease = "dev.phpbuild.release"
	labelRole    = "dev.phpbuild.role" // "app", "proxy" or "hook"
)

// StateRoot is where, on the docker host, each environment keeps its env
// snapshots, release log and lock: StateRoot/APP/ENV.
const StateRoot = "/var/lib/phpbuild"

// dockerAPI is the part of docker's client a release uses, with the SDK's
// own types: *client.Client in use, a fake in the hermetic tests.
type dockerAPI interface {
	Close() error
	Info(ctx context.Context) (system.Info, error)

	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, ref string, options image.PullOptions) (io.ReadCloser, error)
	ImageRemove(ctx context.Context, ref string, options image.RemoveOptions) ([]image.DeleteResponse, error)

	NetworkInspect(ctx context.Context, id string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)

	Ping(ctx context.Context) (types.Ping, error)

	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, id string, options container.StartOptions) error
	ContainerStop(ctx context.Context, id string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, id string, options container.RemoveOptions) error
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerWait(ctx context.Context, id string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerLogs(ctx context.Context, id string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerAttach(ctx context.Context, id string, options container.AttachOptions) (types.HijackedResponse, error)
	ContainerResize(ctx context.Context, id string, options container.ResizeOptions) error
	ContainerExecCreate(ctx context.Context, id string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, options container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	CopyToContainer(ctx context.Context, id, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	CopyFromContainer(ctx context.Context, id, srcPath string) (io.ReadCloser, container.PathStat, error)

	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error

	SecretList(ctx context.Context, options swarm.SecretListOptions) ([]swarm.Secret, error)
	SecretCreate(ctx context.Context, spec swarm.SecretSpec) (swarm.SecretCreateResponse, error)
	SecretRemove(ctx context.Context, id string) error
	ServiceInspectWithRaw(ctx context.Context, id string, options swarm.ServiceInspectOptions) (swarm.Service, []byte, error)
	ServiceCreate(ctx context.Context, spec swarm.ServiceSpec, options swarm.ServiceCreateOptions) (swarm.ServiceCreateResponse, error)
	ServiceUpdate(ctx context.Context, id string, version swarm.Version, spec swarm.ServiceSpec, options swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error)
	ServiceRemove(ctx context.Context, id string) error
	ServiceList(ctx context.Context, options swarm.ServiceListOptions) ([]swarm.Service, error)
	TaskList(ctx context.Context, options swarm.TaskListOptions) ([]swarm.Task, error)
	TaskLogs(ctx context.Context, taskID string, options container.LogsOptions) (io.ReadCloser, error)
}

var _ dockerAPI = (*client.Client)(nil)

// host is one environment on one docker daemon: its client, and its state
// dir, which the front proxy container holds.
type host struct {
	cli   dockerAPI
	env   *Environment
	state stateStore
	// fs is the filesystem layout of the image this command runs: set
	// once its labels are read, before any container is made.
	fs fsLayout
	// oldWorkers are the PIDs of the proxy's nginx workers before its
	// last reload, which drain waits for.
	oldWorkers []string
	// direct is set when this process can reach the containers'
	// addresses: a local daemon (see probe).
	direct bool
}

// newHost is env on the daemon cli, its state kept through the proxy.
func newHost(cli dockerAPI, env *Environment) *host {
	h := &host{cli: cli, env: env}
	h.state = &proxyState{h: h}
	return h
}

func connect(ctx context.Context, env *Environment) (*host, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	viaSSH := false
	if env.Host != "" {
		helper, err := connhelper.GetConnectionHelperWithSSHOpts(env.Host, sshMultiplex())
		if err != nil {
			return nil, env.desc.FieldError("environments."+env.Name+".host", "%v", err)
		}
		if helper != nil {
			viaSSH = true
			opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		} else {
			opts = append(opts, client.WithHost(env.Host))
		}
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker: %w", err)
	}
	if viaSSH {
		// ssh's own words come back buried in the client's error: say
		// what is wrong, and whether trying again may help, before
		// anything else is asked of the host.
		pctx, cancel := context.WithTimeout(ctx, sshTimeout)
		defer cancel()
		if _, err := cli.Ping(pctx); err != nil {
			cli.Close()
			return nil, sshError(env, err)
		}
	}
	h := newHost(cli, env)
	h.direct = !viaSSH && strings.HasPrefix(cli.DaemonHost(), "unix://") && runtime.GOOS == "linux"
	return h, nil
}

// sshMultiplex makes every connection to an ssh host share one ssh
// session, as Kamal and Ansible do: docker's helper runs one ssh per API
// connection (each exec, each attach), and a handshake each would add
// seconds to a release. The master lingers a minute after the last use.
func sshMultiplex() []string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("phpbuild-ssh-%d", os.Getuid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil // plain connections, slower but working
	}
	return []string{"-o", "ControlMaster=auto", "-o", "ControlPath=" + filepath.Join(dir, "%C"), "-o", "ControlPersist=60s"}
}

// sshTimeout bounds reaching a docker host over ssh.
const sshTimeout = 60 * time.Second

// sshError is why the docker host over ssh did not answer, on one line:
// a transient error for a host that may answer later, bad input naming
// the host field for what only a change of settings cures.
func sshError(env *Environment, err error) error {
	msg := err.Error()
	field := "environments." + env.Name + ".host"
	bad := func(format string, args ...any) error {
		return env.desc.FieldError(field, "%s: "+format, append([]any{env.Host}, args...)...)
	}
	switch {
	case strings.Contains(msg, "Host key verification failed") || strings.Contains(msg, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return bad("the host key is not in known_hosts or does not match it; check it and add it (ssh-keyscan, or ssh to it once)")
	case strings.Contains(msg, "Permission denied"):
		return bad("ssh refused the login: no key of this user is authorized there")
	case strings.Contains(msg, "docker: not found") || strings.Contains(msg, "docker: command not found") || strings.Contains(msg, "exit status 127"):
		return bad("the host has no docker command (phpbuild talks to it through `docker system dial-stdio` over ssh)")
	case strings.Contains(msg, "Could not resolve hostname"):
		return bad("the host name does not resolve")
	case strings.Contains(msg, "Connection refused"):
		return transient(fmt.Errorf("%s: ssh: the connection was refused (is sshd running there, on that port?)", env.Host))
	}
	if i := strings.Index(msg, "stderr="); i >= 0 {
		msg = strings.TrimSpace(msg[i+len("stderr="):])
	}
	return transient(fmt.Errorf("%s: reaching docker over ssh: %s", env.Host, firstLine(msg)))
}

func (h *host) Close() error {
	h.state.close()
	return h.cli.Close()
}

func (h *host) prefix() string           { return h.env.App + "-" + h.env.Name }
func (h *host) network() string          { return "phpbuild-" + h.prefix() }
func (h *host) proxyName() string        { return "phpbuild-" + h.prefix() + "-proxy" }
func (h *host) appName(id string) string { return h.prefix() + "-" + id }

func (h *host) labels(role, id string) map[string]string {
	l := map[string]string{labelApp: h.env.App, labelEnv: h.env.Name, labelRole: role}
	if id != "" {
		l[labelRelease] = id
	}
	return l
}

// ensureImage makes ref present on the host, pulling it when it is not,
// and returns what the daemon says of it and how long the pull took.
func (h *host) ensureImage(ctx context.Context, ref string) (image.InspectResponse, time.Duration, error) {
	if ins, err := h.cli.ImageInspect(ctx, ref); err == nil {
		return ins, 0, nil
	}
	start := time.Now()
	rc, err := h.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return image.InspectResponse{}, 0, transient(fmt.Errorf("pulling %s: %w", ref, err))
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return image.InspectResponse{}, 0, transient(fmt.Errorf("pulling %s: %w", ref, err))
	}
	took := time.Since(start)
	ins, err := h.cli.ImageInspect(ctx, ref)
	if err != nil {
		return image.InspectResponse{}, 0, fmt.Errorf("inspecting %s: %w", ref, err)
	}
	return ins, took, nil
}

// ensureNetwork creates the environment's private network.
func (h *host) ensureNetwork(ctx context.Context) error {
	if _, err := h.cli.NetworkInspect(ctx, h.network(), network.InspectOptions{}); err == nil {
		return nil
	}
	_, err := h.cli.NetworkCreate(ctx, h.network(), network.CreateOptions{Driver: "bridge", Labels: h.labels("network", "")})
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("creating network %s: %w", h.network(), err)
	}
	return nil
}

// exec runs cmd in a container as root and returns its combined output
// and exit code.
func (h *host) exec(ctx context.Context, ctr string, env []string, cmd ...string) (string, int, error) {
	return h.execAs(ctx, ctr, "0", env, cmd...)
}

func (h *host) execAs(ctx context.Context, ctr, user string, env []string, cmd ...string) (string, int, error) {
	var out bytes.Buffer
	code, err := h.execTo(ctx, ctr, user, env, &out, &out, cmd...)
	return out.String(), code, err
}

// execTo runs cmd in a container as user ("" is the image's), its stdout
// and stderr to the writers, and returns its exit code.
func (h *host) execTo(ctx context.Context, ctr, user string, env []string, stdout, stderr io.Writer, cmd ...string) (int, error) {
	ex, err := h.cli.ContainerExecCreate(ctx, ctr, container.ExecOptions{Cmd: cmd, User: user, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	att, err := h.cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	defer att.Close()
	// The attached stream does not end when ctx does.
	stop := context.AfterFunc(ctx, func() { att.Close() })
	defer stop()
	if _, err := stdcopy.StdCopy(stdout, stderr, att.Reader); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	ins, err := h.cli.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	return ins.ExitCode, nil
}

// logs are a container's last lines of output.
func (h *host) logs(ctx context.Context, id string, n int) string {
	return readLogs(h.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(n)}))
}

// readLogs demultiplexes a container's or task's log stream into text.
func readLogs(rc io.ReadCloser, err error) string {
	if err != nil {
		return fmt.Sprintf("(logs: %v)", err)
	}
	defer rc.Close()
	var out bytes.Buffer
	stdcopy.StdCopy(&out, &out, rc)
	return strings.TrimRight(out.String(), "\n")
}

// roleContainers lists the environment's containers of role, running or
// not.
func (h *host) roleContainers(ctx context.Context, role string) ([]container.Summary, error) {
	f := filters.NewArgs(filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name), filters.Arg("label", labelRole+"="+role))
	cs, err := h.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, transient(fmt.Errorf("listing %s containers: %w", role, err))
	}
	return cs, nil
}

// transient marks daemon and registry trouble that retrying may cure:
// everything but what the daemon refused on purpose (a 4xx).
func transient(err error) error {
	var he interface{ StatusCode() int }
	if errors.As(err, &he) && he.StatusCode() < http.StatusInternalServerError {
		return err
	}
	return tr.Mark(err)
}
