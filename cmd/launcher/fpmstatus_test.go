package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFPMActive asks a FastCGI server (Go's own, answering as php-fpm's
// status page does) how many workers are busy, through an answer longer
// than one FastCGI record; a missing socket and a mute server are errors.
func TestFPMActive(t *testing.T) {
	sock, active, got := fakeStatus(t)
	for _, want := range []int{3, 1} {
		*active = want
		n, err := fpmActive(sock, 2*time.Second)
		if err != nil || n != want {
			t.Errorf("fpmActive = %d, %v; want %d", n, err, want)
		}
	}
	if r := *got; r == nil || r.Method != "GET" || r.URL.RawQuery != "json" {
		t.Errorf("the request php-fpm got: %+v", r)
	}

	if _, err := fpmActive(filepath.Join(t.TempDir(), "none.sock"), time.Second); err == nil {
		t.Error("no socket: no error")
	}
	// A server that never answers: the timeout ends the wait.
	mute, err := net.Listen("unix", filepath.Join(t.TempDir(), "mute.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	start := time.Now()
	if _, err := fpmActive(mute.Addr().String(), 200*time.Millisecond); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("a mute server: %v after %s", err, time.Since(start))
	}
}

// TestFPMStopSignal: php-fpm is ended at once only when nginx has stopped
// and its status page answers that the status request is all it serves.
func TestFPMStopSignal(t *testing.T) {
	sock, active, _ := fakeStatus(t)
	for _, tc := range []struct {
		name         string
		nginxRunning bool
		socket       string
		active       int
		want         syscall.Signal
	}{
		{"idle", false, sock, 1, syscall.SIGTERM},
		{"a request in flight", false, sock, 2, syscall.SIGQUIT},
		{"nginx still running", true, sock, 1, syscall.SIGQUIT},
		{"no status page", false, filepath.Join(t.TempDir(), "none.sock"), 1, syscall.SIGQUIT},
	} {
		*active = tc.active
		s := &supervisor{fpm: &child{name: "php-fpm", pid: 1}, nginx: &child{name: "nginx", pid: 2, done: !tc.nginxRunning},
			fpmSocket: tc.socket, log: io.Discard}
		if got := s.fpmStopSignal(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fakeStatus serves php-fpm's status page over FastCGI on a unix socket
// (Go's own FastCGI server), *active busy workers; got is the last
// request.
func fakeStatus(t *testing.T) (sock string, active *int, got **http.Request) {
	sock = filepath.Join(t.TempDir(), "php-fpm.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	active, got = new(int), new(*http.Request)
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env := fcgi.ProcessEnv(r)
		if env["SCRIPT_FILENAME"] != fpmStatusPath {
			http.Error(w, "File not found.", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		*got = r
		fmt.Fprintf(w, `{"pool":"app","process manager":"static","active processes":%d,"idle processes":5,"padding":%q}`, *active, strings.Repeat("x", 70000))
	}))
	return sock, active, got
}
