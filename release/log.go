package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/docker/api/types/image"

	"github.com/phpbuild/phpbuild/badinput"
)

// logFile is the release log in the state dir: one JSON Record a line,
// oldest first.
const logFile = "releases.jsonl"

// snapshotFile is where the state dir keeps the env snapshot envDigest.
func snapshotFile(envDigest string) string {
	return "snapshots/" + strings.TrimPrefix(envDigest, "sha256:") + ".env"
}

// appendLog adds rec to the release log, one JSON object per line.
func (h *host) appendLog(ctx context.Context, rec *Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := h.state.append(ctx, logFile, append(b, '\n')); err != nil {
		return fmt.Errorf("appending to the release log: %w", err)
	}
	return nil
}

// history is the release log, oldest first.
func (h *host) history(ctx context.Context) ([]Record, error) {
	b, err := h.state.read(ctx, logFile)
	if errors.Is(err, errNoState) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r Record
		if l != "" && json.Unmarshal([]byte(l), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// okReleases are the successful releases and rollbacks, oldest first.
func okReleases(hist []Record) []Record {
	var out []Record
	for _, r := range hist {
		if r.Result == "ok" {
			out = append(out, r)
		}
	}
	return out
}

func pickRollback(hist []Record, id string) (*Record, error) {
	ok := okReleases(hist)
	if len(ok) == 0 {
		return nil, errors.New("nothing to roll back to: the environment has no release")
	}
	if id == "" {
		if len(ok) < 2 {
			return nil, errors.New("nothing to roll back to: the environment has only one release")
		}
		cur := ok[len(ok)-1]
		// The newest release that is not what runs now.
		for i := len(ok) - 2; i >= 0; i-- {
			if ok[i].Digest != cur.Digest || ok[i].Env != cur.Env {
				return &ok[i], nil
			}
		}
		return nil, errors.New("nothing to roll back to: every kept release is the current one")
	}
	for i := range ok {
		if ok[i].ID == id {
			return &ok[i], nil
		}
	}
	return nil, &badinput.Error{Field: "--to", Err: fmt.Errorf("no successful release %q in this environment (see `phpbuild releases`)", id)}
}

// retain removes the images and snapshots of releases older than the
// last keep successful ones; those stay so a rollback needs no registry.
func (h *host) retain(ctx context.Context) {
	hist, err := h.history(ctx)
	if err != nil {
		return
	}
	ok := okReleases(hist)
	if len(ok) <= h.env.Keep {
		return
	}
	keepImg, keepEnv := map[string]bool{}, map[string]bool{}
	for _, r := range ok[len(ok)-h.env.Keep:] {
		keepImg[r.Digest], keepEnv[r.Env] = true, true
	}
	for _, r := range ok[:len(ok)-h.env.Keep] {
		if !keepImg[r.Digest] {
			h.cli.ImageRemove(ctx, r.Digest, image.RemoveOptions{})
		}
		if !keepEnv[r.Env] {
			h.state.remove(ctx, snapshotFile(r.Env))
		}
	}
}
