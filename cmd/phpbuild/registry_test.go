package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// TestRegistryRetries: the commands that read the runtime repo retry as
// build does (build.DefaultRemote: five tries), where ggcr's default gives
// up after three.
func TestRegistryRetries(t *testing.T) {
	const failures = 3
	dir := writeApp(t, map[string]string{"index.php": index})
	for _, tc := range []struct {
		name string
		args []string // {REPO} is replaced by the runtime repo
		want string   // on stdout, or in the error
	}{
		{name: "runtime ls", args: []string{"runtime", "ls", "--repo", "{REPO}"}, want: "no runtimes recorded"},
		{name: "plan", args: []string{"plan", dir, "--runtimes", "{REPO}"}, want: "no built runtime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each waits out the backoff, 3.5s
			var requests atomic.Int32
			reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/manifests/") && requests.Add(1) <= failures {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			args := append([]string{}, tc.args...)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "{REPO}", strings.TrimPrefix(srv.URL, "http://")+"/runtimes")
			}

			root := newRoot()
			var stdout bytes.Buffer
			root.SetOut(&stdout)
			root.SetErr(io.Discard)
			root.SetArgs(args)
			err := root.ExecuteContext(context.Background())
			got := stdout.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("phpbuild %v: got %q, want %q", args, got, tc.want)
			}
		})
	}
}
