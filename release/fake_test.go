package release

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/phpbuild/phpbuild/project"
)

// fakeDocker is a daemon for the hermetic tests: what a test sets answers,
// every call is recorded, and a method no test needs panics (the nil
// embedded interface).
type fakeDocker struct {
	dockerAPI

	mu    sync.Mutex
	calls []string

	// exec answers an exec: its output and exit code.
	exec func(ctr string, cmd []string) (string, int)
	// inspect answers ContainerInspect.
	inspect func(id string) (container.InspectResponse, error)
	// created are the ContainerCreate calls.
	created []createCall
	// services answers ServiceInspectWithRaw, one a call (the last
	// repeats); tasks answers TaskList likewise.
	services []swarm.Service
	tasks    [][]swarm.Task
	updates  []swarm.ServiceUpdateOptions
	execs    map[string][]string
	codes    map[string]int
	// containers answers ContainerList.
	containers []container.Summary
	// attach answers ContainerAttach: given what the client sends to the
	// container's stdin (EOF once it closes it), the container's output
	// as docker streams it.
	attach func(id string, stdin io.Reader) io.Reader
	// exitCode answers ContainerWait.
	exitCode int64
	// shell, when set, answers an exec of a lone sh (the proxy's state
	// shell): a local sh whose scripts see stateDir where the proxy has
	// /state, after prelude.
	shell *localShell
}

// localShell runs the proxy's shell on this machine.
type localShell struct {
	stateDir, prelude string
	// procs are the shells started, to end one as a restarted proxy would.
	procs []*exec.Cmd
}

type createCall struct {
	name string
	cfg  *container.Config
	hc   *container.HostConfig
	nc   *network.NetworkingConfig
}

func (f *fakeDocker) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeDocker) Close() error { return nil }

// Ping answers: the fake daemon never goes away.
func (f *fakeDocker) Ping(context.Context) (types.Ping, error) { return types.Ping{}, nil }

func (f *fakeDocker) ContainerExecCreate(ctx context.Context, ctr string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	if err := ctx.Err(); err != nil {
		return container.ExecCreateResponse{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.execs == nil {
		f.execs = map[string][]string{}
	}
	id := fmt.Sprint("exec", len(f.execs))
	f.execs[id] = append([]string{ctr}, o.Cmd...)
	f.calls = append(f.calls, "exec "+ctr+" "+strings.Join(o.Cmd, " "))
	return container.ExecCreateResponse{ID: id}, nil
}

// run answers exec id once; ContainerExecInspect reads its code after.
func (f *fakeDocker) run(id string) string {
	f.mu.Lock()
	cmd := f.execs[id]
	f.mu.Unlock()
	out, code := "", 0
	if f.exec != nil {
		out, code = f.exec(cmd[0], cmd[1:])
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.codes == nil {
		f.codes = map[string]int{}
	}
	f.codes[id] = code
	return out
}

func (f *fakeDocker) ContainerExecAttach(_ context.Context, id string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	f.mu.Lock()
	cmd := f.execs[id]
	f.mu.Unlock()
	if f.shell != nil && len(cmd) == 2 && cmd[1] == "sh" {
		return f.shell.start()
	}
	var b bytes.Buffer
	stdcopy.NewStdWriter(&b, stdcopy.Stdout).Write([]byte(f.run(id)))
	conn, peer := net.Pipe()
	peer.Close()
	return types.HijackedResponse{Conn: conn, Reader: bufio.NewReader(&b)}, nil
}

// start runs sh with the client's end of a pipe as its stdin, and its
// output framed as docker frames an attached stream.
func (l *localShell) start() (types.HijackedResponse, error) {
	conn, peer := net.Pipe()
	sh := exec.Command("sh")
	stdin, err := sh.StdinPipe()
	if err != nil {
		return types.HijackedResponse{}, err
	}
	sh.Stdout = stdcopy.NewStdWriter(peer, stdcopy.Stdout)
	sh.Stderr = stdcopy.NewStdWriter(peer, stdcopy.Stderr)
	if err := sh.Start(); err != nil {
		return types.HijackedResponse{}, err
	}
	l.procs = append(l.procs, sh)
	io.WriteString(stdin, l.prelude+"\n")
	go func() {
		// What the client sends, with the proxy's /state where the
		// test's dir is.
		in := bufio.NewScanner(peer)
		in.Buffer(nil, 1<<20)
		for in.Scan() {
			io.WriteString(stdin, strings.ReplaceAll(in.Text(), "/state", l.stateDir)+"\n")
		}
		stdin.Close()
	}()
	go func() { sh.Wait(); peer.Close() }()
	return types.HijackedResponse{Conn: conn, Reader: bufio.NewReader(conn)}, nil
}

func (f *fakeDocker) ContainerExecInspect(_ context.Context, id string) (container.ExecInspect, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return container.ExecInspect{ExitCode: f.codes[id]}, nil
}

func (f *fakeDocker) ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error) {
	if f.inspect == nil {
		return container.InspectResponse{}, fmt.Errorf("no such container: %s", id)
	}
	return f.inspect(id)
}

func (f *fakeDocker) ContainerLogs(context.Context, string, container.LogsOptions) (io.ReadCloser, error) {
	var b bytes.Buffer
	stdcopy.NewStdWriter(&b, stdcopy.Stderr).Write([]byte("the app's last words\n"))
	return io.NopCloser(&b), nil
}

func (f *fakeDocker) TaskLogs(ctx context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	return f.ContainerLogs(ctx, id, o)
}

func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, hc *container.HostConfig, nc *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.record("create %s", name)
	f.mu.Lock()
	f.created = append(f.created, createCall{name, cfg, hc, nc})
	f.mu.Unlock()
	return container.CreateResponse{ID: name + "-id"}, nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.record("start %s", id)
	return nil
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.record("remove %s", id)
	return nil
}

func (f *fakeDocker) ContainerStop(_ context.Context, id string, _ container.StopOptions) error {
	f.record("stop %s", id)
	return nil
}

func (f *fakeDocker) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.record("rmi %s", ref)
	return nil, nil
}

