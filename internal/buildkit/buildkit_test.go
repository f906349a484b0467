package buildkit

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

// TestStatusTap: log chunks split lines anywhere, the first failed step is
// the cause, and its unfinished last line is kept.
func TestStatusTap(t *testing.T) {
	vendor, assets := digest.FromString("vendor"), digest.FromString("assets")
	var forwarded int
	progress := make(chan *client.SolveStatus)
	done := make(chan struct{})
	go func() {
		for range progress {
			forwarded++
		}
		close(done)
	}()
	tap, err := Watch(progress, func(ch chan *client.SolveStatus) error {
		ch <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: vendor, Name: "vendor: composer install"}, {Digest: assets, Name: "assets: npm run build"}}}
		ch <- &client.SolveStatus{Logs: []*client.VertexLog{{Vertex: vendor, Data: []byte("Installing acme/x\nInstall")}}}
		ch <- &client.SolveStatus{Logs: []*client.VertexLog{{Vertex: vendor, Data: []byte("ing acme/y\nYour requirements could not be resolved")}}}
		ch <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: vendor, Name: "vendor: composer install", Error: "exit code: 2"}}}
		ch <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: assets, Name: "assets: npm run build", Error: "canceled"}}}
		close(ch)
		return errors.New("solve failed")
	})
	close(progress)
	<-done
	if err == nil || forwarded != 5 {
		t.Fatalf("Watch: err %v, %d statuses forwarded; want the solve's error and 5", err, forwarded)
	}
	f, ok := tap.Failed()
	if !ok {
		t.Fatal("no failed step")
	}
	want := FailedStep{Name: "vendor: composer install", Error: "exit code: 2", Logs: []string{"Installing acme/x", "Installing acme/y", "Your requirements could not be resolved"}}
	if d := cmp.Diff(want, f); d != "" {
		t.Errorf("Failed() (-want +got):\n%s", d)
	}
	if got := f.Tail(2); got != "\n  Installing acme/y\n  Your requirements could not be resolved" {
		t.Errorf("Tail(2) = %q", got)
	}
	if got := (FailedStep{}).Tail(3); got != "" {
		t.Errorf("Tail of no logs = %q, want empty", got)
	}
}

// TestStatusTapKeepsLast40: a long step keeps only its last lines.
func TestStatusTapKeepsLast40(t *testing.T) {
	d := digest.FromString("x")
	tap, _ := Watch(nil, func(ch chan *client.SolveStatus) error {
		for i := range 100 {
			ch <- &client.SolveStatus{Logs: []*client.VertexLog{{Vertex: d, Data: []byte(strings.Repeat("x", i) + "\n")}}}
		}
		ch <- &client.SolveStatus{Vertexes: []*client.Vertex{{Digest: d, Name: "x", Error: "failed"}}}
		close(ch)
		return nil
	})
	f, _ := tap.Failed()
	if len(f.Logs) != 40 || f.Logs[39] != strings.Repeat("x", 99) {
		t.Errorf("kept %d lines, last %q; want the last 40", len(f.Logs), f.Logs[len(f.Logs)-1])
	}
}

func TestUnavailableAndLost(t *testing.T) {
	for _, tc := range []struct {
		err               string
		unavailable, lost bool
	}{
		{"rpc error: code = Unavailable desc = connection error", true, true},
		{"dial unix /run/buildkit/buildkitd.sock: connect: connection refused", true, false},
		{"error reading from server: EOF", false, true},
		{"transport is closing", false, true},
		{"failed to solve: process \"/bin/sh -c false\" did not complete successfully: exit code: 1", false, false},
	} {
		err := errors.New(tc.err)
		if Unavailable(err) != tc.unavailable || Lost(err) != tc.lost {
			t.Errorf("%q: Unavailable %v Lost %v, want %v %v", tc.err, Unavailable(err), Lost(err), tc.unavailable, tc.lost)
		}
	}
}
