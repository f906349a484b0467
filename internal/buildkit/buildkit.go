// Package buildkit holds the BuildKit plumbing that building runtimes and
// building apps share: where buildkitd is, connecting to it, the session
// every solve attaches (registry auth from the docker config, read
// silently), and a tap on the solve status that keeps each step's output so
// a failure can show it.
package buildkit

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
	digest "github.com/opencontainers/go-digest"

	"github.com/phpbuild/phpbuild/transient"
)

// DefaultHost is buildctl's default address of buildkitd.
const DefaultHost = "unix:///run/buildkit/buildkitd.sock"

// HostFromEnv is $BUILDKIT_HOST, as buildctl reads it, or DefaultHost.
func HostFromEnv() string {
	if h := os.Getenv("BUILDKIT_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

// Connect opens a client of buildkitd at host (unix://, tcp://, with
// TLSFromEnv's mutual TLS, or docker-container://NAME); failing to is
// transient, a TLS setting that cannot work is bad input.
func Connect(ctx context.Context, host string) (*client.Client, error) {
	t := TLSFromEnv()
	opts, err := t.options(host)
	if err != nil {
		return nil, err
	}
	if t.Set() {
		if err := t.preflight(ctx, host); err != nil {
			return nil, err
		}
	}
	bk, err := client.New(ctx, host, opts...)
	if err != nil {
		return nil, transient.Mark(fmt.Errorf("connecting to buildkitd at %s: %w", host, err))
	}
	return bk, nil
}

// Auth is the session attachment that lends buildkitd the docker config's
// registry credentials. Libraries are silent: config warnings are dropped.
func Auth() []session.Attachable {
	cfg := config.LoadDefaultConfigFile(io.Discard)
	return []session.Attachable{authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: authprovider.LoadAuthConfig(cfg),
	})}
}

// Watch runs solve with a status channel read by a new tap forwarding to
// progress (nil is silent), and returns the tap once every status is in.
func Watch(progress chan<- *client.SolveStatus, solve func(chan *client.SolveStatus) error) (*StatusTap, error) {
	tap := NewStatusTap(progress)
	ch := make(chan *client.SolveStatus)
	done := make(chan struct{})
	go func() { tap.Run(ch); close(done) }()
	err := solve(ch)
	<-done
	return tap, err
}

// StatusTap forwards BuildKit's status to a progress display and keeps
// each step's last log lines, so a failed step's own output can be shown.
type StatusTap struct {
	out     chan<- *client.SolveStatus
	mu      sync.Mutex
	names   map[digest.Digest]string
	errs    map[digest.Digest]string
	logs    map[digest.Digest][]string
	partial map[digest.Digest]string
	failed  []digest.Digest
}

// NewStatusTap forwards to out, which may be nil.
func NewStatusTap(out chan<- *client.SolveStatus) *StatusTap {
	return &StatusTap{out: out, names: map[digest.Digest]string{}, errs: map[digest.Digest]string{}, logs: map[digest.Digest][]string{}, partial: map[digest.Digest]string{}}
}

// Run consumes in until it is closed.
func (t *StatusTap) Run(in <-chan *client.SolveStatus) {
	for s := range in {
		t.mu.Lock()
		for _, v := range s.Vertexes {
			t.names[v.Digest] = v.Name
			if v.Error != "" && t.errs[v.Digest] == "" {
				t.errs[v.Digest] = v.Error
				t.failed = append(t.failed, v.Digest)
			}
		}
		for _, l := range s.Logs {
			// Log chunks split lines anywhere; join a chunk to the
			// previous one's unfinished last line.
			data := t.partial[l.Vertex] + string(l.Data)
			lines := strings.Split(data, "\n")
			t.partial[l.Vertex] = lines[len(lines)-1]
			lines = append(t.logs[l.Vertex], lines[:len(lines)-1]...)
			if len(lines) > 40 {
				lines = lines[len(lines)-40:]
			}
			t.logs[l.Vertex] = lines
		}
		t.mu.Unlock()
		if t.out != nil {
			t.out <- s
		}
	}
}

// FailedStep is the first step that failed: the cause; later ones were
// canceled by it.
type FailedStep struct {
	Name  string
	Error string
	// Logs are the step's last output lines.
	Logs []string
}

// Failed returns the first failed step, if any.
func (t *StatusTap) Failed() (FailedStep, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failed) == 0 {
		return FailedStep{}, false
	}
	d := t.failed[0]
	logs := append([]string{}, t.logs[d]...)
	if p := t.partial[d]; p != "" {
		logs = append(logs, p)
	}
	return FailedStep{Name: t.names[d], Error: t.errs[d], Logs: logs}, true
}

// Tail is the last n log lines, indented under the error.
func (f FailedStep) Tail(n int) string {
	lines := f.Logs
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

// Unavailable reports buildkitd or a registry behind it being unreachable,
// which retrying may cure; BuildKit's gRPC errors carry no finer type.
func Unavailable(err error) bool {
	if TLSRefused(err) {
		return false // the settings are wrong; retrying does not help
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "Unavailable") || strings.Contains(s, "503 Service Unavailable") || strings.Contains(s, "i/o timeout")
}

// Lost reports the gRPC connection to buildkitd breaking mid-solve:
// buildkitd died or restarted, no step failed.
func Lost(err error) bool {
	s := err.Error()
	return strings.Contains(s, "code = Unavailable") || strings.Contains(s, "error reading from server: EOF") ||
		strings.Contains(s, "connection reset by peer") || strings.Contains(s, "transport is closing")
}