func (f *fakeDocker) ServiceInspectWithRaw(ctx context.Context, id string, _ swarm.ServiceInspectOptions) (swarm.Service, []byte, error) {
	if err := ctx.Err(); err != nil {
		return swarm.Service{}, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.services[0]
	if len(f.services) > 1 {
		f.services = f.services[1:]
	}
	return s, nil, nil
}

func (f *fakeDocker) TaskList(context.Context, swarm.TaskListOptions) ([]swarm.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := f.tasks[0]
	if len(f.tasks) > 1 {
		f.tasks = f.tasks[1:]
	}
	return ts, nil
}

func (f *fakeDocker) ServiceUpdate(_ context.Context, id string, _ swarm.Version, _ swarm.ServiceSpec, o swarm.ServiceUpdateOptions) (swarm.ServiceUpdateResponse, error) {
	f.record("update %s rollback=%q", id, o.Rollback)
	f.mu.Lock()
	f.updates = append(f.updates, o)
	f.mu.Unlock()
	return swarm.ServiceUpdateResponse{}, nil
}

// memState is a state dir in memory.
type memState struct {
	mu    sync.Mutex
	files map[string][]byte
	// proxy runs sh's scripts, as an exec of sh -c in the proxy would.
	proxy func(ctx context.Context, script string) (string, int, error)
}

var _ stateStore = (*memState)(nil)

func newMemState() *memState { return &memState{files: map[string][]byte{}} }

func (s *memState) read(ctx context.Context, rel string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[rel]
	if !ok {
		return nil, errNoState
	}
	return bytes.Clone(b), nil
}

func (s *memState) write(ctx context.Context, rel string, data []byte, _ int64, _ int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[rel] = bytes.Clone(data)
	return nil
}

func (s *memState) create(ctx context.Context, rel string, data []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[rel]; ok {
		return false, nil
	}
	s.files[rel] = bytes.Clone(data)
	return true, nil
}

func (s *memState) append(ctx context.Context, rel string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[rel] = append(s.files[rel], data...)
	return nil
}

func (s *memState) remove(ctx context.Context, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, rel)
	return nil
}

func (s *memState) mkdir(context.Context, string, int) error { return nil }

