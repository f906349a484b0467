package release

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

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

// host is one environment on one docker daemon.
type host struct {
	cli *client.Client
	env *Environment
}

func connect(env *Environment) (*host, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if env.Host != "" {
		helper, err := connhelper.GetConnectionHelper(env.Host)
		if err != nil {
			return nil, env.desc.FieldError("environments."+env.Name+".host", "%v", err)
		}
		if helper != nil {
			opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		} else {
			opts = append(opts, client.WithHost(env.Host))
		}
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to docker: %w", err)
	}
	return &host{cli: cli, env: env}, nil
}

func (h *host) Close() error { return h.cli.Close() }

func (h *host) prefix() string           { return h.env.App + "-" + h.env.Name }
func (h *host) network() string          { return "phpbuild-" + h.prefix() }
func (h *host) proxyName() string        { return "phpbuild-" + h.prefix() + "-proxy" }
func (h *host) stateDir() string         { return path.Join(StateRoot, h.env.App, h.env.Name) }
func (h *host) appName(id string) string { return h.prefix() + "-" + id }

func (h *host) labels(role, id string) map[string]string {
	l := map[string]string{labelApp: h.env.App, labelEnv: h.env.Name, labelRole: role}
	if id != "" {
		l[labelRelease] = id
	}
	return l
}

// ensureImage makes ref present on the host, pulling it when it is not,
// and returns its repo digest and how long the pull took.
func (h *host) ensureImage(ctx context.Context, ref string) (time.Duration, error) {
	if _, err := h.cli.ImageInspect(ctx, ref); err == nil {
		return 0, nil
	}
	start := time.Now()
	rc, err := h.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return 0, transient(fmt.Errorf("pulling %s: %w", ref, err))
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return 0, transient(fmt.Errorf("pulling %s: %w", ref, err))
	}
	return time.Since(start), nil
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

// proxyHead opens every front proxy config: one worker writing only to
// /tmp, no access log, the app deciding body sizes; it leaves http open.
const proxyHead = `worker_processes 1;
pid /tmp/phpbuild-proxy.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_max_body_size 0;
    client_body_temp_path /tmp/proxy-client;
    proxy_temp_path /tmp/proxy-temp;
`

// proxyConf is the front proxy's nginx config: everything to upstream,
// which is a container name on the private network ("" before the first
// release: 503).
func proxyConf(upstream string) []byte {
	var b strings.Builder
	b.WriteString("# phpbuild front proxy; rewritten and reloaded (nginx -s reload) at each switch.\n" + proxyHead)
	if upstream == "" {
		b.WriteString("    server { listen 8080; location / { return 503; } }\n}\n")
		return []byte(b.String())
	}
	fmt.Fprintf(&b, `    # upstream: %s
    upstream app {
        server %s:8080;
        keepalive 32;
    }
    server {
        listen 8080;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 300s;
        }
    }
}
`, upstream, upstream)
	return []byte(b.String())
}

