package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/release"
)

// TestLogsBadInput: wrong flags are refused before the docker host is
// asked.
func TestLogsBadInput(t *testing.T) {
	project := "[environments.staging]\nimage = \"127.0.0.1:9/app\"\nport = 18999\n"
	dir := writeApp(t, map[string]string{"index.php": index, "project.toml": project})
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{name: "no --env", args: []string{"logs", dir}, want: []string{"--env NAME is required"}},
		{name: "bad --since", args: []string{"logs", dir, "--env", "staging", "--since", "yesterday"}, want: []string{`--since "yesterday"`, "a duration (10m) or an RFC 3339 time"}},
		{name: "negative --since", args: []string{"logs", dir, "--env", "staging", "--since", "-5m"}, want: []string{`--since "-5m": a negative duration`}},
		{name: "bad --tail", args: []string{"logs", dir, "--env", "staging", "--tail", "ten"}, want: []string{"--tail", "ten"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runMain(t, tc.args...)
			checkBadInput(t, stdout, stderr, code, tc.want, false)
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                  now.Add(-10 * time.Minute),
		"1h30m":                now.Add(-90 * time.Minute),
		"2026-01-02T14:04:05Z": time.Date(2026, 1, 2, 14, 4, 5, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// TestPrintStatusProcesses: status shows each process type's and the
// scheduler's containers in a table.
func TestPrintStatusProcesses(t *testing.T) {
	st := &release.Status{Serving: "shop-prod-R", Health: "healthy", Processes: []release.ProcessStatus{
		{Name: "worker", Containers: []release.ContainerStatus{
			{Name: "shop-prod-worker-R-1", Release: "R", Image: "registry.example.com/shop@sha256:0123456789abcdef", State: "running", Health: "healthy"},
			{Name: "shop-prod-worker-R-2", Release: "R", Image: "registry.example.com/shop@sha256:0123456789abcdef", State: "restarting"},
		}},
		{Name: "schedule", Containers: []release.ContainerStatus{{Name: "shop-prod-schedule-R", Release: "R", Image: "registry.example.com/shop@sha256:0123456789abcdef", State: "running"}}},
	}}
	var b bytes.Buffer
	printStatus(&b, st)
	want := `current: none
serving: shop-prod-R (healthy)
lock:    free
maintenance: off
processes:
  PROCESS   CONTAINER             STATE       HEALTH   RELEASE  IMAGE
  worker    shop-prod-worker-R-1  running     healthy  R        0123456789ab
  worker    shop-prod-worker-R-2  restarting  -        R        0123456789ab
  schedule  shop-prod-schedule-R  running     -        R        0123456789ab
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("status (-want +got):\n%s", d)
	}
	b.Reset()
	printStatus(&b, &release.Status{Maintenance: &release.Maintenance{Since: "2026-01-01T00:00:00Z", User: "ops@laptop", Message: "migrating"}})
	if want := "current: none\nserving: - (-)\nlock:    free\nmaintenance: on since 2026-01-01T00:00:00Z by ops@laptop: migrating\nprocesses: none\n"; b.String() != want {
		t.Errorf("status %q, want %q", b.String(), want)
	}
}
