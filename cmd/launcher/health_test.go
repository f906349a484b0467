package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			http.Error(w, "broken", http.StatusInternalServerError)
		}
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	for _, tc := range []struct {
		name string
		env  map[string]string
		code int
		out  string
	}{
		{"ok", map[string]string{}, 0, `GET /health → 200 {"status":"ok"}`},
		{"error status", map[string]string{"PHPBUILD_HEALTH_PATH": "/boom"}, 1, "GET /boom → 500 broken"},
		{"other expected status", map[string]string{"PHPBUILD_HEALTH_PATH": "/boom", "PHPBUILD_HEALTH_STATUS": "500"}, 0, "→ 500"},
		{"redirect is a failure", map[string]string{"PHPBUILD_HEALTH_PATH": "/moved"}, 1, "redirected to /elsewhere"},
		{"nothing listening", map[string]string{"PORT": "1"}, 1, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"PORT": port}
			for k, v := range tc.env {
				env[k] = v
			}
			var out bytes.Buffer
			code := health(func(k string) string { return env[k] }, &out)
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Errorf("health = %d %q, want %d and %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}

func TestReadEnvFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	body := "# written by phpbuild release\nAPP_ENV=\"prod\"\nLITERAL='a \\n $B \"q\"'\nMULTI=\"a\\nb\"\nQUOTED=\"say \\\"hi\\\" \\$HOME \\\\ x\"\nEMPTY=\"\"\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"APP_ENV=prod", `LITERAL=a \n $B "q"`, "MULTI=a\nb", `QUOTED=say "hi" $HOME \ x`, "EMPTY="}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, err := readEnvFile(filepath.Join(dir, "missing")); err != nil || got != nil {
		t.Errorf("a missing file: %q, %v; want nothing, no error", got, err)
	}
	os.WriteFile(p, []byte("OK=\"1\"\nBROKEN\n"), 0o600)
	if _, err := readEnvFile(p); err == nil || !strings.Contains(err.Error(), ".env:2:") {
		t.Errorf("err = %v, want one naming line 2", err)
	}
	merged := withEnv([]string{"PATH=/bin", "APP_ENV=dev", "PHPBUILD_RUN_DIR=/run/phpbuild"}, []string{"APP_ENV=prod", "PHPBUILD_RUN_DIR=/tmp", "NEW=1"})
	if want := []string{"PATH=/bin", "APP_ENV=prod", "PHPBUILD_RUN_DIR=/run/phpbuild", "NEW=1"}; !slices.Equal(merged, want) {
		t.Errorf("withEnv = %q, want %q", merged, want)
	}
}

func TestPrepareRunDirRefusesARunningServer(t *testing.T) {
	dir := t.TempDir()
	// The test's parent (go test) is alive and not this process.
	if err := os.WriteFile(filepath.Join(dir, "nginx.pid"), []byte(fmt.Sprintf("%d\n", os.Getppid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prepareRunDir(dir); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Errorf("prepareRunDir = %v, want a refusal", err)
	}
	// A pid no process has is what a killed run leaves: removed.
	os.WriteFile(filepath.Join(dir, "nginx.pid"), []byte("999999999\n"), 0o644)
	if err := prepareRunDir(dir); err != nil {
		t.Errorf("prepareRunDir with a stale pid file = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nginx.pid")); !os.IsNotExist(err) {
		t.Errorf("stale nginx.pid left behind: %v", err)
	}
}

// TestHealthWait: with PHPBUILD_HEALTH_WAIT one call waits for a server
// that starts listening late, and tells only of its last try; a server
// that never answers well fails once the wait is over.
func TestHealthWait(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close() // refused until the server starts
	started := make(chan *httptest.Server, 1)
	go func() {
		time.Sleep(400 * time.Millisecond)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				http.Error(w, "starting", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "ok")
		}))
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Error(err)
			started <- nil
			return
		}
		srv.Listener = l
		srv.Start()
		started <- srv
	}()
	env := map[string]string{"PORT": port, "PHPBUILD_HEALTH_WAIT": "20s"}
	var out bytes.Buffer
	code := health(func(k string) string { return env[k] }, &out)
	if srv := <-started; srv != nil {
		defer srv.Close()
	}
	if code != 0 || out.String() != "health: GET /health → 200 ok\n" {
		t.Errorf("health = %d %q, want 0 and only the try that succeeded", code, out.String())
	}

	env["PHPBUILD_HEALTH_PATH"], env["PHPBUILD_HEALTH_WAIT"] = "/none", "300ms"
	out.Reset()
	start := time.Now()
	if code := health(func(k string) string { return env[k] }, &out); code != 1 || strings.Count(out.String(), "GET /none") != 1 || time.Since(start) < 200*time.Millisecond {
		t.Errorf("a route that never answers 200 = %d %q after %s", code, out.String(), time.Since(start))
	}
}