// ensureProxy starts the environment's front proxy when it is not running:
// nginx from img, owning the published port, with the state dir mounted.
func (h *host) ensureProxy(ctx context.Context, img string) error {
	c, err := h.cli.ContainerInspect(ctx, h.proxyName())
	if err == nil && c.State != nil && c.State.Running {
		return nil
	}
	if err == nil {
		if err := h.cli.ContainerStart(ctx, c.ID, container.StartOptions{}); err == nil {
			return nil
		}
		h.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
	port := nat.Port("8080/tcp")
	// The config lives in the state dir, so it survives the container; a
	// first start writes the 503 one.
	boot := fmt.Sprintf(`mkdir -p /state/proxy /state/snapshots /state/backups && chmod 0700 /state
[ -f /state/proxy/nginx.conf ] || printf '%%s' "$BOOT_CONF" > /state/proxy/nginx.conf
exec nginx -c /state/proxy/nginx.conf -g 'daemon off;'`)
	cfg := &container.Config{
		Image:        img,
		User:         "0:0",
		Entrypoint:   []string{"/bin/sh", "-ec", boot},
		Env:          []string{"BOOT_CONF=" + string(proxyConf(""))},
		ExposedPorts: nat.PortSet{port: {}},
		Labels:       h.labels("proxy", ""),
		StopSignal:   "SIGQUIT",
		Healthcheck:  &container.HealthConfig{Test: []string{"NONE"}},
	}
	hc := &container.HostConfig{
		Binds:         []string{h.stateDir() + ":/state"},
		PortBindings:  nat.PortMap{port: {{HostPort: fmt.Sprint(h.env.Port)}}},
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{h.network(): {}}}
	created, err := h.cli.ContainerCreate(ctx, cfg, hc, nc, nil, h.proxyName())
	if err != nil {
		return fmt.Errorf("creating the front proxy: %w", err)
	}
	if err := h.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		h.cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
		return fmt.Errorf("starting the front proxy (is port %d free?): %w", h.env.Port, err)
	}
	// Ready once the state dir is made and nginx answers its config test.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, code, err := h.exec(ctx, h.proxyName(), nil, "sh", "-c", "test -d /state/snapshots && nginx -t -q -c /state/proxy/nginx.conf"); err == nil && code == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the front proxy did not start: %s", h.logs(ctx, created.ID, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// switchTo points the proxy at container and reloads nginx gracefully:
// new requests go to it, requests in flight finish where they are.
func (h *host) switchTo(ctx context.Context, upstream string) error {
	return h.reloadProxy(ctx, proxyConf(upstream))
}

// reloadProxy checks conf, puts it in place and reloads nginx gracefully.
func (h *host) reloadProxy(ctx context.Context, conf []byte) error {
	if err := h.writeState(ctx, "proxy/nginx.conf.new", conf, 0o644, 0); err != nil {
		return err
	}
	out, code, err := h.exec(ctx, h.proxyName(), nil, "sh", "-c",
		"nginx -t -q -c /state/proxy/nginx.conf.new && mv -f /state/proxy/nginx.conf.new /state/proxy/nginx.conf && nginx -s reload -c /state/proxy/nginx.conf")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("reloading the front proxy: %s", strings.TrimSpace(out))
	}
	return nil
}

// upstream is the container the proxy sends traffic to now.
func (h *host) upstream(ctx context.Context) string {
	b, err := h.readState(ctx, "proxy/nginx.conf")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "# upstream: "); ok {
			return v
		}
	}
	return ""
}

// writeState writes a file in the state dir through the proxy container,
// owned by uid (the app user for snapshots, which its containers read).
func (h *host) writeState(ctx context.Context, rel string, data []byte, mode int64, uid int) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path.Base(rel), Mode: mode, Size: int64(len(data)), Uid: uid, Gid: uid, ModTime: time.Now()}); err != nil {
		return err
	}
	tw.Write(data)
	tw.Close()
	dir := path.Join("/state", path.Dir(rel))
	if _, _, err := h.exec(ctx, h.proxyName(), nil, "mkdir", "-p", dir); err != nil {
		return err
	}
	if err := h.cli.CopyToContainer(ctx, h.proxyName(), dir, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("writing %s on the docker host: %w", rel, err)
	}
	return nil
}

// readState reads a file of the state dir; a missing one is errNoState.
func (h *host) readState(ctx context.Context, rel string) ([]byte, error) {
	rc, _, err := h.cli.CopyFromContainer(ctx, h.proxyName(), path.Join("/state", rel))
	if err != nil {
		if cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such") {
			return nil, errNoState
		}
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	}
	return io.ReadAll(tr)
}

var errNoState = errors.New("no such state file")

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

// appContainers lists the environment's app containers, running or not.
func (h *host) appContainers(ctx context.Context) ([]container.Summary, error) {
	f := filters.NewArgs(filters.Arg("label", labelApp+"="+h.env.App), filters.Arg("label", labelEnv+"="+h.env.Name), filters.Arg("label", labelRole+"=app"))
	return h.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
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
