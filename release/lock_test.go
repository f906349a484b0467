package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLock(t *testing.T) {
	hostname, _ := os.Hostname()
	// A pid above Linux's maximum (2^22) never runs.
	const deadPID = 1<<22 + 1
	for _, tc := range []struct {
		name     string
		held     *Lock // the lock already in the state dir
		wait     time.Duration
		cancel   bool // ctx ends while waiting
		wantErr  string
		wantLog  string
		taken    bool
		maxTaken time.Duration
	}{
		{name: "free", taken: true},
		{name: "held elsewhere, no wait", held: &Lock{Holder: "ann@ci", Host: "ci", PID: 42, Since: "2026-01-01T00:00:00Z", Message: "hotfix"},
			wantErr: "the environment is locked by ann@ci (pid 42 on ci) since 2026-01-01T00:00:00Z: hotfix; wait with --lock-wait"},
		{name: "held elsewhere, waits then gives up", held: &Lock{Holder: "ann@ci", Host: "ci", PID: 42}, wait: 700 * time.Millisecond,
			wantErr: "locked by ann@ci", maxTaken: 3 * time.Second},
		{name: "held by a live process here", held: &Lock{Holder: "me", Host: hostname, PID: os.Getpid()}, wantErr: "locked by me"},
		{name: "held by a dead process here: broken", held: &Lock{Holder: "gone@here", Host: hostname, PID: deadPID},
			taken: true, wantLog: "breaking the lock of pid 4194305 (gone@here), which is no longer running"},
		{name: "Ctrl-C while waiting", held: &Lock{Holder: "ann@ci", Host: "ci", PID: 42}, wait: time.Hour, cancel: true,
			wantErr: context.Canceled.Error(), maxTaken: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, st := fakeHost(t, testEnv("docker"))
			if tc.held != nil {
				st.files["lock"], _ = json.Marshal(tc.held)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			var logged []string
			o := Options{Message: "release v2", LockWait: tc.wait, Progress: func(format string, args ...any) {
				logged = append(logged, fmt.Sprintf(format, args...))
			}}
			t0 := time.Now()
			unlock, err := h.lock(ctx, o)
			if took := time.Since(t0); tc.maxTaken > 0 && took > tc.maxTaken {
				t.Errorf("lock took %s", took)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var le *LockedError
				if errors.Is(err, context.Canceled) == errors.As(err, &le) {
					t.Errorf("err = %#v: want a *LockedError, or the context's error", err)
				}
				if got, _ := json.Marshal(tc.held); string(st.files["lock"]) != string(got) {
					t.Errorf("the held lock changed: %s", st.files["lock"])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantLog != "" && (len(logged) != 1 || logged[0] != tc.wantLog) {
				t.Errorf("progress %q, want %q", logged, tc.wantLog)
			}
			l, err := h.readLock(ctx)
			if err != nil || l.PID != os.Getpid() || l.Host != hostname || l.Message != "release v2" {
				t.Errorf("the lock holds %+v, %v; want this process", l, err)
			}
			unlock()
			if _, ok := st.files["lock"]; ok {
				t.Error("unlock left the lock")
			}
		})
	}
}
