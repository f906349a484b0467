package build

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/gittest"
)

var update = flag.Bool("update", false, "rewrite testdata/plans/*.json from the current code")

// TestPlanSnapshots pins the plan of every testdata app. Layer keys are in
// it, so a change to how any key is computed shows up here for review.
func TestPlanSnapshots(t *testing.T) {
	apps, err := filepath.Glob("../testdata/apps/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) < 4 {
		t.Fatalf("found %d testdata apps, want at least 4", len(apps))
	}
	for _, dir := range apps {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			p, err := PlanDir(context.Background(), dir)
			if err != nil {
				t.Fatalf("PlanDir(%s): %v", dir, err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("..", "testdata", "plans", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading snapshot (run go test ./build -update to create it): %v", err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("plan of %s differs from %s (-want +got):\n%s\nrun go test ./build -update if the change is intended", name, golden, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

// TestPlanJSONShape checks the field names other tools read from
// `phpbuild plan --json`.
func TestPlanJSONShape(t *testing.T) {
	p, err := PlanDir(context.Background(), "../testdata/apps/phalcon")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		App struct {
			WebRoot string `json:"webRoot"`
			Phalcon *bool  `json:"phalcon"`
			Volt    struct {
				Dirs []string `json:"dirs"`
			} `json:"volt"`
			Node     json.RawMessage `json:"node"`
			EnvFiles []string        `json:"envFiles"`
		} `json:"app"`
		Runtime struct {
			PHPMinor   string   `json:"phpMinor"`
			PHP        string   `json:"php"`
			Phalcon    *string  `json:"phalcon"`
			Extensions []string `json:"extensions"`
			Base       string   `json:"base"`
		} `json:"runtime"`
		Layers []struct {
			Name string `json:"name"`
			Key  string `json:"key"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.App.WebRoot != "public" || m.App.Phalcon == nil || !*m.App.Phalcon || len(m.App.Volt.Dirs) != 3 || string(m.App.Node) != "null" || m.App.EnvFiles == nil {
		t.Errorf("app fields: %+v", m.App)
	}
	if m.Runtime.PHPMinor != "8.2" || m.Runtime.PHP != "8.2" || m.Runtime.Phalcon == nil || *m.Runtime.Phalcon != "5.18.2" || m.Runtime.Base != "docker.io/library/debian:bookworm-slim" {
		t.Errorf("runtime fields: %+v", m.Runtime)
	}
	var names []string
	for _, l := range m.Layers {
		names = append(names, l.Name)
		if len(l.Key) != len("sha256:")+64 || l.Key[:7] != "sha256:" {
			t.Errorf("layer %s key %q is not sha256:<hex>", l.Name, l.Key)
		}
	}
	if diff := cmp.Diff([]string{"runtime", "vendor", "autoload", "volt", "config", "app"}, names); diff != "" {
		t.Errorf("layers (-want +got):\n%s", diff)
	}
}

// TestDetectDirSeesWhatTheBuildSees: detect and plan in a git work tree
// read git's files, so an ignored cache dir full of files, as a developer's
// checkout has, is not a writable dir there either.
func TestDetectDirSeesWhatTheBuildSees(t *testing.T) {
	dir := t.TempDir()
	for rel, body := range map[string]string{
		"public/index.php":        "<?php echo 'hi';\n",
		".gitignore":              "/cache/\n",
		"cache/volt/compiled.php": "<?php // a local run's output\n",
		"storage/logs/.gitkeep":   "",
		"var/data/x.txt":          "x\n",
	} {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	walked, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := walked.Writable, []string{"cache", "storage", "var"}; !cmp.Equal(got, want) {
		t.Fatalf("outside git, writable = %q, want %q (the dir as it is)", got, want)
	}
	gittest.InitCommit(t, dir)
	app, err := DetectDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := app.Writable, []string{"storage", "var"}; !cmp.Equal(got, want) {
		t.Errorf("in a git work tree, writable = %q, want %q: the ignored cache/ is not the commit's", got, want)
	}
}
