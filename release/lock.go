package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// The lock is a file in the state dir: one release or rollback at a time
// per environment, whoever runs it and from where.

// Lock is who holds an environment.
type Lock struct {
	Holder  string `json:"holder"` // user@host
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Since   string `json:"since"`
	Message string `json:"message,omitempty"`
}

// LockedError is an environment another release holds.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	return fmt.Sprintf("the environment is locked by %s (pid %d on %s) since %s%s; wait with --lock-wait, or break a dead lock with `phpbuild unlock`",
		e.Lock.Holder, e.Lock.PID, e.Lock.Host, e.Lock.Since, msgSuffix(e.Lock.Message))
}

// Temporary makes a held lock transient (exit 75): the same release may
// go through once the holder is done.
func (e *LockedError) Temporary() bool { return true }

func msgSuffix(m string) string {
	if m == "" {
		return ""
	}
	return ": " + m
}

// lock takes the environment's lock, created exclusively in the state
// dir, and returns what releases it. A lock whose holder ran on this machine and is gone is broken.
func (h *host) lock(ctx context.Context, o Options) (func(), error) {
	hostname, _ := os.Hostname()
	me := Lock{Holder: o.user(), Host: hostname, PID: os.Getpid(), Since: time.Now().UTC().Format(time.RFC3339), Message: o.Message}
	b, _ := json.Marshal(me)
	deadline := time.Now().Add(o.LockWait)
	for {
		took, err := h.state.create(ctx, "lock", b)
		if err != nil {
			return nil, err
		}
		if took {
			return func() { h.state.remove(context.WithoutCancel(ctx), "lock") }, nil
		}
		held, err := h.readLock(ctx)
		if err != nil {
			continue // released meanwhile
		}
		if held.Host == hostname && held.PID > 0 && !alive(held.PID) {
			o.logf("breaking the lock of pid %d (%s), which is no longer running", held.PID, held.Holder)
			h.state.remove(ctx, "lock")
			continue
		}
		if time.Now().After(deadline) {
			return nil, &LockedError{Lock: *held}
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func (h *host) readLock(ctx context.Context) (*Lock, error) {
	b, err := h.state.read(ctx, "lock")
	if err != nil {
		return nil, err
	}
	var l Lock
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("reading the lock: %w", err)
	}
	return &l, nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
