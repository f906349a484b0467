package bench

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stats
	}{
		{[]float64{3, 1, 2}, Stats{1, 2, 3}},
		{[]float64{4, 1, 3, 2}, Stats{1, 2.5, 4}},
		{[]float64{7}, Stats{7, 7, 7}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) {
		t.Errorf("Summarize(nil) = %+v, want NaNs", s)
	}
	in := []float64{3, 1, 2}
	Summarize(in)
	if in[0] != 3 {
		t.Error("Summarize sorted its argument in place")
	}
}

func TestReport(t *testing.T) {
	r := &Report{
		Date: "2026-11-22", Machine: "2 cores", Runs: 3, App: "assets",
		Figures: []Figure{
			{Name: "cold build", Unit: Seconds, Phpbuild: []float64{20, 10, 30}, Dockerfile: []float64{200, 100, 150}},
			{Name: "image size", Unit: Bytes, Phpbuild: []float64{90e6, 90e6, 90e6}, Dockerfile: []float64{120.5e6, 120.5e6, 121e6}},
			{Name: "failed requests", Unit: Requests, Phpbuild: []float64{0, 0, 0}, Dockerfile: []float64{0, 0, 0}},
			{Name: "CPU per request", Unit: Micros, Phpbuild: []float64{121.4, 119.6, 130}, Dockerfile: []float64{114, 114, 118}},
			{Name: "large: cold build", Unit: Seconds, Phpbuild: []float64{40, 50, 60}, Dockerfile: []float64{300, 300, 300}},
		},
		Limits: []Limit{{Name: "code change", Phpbuild: []float64{0.2, 0.3, 0.4}, Limit: []float64{0.1, 0.2, 0.1}}},
		Growth: []Growth{{Small: "cold build", Large: "large: cold build"}, {Small: "cold build", Large: "no such figure"}},
		Notes:  []string{"a note"},
	}
	md := r.Markdown()
	for _, want := range []string{
		"`make bench` on 2026-11-22, 2 cores; 3 runs each, app: assets.",
		"| cold build | 10.0 s / 20.0 s / 30.0 s | 100.0 s / 150.0 s / 200.0 s | 0.13 |",
		"| image size | 90.0 MB / 90.0 MB / 90.0 MB | 120.5 MB / 120.5 MB / 121.0 MB | 0.75 |",
		"| failed requests | 0 / 0 / 0 | 0 / 0 / 0 | n/a |",
		"| CPU per request | 120 µs / 121 µs / 130 µs | 114 µs / 114 µs / 118 µs | 1.06 |",
		"| code change | 200 ms / 300 ms / 400 ms | 100 ms / 100 ms / 200 ms | 3.00 |",
		"| cold build | 20.0 s → 50.0 s (×2.5) | 150.0 s → 300.0 s (×2.0) |",
		"- a note",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Runs    int `json:"runs"`
		Figures []struct {
			Name          string    `json:"name"`
			Phpbuild      []float64 `json:"phpbuild"`
			PhpbuildStats Stats     `json:"phpbuild_stats"`
			Ratio         *float64  `json:"ratio"`
		} `json:"figures"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if strings.Count(md, "→") != 3 { // the heading and one row
		t.Errorf("a growth row for a figure that is not there:\n%s", md)
	}
	if back.Runs != 3 || len(back.Figures) != 5 {
		t.Fatalf("JSON: %s", b)
	}
	if diff := cmp.Diff([]float64{20, 10, 30}, back.Figures[0].Phpbuild); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if back.Figures[0].PhpbuildStats != (Stats{10, 20, 30}) || back.Figures[0].Ratio == nil || math.Abs(*back.Figures[0].Ratio-20.0/150) > 1e-9 {
		t.Errorf("figure 0: %+v", back.Figures[0])
	}
	if back.Figures[2].Ratio != nil {
		t.Errorf("a ratio over a zero median: %v", *back.Figures[2].Ratio)
	}
}

func TestSplice(t *testing.T) {
	doc := "# x\n<!-- a -->\nold\n<!-- b -->\ntail\n"
	got, ok := Splice(doc, "<!-- a -->", "<!-- b -->", "new table\n")
	if want := "# x\n<!-- a -->\nnew table\n<!-- b -->\ntail\n"; !ok || got != want {
		t.Errorf("Splice = %q, %v; want %q", got, ok, want)
	}
	if _, ok := Splice("no markers", "<!-- a -->", "<!-- b -->", "x"); ok {
		t.Error("Splice without markers reported ok")
	}
}

func TestHumanBytes(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 11500: "11.5 kB", 90.2e6: "90.2 MB", 1.5e9: "1.5 GB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%v) = %q, want %q", in, got, want)
		}
	}
}
