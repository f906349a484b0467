package release

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// The front proxy is a plain nginx container per environment: it owns the
// published port and holds the state dir. Its one config serves both
// targets: a docker target's rewritten at each switch to name the new
// container, a swarm target's written once to resolve the service's tasks.

//go:embed proxy.nginx.conf
var proxyTemplate string

var proxyConfig = template.Must(template.New("proxy").Parse(proxyTemplate))

// proxyView is what the front proxy's config is rendered from.
type proxyView struct {
	// Upstream is a docker target's container name on the private
	// network, or a swarm target's service, whose healthy tasks are found
	// through Docker's embedded DNS at each request (cached one second: a
	// variable in proxy_pass makes nginx resolve at run time, and with
	// several addresses it tries the next one on a connection error).
	// "" before the first release: 503.
	Upstream string
	Swarm    bool
	// Maintenance, when set, answers everything but HealthPath with 503
	// and its page.
	Maintenance *Maintenance
	HealthPath  string
	RetryAfter  int
	// AccessLog logs each request's status for the release's watch.
	AccessLog bool
}

// proxyConf is the front proxy's config sending everything to a docker
// target's container.
func proxyConf(upstream string) []byte { return renderProxy(proxyView{Upstream: upstream}) }

func renderProxy(v proxyView) []byte {
	var b bytes.Buffer
	if err := proxyConfig.Execute(&b, v); err != nil {
		panic(err) // the template is ours and takes plain fields
	}
	return b.Bytes()
}

// routeProxy points the front proxy at upstream, in the environment's
// maintenance mode, with a graceful reload when that changes its config.
func (h *host) routeProxy(ctx context.Context, upstream string) error {
	m, err := h.maintenance(ctx)
	if err != nil {
		return err
	}
	conf := renderProxy(proxyView{Upstream: upstream, Swarm: h.env.Target == "swarm", Maintenance: m, HealthPath: healthPathOf(h.env), RetryAfter: retryAfter, AccessLog: h.env.Watch != nil})
	if old, err := h.state.read(ctx, "proxy/nginx.conf"); err == nil && bytes.Equal(old, conf) {
		return nil
	}
	return h.reloadProxy(ctx, conf)
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
%s
exec nginx -c /state/proxy/nginx.conf -g 'daemon off;'`, copyMaintenancePages)
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
		Binds:         []string{h.state.hostPath("") + ":/state"},
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
		if _, code, err := h.state.sh(ctx, "test -d /state/snapshots && nginx -t -q -c /state/proxy/nginx.conf"); err == nil && code == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the front proxy did not start: %s", h.logs(ctx, created.ID, 20))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// copyMaintenancePages puts the maintenance pages where nginx's workers,
// which run unprivileged, can read them: the state dir is root's alone.
// At every reload and every start of the proxy container.
const copyMaintenancePages = "mkdir -p /srv/phpbuild-maintenance && { cp -f /state/" + maintenanceDir + "/*.html /srv/phpbuild-maintenance/ 2>/dev/null || true; }"

// reloadProxy checks conf, puts it in place and reloads nginx gracefully.
func (h *host) reloadProxy(ctx context.Context, conf []byte) error {
	if err := h.state.write(ctx, "proxy/nginx.conf.new", conf, 0o644, 0); err != nil {
		return err
	}
	out, code, err := h.state.sh(ctx, copyMaintenancePages+
		" && nginx -t -q -c /state/proxy/nginx.conf.new && mv -f /state/proxy/nginx.conf.new /state/proxy/nginx.conf && "+
		"old=$("+listWorkers+" | tr '\\n' ' ') && nginx -s reload -c /state/proxy/nginx.conf && "+awaitReload+" && echo $old")
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("reloading the front proxy: %s", strings.TrimSpace(out))
	}
	h.oldWorkers = strings.Fields(out)
	return nil
}

// listWorkers prints the PIDs of the proxy's nginx workers, from their
// process titles; the brackets keep grep from finding itself.
const listWorkers = `grep -l -a -s 'nginx: worke[r] process' /proc/[0-9]*/cmdline | cut -d/ -f3`

// awaitReload waits, up to 5 s, until nginx has taken the reload: every
// worker of before ($old) has exited or is shutting down, so none accepts
// another request with the old config. `nginx -s reload` only signals the
// master; the switch is done when this is.
const awaitReload = `{ i=0; while [ $i -lt 100 ]; do w=0; for p in $old; do [ -e /proc/$p ] && ! grep -q -a -s 'shutting down' /proc/$p/cmdline && w=1; done; [ $w = 0 ] && break; i=$((i+1)); sleep 0.05; done; }`

// waitOldWorkers waits until the proxy's workers from before its last
// reload have finished their requests and exited, for up to limit: any
// request they still proxy to the old container must reach it before
// it stops listening. Usually a few milliseconds, a long request aside.
func (h *host) waitOldWorkers(ctx context.Context, limit time.Duration) {
	if len(h.oldWorkers) == 0 {
		return
	}
	script := "for p in " + strings.Join(h.oldWorkers, " ") + "; do [ -e /proc/$p ] && exit 1; done; exit 0"
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, code, err := h.state.sh(ctx, script); err != nil || code == 0 {
			return
		}
		if sleep(ctx, 20*time.Millisecond) != nil {
			return
		}
	}
}

// upstream is the container the proxy sends traffic to now.
func (h *host) upstream(ctx context.Context) string {
	b, err := h.state.read(ctx, "proxy/nginx.conf")
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
