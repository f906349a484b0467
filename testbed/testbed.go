package testbed

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	dockerclient "github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"

	"github.com/phpbuild/phpbuild/internal/buildkit"
)

// The addresses `make testbed` uses; the variables of the env file it writes override them.
const (
	DefaultRegistry     = "127.0.0.1:5000"
	DefaultBuildkitHost = buildkit.DefaultHost
	DefaultDockerHost   = "unix:///var/run/docker.sock"
)

// A service that answers at all answers at once on loopback; waiting longer only slows down the
// skip on a machine without the test bed.
const probeTimeout = 5 * time.Second

// Registry returns the host:port of the test bed's registry, which speaks plain HTTP.
func Registry(t testing.TB) string {
	t.Helper()
	addr := envOr("PHPBUILD_TEST_REGISTRY", DefaultRegistry)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err == nil {
		var resp *http.Response
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("GET /v2/: %s", resp.Status)
			}
		}
	}
	if err != nil {
		unavailable(t, "registry", addr, err)
	}
	return addr
}

// BuildkitHost returns the address of the test bed's buildkitd, for buildkit's client.New.
func BuildkitHost(t testing.TB) string {
	t.Helper()
	host := envOr("BUILDKIT_HOST", DefaultBuildkitHost)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	c, err := bkclient.New(ctx, host)
	if err == nil {
		defer c.Close()
		_, err = c.ListWorkers(ctx)
	}
	if err != nil {
		unavailable(t, "buildkitd", host, err)
	}
	return host
}

// DockerHost returns the address of the test bed's dockerd. It is Debian's Docker 20.10
// (API 1.41): clients must negotiate the API version.
func DockerHost(t testing.TB) string {
	t.Helper()
	host := envOr("DOCKER_HOST", DefaultDockerHost)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	c, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err == nil {
		defer c.Close()
		_, err = c.Ping(ctx)
	}
	if err != nil {
		unavailable(t, "dockerd", host, err)
	}
	return host
}

// Required reports whether a test must fail rather than skip when the test bed is down: in CI,
// and wherever PHPBUILD_TESTBED=1 says the test bed is meant to be up.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("PHPBUILD_TESTBED") == "1"
}

func unavailable(t testing.TB, service, addr string, err error) {
	t.Helper()
	msg := fmt.Sprintf("test bed %s does not answer at %s: %v\n"+
		"\tRun `make testbed` (as root) to bring up the registry, buildkitd and dockerd on this machine.", service, addr, err)
	if Required() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, NOT PASSED: " + msg + "\n\tSet PHPBUILD_TESTBED=1 to make this a failure.")
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// DockerRun pulls ref through the test bed's dockerd, runs it with
// entrypoint (nil: the image's) and cmd, and returns its output and exit
// code. The container is removed afterwards.
func DockerRun(t testing.TB, ref string, entrypoint []string, cmd ...string) (stdout, stderr string, code int) {
	t.Helper()
	host := DockerHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	pull, err := cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	// A failed pull shows only in the progress stream, not in ImagePull's error.
	err = jsonmessage.DisplayJSONMessagesStream(pull, &bytes.Buffer{}, 0, false, nil)
	pull.Close()
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Entrypoint: entrypoint, Cmd: cmd}, nil, nil, nil, "")
	if err != nil {
		t.Fatalf("creating container: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true}); err != nil {
			t.Errorf("removing container %s: %v", created.ID, err)
		}
	}()
	waited, waitErr := cli.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("starting container: %v", err)
	}
	select {
	case err := <-waitErr:
		t.Fatalf("waiting for container: %v", err)
	case res := <-waited:
		code = int(res.StatusCode)
	}
	logs, err := cli.ContainerLogs(ctx, created.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("reading container logs: %v", err)
	}
	defer logs.Close()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, logs); err != nil {
		t.Fatalf("reading container logs: %v", err)
	}
	return out.String(), errb.String(), code
}

// BuildkitRun runs `sh -c script` in ref through the test bed's buildkitd,
// which pulls what docker 20.10 cannot (zstd layers), and returns its
// standard output and exit code.
func BuildkitRun(t testing.TB, ref, script string) (stdout string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := bkclient.New(ctx, BuildkitHost(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The exit code goes to a file, so that a failing script is an answer,
	// not a failed solve; IgnoreCache has the script really run.
	run := llb.Image(ref).Run(llb.Args([]string{"/bin/sh", "-c", `(` + script + `) > /out/stdout; echo $? > /out/code`}), llb.IgnoreCache)
	def, err := run.AddMount("/out", llb.Scratch()).Marshal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	status := make(chan *bkclient.SolveStatus)
	go func() {
		for range status {
		}
	}()
	if _, err := c.Solve(ctx, def, bkclient.SolveOpt{Exports: []bkclient.ExportEntry{{Type: bkclient.ExporterLocal, OutputDir: dir}}}, status); err != nil {
		t.Fatalf("running a script in %s: %v", ref, err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "code"))
	if err != nil {
		t.Fatal(err)
	}
	if code, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		t.Fatalf("exit code %q: %v", b, err)
	}
	return string(out), code
}
