package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFPMActive asks a FastCGI server (Go's own, answering as php-fpm's
// status page does) how many workers are busy, through an answer longer
// than one FastCGI record; a missing socket and a mute server are errors.
func TestFPMActive(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "php-fpm.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	active := 3
	var got *http.Request
	go fcgi.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		env := fcgi.ProcessEnv(r)
		if env["SCRIPT_FILENAME"] != fpmStatusPath {
			http.Error(w, "File not found.", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"pool":"app","process manager":"static","active processes":%d,"idle processes":5,"padding":%q}`, active, strings.Repeat("x", 70000))
	}))
	for _, want := range []int{3, 1} {
		active = want
		n, err := fpmActive(sock, 2*time.Second)
		if err != nil || n != want {
			t.Errorf("fpmActive = %d, %v; want %d", n, err, want)
		}
	}
	if got == nil || got.Method != "GET" || got.URL.RawQuery != "json" {
		t.Errorf("the request php-fpm got: %+v", got)
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
