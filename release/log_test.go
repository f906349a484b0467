package release

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
)

func TestPickRollback(t *testing.T) {
	rel := func(id, digest, env, result string) Record {
		return Record{ID: id, Digest: digest, Env: env, Result: result}
	}
	for _, tc := range []struct {
		name    string
		hist    []Record
		id      string
		want    string // the ID picked
		wantErr string
		bad     bool // a *badinput.Error (exit 2)
	}{
		{name: "empty log", wantErr: "the environment has no release"},
		{name: "only failures", hist: []Record{rel("1", "a", "e", "health-failed")}, wantErr: "the environment has no release"},
		{name: "one release", hist: []Record{rel("1", "a", "e", "ok")}, wantErr: "has only one release"},
		{name: "the one before", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "ok")}, want: "1"},
		{name: "failures are skipped", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "failed"), rel("3", "c", "e", "ok"), rel("4", "d", "e", "hook-failed")}, want: "1"},
		{name: "the same image and env again is skipped", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "ok"), rel("3", "b", "e", "ok")}, want: "1"},
		{name: "an env change alone is a release to go back to", hist: []Record{rel("1", "a", "e1", "ok"), rel("2", "a", "e2", "ok")}, want: "1"},
		{name: "every kept release is the current one", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "a", "e", "ok")}, wantErr: "every kept release is the current one"},
		{name: "by id", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "ok"), rel("3", "c", "e", "ok")}, id: "2", want: "2"},
		{name: "by id, a failed one", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "failed"), rel("3", "c", "e", "ok")}, id: "2", wantErr: `no successful release "2"`, bad: true},
		{name: "by id, unknown", hist: []Record{rel("1", "a", "e", "ok"), rel("2", "b", "e", "ok")}, id: "9", wantErr: `no successful release "9"`, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickRollback(tc.hist, tc.id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				var bad *badinput.Error
				if errors.As(err, &bad) != tc.bad {
					t.Errorf("err = %#v: badinput %v, want %v", err, !tc.bad, tc.bad)
				}
				return
			}
			if err != nil || got.ID != tc.want {
				t.Fatalf("got %+v, %v; want release %s", got, err, tc.want)
			}
		})
	}
}

// TestReleaseLog: records go in as JSON lines and come back oldest first;
// retain keeps the images and snapshots of the last Keep good releases.
func TestReleaseLog(t *testing.T) {
	ctx := context.Background()
	h, f, st := fakeHost(t, testEnv("docker"))
	if hist, err := h.history(ctx); err != nil || hist != nil {
		t.Fatalf("history of a new environment: %v %v", hist, err)
	}
	recs := []Record{
		{ID: "1", Digest: "r@sha256:a", Env: "sha256:e1", Result: "ok", Steps: map[string]string{"pull": "1s"}},
		{ID: "2", Digest: "r@sha256:b", Env: "sha256:e2", Result: "ok"},
		{ID: "3", Digest: "r@sha256:c", Env: "sha256:e2", Result: "health-failed", Error: "the new container never passed its health check"},
		{ID: "4", Digest: "r@sha256:a", Env: "sha256:e3", Result: "ok"},
		{ID: "5", Digest: "r@sha256:d", Env: "sha256:e3", Result: "ok"},
	}
	for i := range recs {
		if err := h.appendLog(ctx, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	st.files["releases.jsonl"] = append(st.files["releases.jsonl"], "not json\n"...)
	hist, err := h.history(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs, hist); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	for _, e := range []string{"e1", "e2", "e3"} {
		st.files["snapshots/"+e+".env"] = []byte("A=1\n")
	}
	h.retain(ctx)
	// Keep is 2: releases 4 and 5 stay; 1 and 2 go, but 1's image is 4's.
	if diff := cmp.Diff([]string{"rmi r@sha256:b"}, f.calls); diff != "" {
		t.Errorf("docker calls (-want +got):\n%s", diff)
	}
	var snaps []string
	for k := range st.files {
		if k != "releases.jsonl" {
			snaps = append(snaps, k)
		}
	}
	if diff := cmp.Diff([]string{"snapshots/e3.env"}, snaps); diff != "" {
		t.Errorf("snapshots left (-want +got):\n%s", diff)
	}
}