func (s *memState) sh(ctx context.Context, script string) (string, int, error) {
	if s.proxy == nil {
		return "", 0, nil
	}
	return s.proxy(ctx, script)
}

func (s *memState) close() {}

func (s *memState) hostPath(rel string) string { return path.Join("/state-of-test", rel) }

// fakeHost is env on a fake daemon with a state dir in memory.
func fakeHost(t *testing.T, env *Environment) (*host, *fakeDocker, *memState) {
	t.Helper()
	f, st := &fakeDocker{}, newMemState()
	h := &host{cli: f, env: env, state: st}
	st.proxy = func(ctx context.Context, script string) (string, int, error) {
		return h.exec(ctx, h.proxyName(), nil, "sh", "-c", script)
	}
	return h, f, st
}

// testEnv is an environment as LoadEnvironment makes it, without a file.
func testEnv(target string) *Environment {
	return &Environment{Name: "prod", Target: target, App: "shop", Port: 8080, Keep: 2, Drain: 10e9,
		Health:  Health{Status: 200, Timeout: 2e9, Interval: 1e9, DockerInterval: 30e9, Deadline: 60e9},
		Volumes: map[string]string{"shop-uploads": "/app/public/uploads", "shop-cache": "/app/var/cache"},
		desc:    &project.Descriptor{}}
}

// sortStrings compares string slices as sets; nil and empty are equal.
var sortStrings = cmp.Options{cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()}

func (f *fakeDocker) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{RepoDigests: []string{"registry.example.com/shop@sha256:1234"}}, nil
}

func (f *fakeDocker) NetworkInspect(context.Context, string, network.InspectOptions) (network.Inspect, error) {
	return network.Inspect{Driver: "bridge"}, nil
}

// ContainerList filters by label as the daemon does; a container of the
// fake without labels is an app container of the environment.
func (f *fakeDocker) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []container.Summary
	for _, c := range f.containers {
		labels := c.Labels
		if labels == nil {
			labels = map[string]string{labelRole: "app"}
		}
		match := true
		for _, kv := range o.Filters.Get("label") {
			k, v, _ := strings.Cut(kv, "=")
			if got, ok := labels[k]; ok && got != v || !ok && k == labelRole {
				match = false
			}
		}
		if match {
			out = append(out, c)
		}
	}
	return out, nil
}

func (f *fakeDocker) ContainerAttach(_ context.Context, id string, o container.AttachOptions) (types.HijackedResponse, error) {
	f.record("attach %s stdin=%t", id, o.Stdin)
	conn, peer := net.Pipe()
	// As on a real connection, closing it ends the output.
	pr, pw := io.Pipe()
	go func() {
		var out io.Reader = strings.NewReader("")
		if f.attach != nil {
			out = f.attach(id, peer)
		}
		_, err := io.Copy(pw, out)
		pw.CloseWithError(err)
	}()
	return types.HijackedResponse{Conn: &hijacked{Conn: conn, out: pw}, Reader: bufio.NewReader(pr)}, nil
}

// hijacked is an attached connection: CloseWrite ends what the peer
// reads, as a TCP half-close does; Close also ends the output.
type hijacked struct {
	net.Conn
	out *io.PipeWriter
}

func (c *hijacked) CloseWrite() error { return c.Conn.Close() }

func (c *hijacked) Close() error {
	c.out.CloseWithError(net.ErrClosed)
	return c.Conn.Close()
}

func (f *fakeDocker) ContainerResize(_ context.Context, id string, o container.ResizeOptions) error {
	f.record("resize %s %dx%d", id, o.Width, o.Height)
	return nil
}

func (f *fakeDocker) ContainerWait(_ context.Context, id string, c container.WaitCondition) (<-chan container.WaitResponse, <-chan error) {
	f.record("wait %s %s", id, c)
	res := make(chan container.WaitResponse, 1)
	res <- container.WaitResponse{StatusCode: f.exitCode}
	return res, make(chan error)
}

func (f *fakeDocker) VolumeList(context.Context, volume.ListOptions) (volume.ListResponse, error) {
	return volume.ListResponse{}, nil
}

func (f *fakeDocker) VolumeRemove(context.Context, string, bool) error { return nil }
