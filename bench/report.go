// Package bench measures phpbuild against the multi-stage Dockerfile a
// careful team would write (bench/Dockerfile), on the same buildkitd,
// registry and dockerd: `make bench` runs BenchmarkVsDockerfile. This file
// turns the samples into the report: min/median/max per figure, the ratio
// phpbuild/Dockerfile of the medians, a markdown table and JSON.
package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Unit says how a figure's samples print.
type Unit string

const (
	Seconds  Unit = "s"
	Bytes    Unit = "bytes"
	Requests Unit = "requests"
	// PerSecond is requests per second, Millis milliseconds of latency,
	// Micros microseconds (of CPU time), Count a number of things.
	PerSecond Unit = "requests/s"
	Millis    Unit = "ms"
	Micros    Unit = "µs"
	Count     Unit = "count"
)

// Figure is one quantity measured for both contenders, one sample per run.
type Figure struct {
	Name       string    `json:"name"`
	Unit       Unit      `json:"unit"`
	Phpbuild   []float64 `json:"phpbuild"`
	Dockerfile []float64 `json:"dockerfile"`
}

// Stats summarizes the samples of one contender.
type Stats struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// Summarize gives min, median and max; the median of an even count is the
// mean of the middle two. No samples give NaNs.
func Summarize(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stats{Min: s[0], Median: med, Max: s[len(s)-1]}
}

// Ratio is phpbuild's median over the Dockerfile's; ok is false when that
// is not a number (the Dockerfile's median is 0).
func (f Figure) Ratio() (r float64, ok bool) {
	p, d := Summarize(f.Phpbuild).Median, Summarize(f.Dockerfile).Median
	if d == 0 || math.IsNaN(p) || math.IsNaN(d) {
		return 0, false
	}
	return p / d, true
}

// Report is one `make bench` run.
type Report struct {
	Date    string   `json:"date"`    // YYYY-MM-DD
	Machine string   `json:"machine"` // cores, CPU, memory, kernel
	Runs    int      `json:"runs"`
	App     string   `json:"app"`
	Figures []Figure `json:"figures"`
	// Limits are phpbuild's figures against the least their work can take.
	Limits []Limit `json:"limits,omitempty"`
	// Growth pairs figures of the small app with the large app's.
	Growth []Growth `json:"growth,omitempty"`
	Notes  []string `json:"notes,omitempty"`
}

// Limit is one phpbuild figure against the physical limit of its work,
// measured in the same runs.
type Limit struct {
	Name     string    `json:"name"`
	Phpbuild []float64 `json:"phpbuild"`
	Limit    []float64 `json:"limit"`
}

// Ratio is phpbuild's median over the limit's.
func (l Limit) Ratio() (float64, bool) {
	return Figure{Phpbuild: l.Phpbuild, Dockerfile: l.Limit}.Ratio()
}

// Growth names a small-app figure and the same figure on the large app.
type Growth struct {
	Small string `json:"small"`
	Large string `json:"large"`
}

// figureJSON is a Figure with its summary, for readers of the JSON file.
type figureJSON struct {
	Figure
	PhpbuildStats   Stats    `json:"phpbuild_stats"`
	DockerfileStats Stats    `json:"dockerfile_stats"`
	Ratio           *float64 `json:"ratio,omitempty"`
}

// JSON is the report with every sample, its summaries and ratios.
func (r *Report) JSON() ([]byte, error) {
	out := struct {
		*Report
		Figures []figureJSON `json:"figures"`
	}{Report: r}
	for _, f := range r.Figures {
		fj := figureJSON{Figure: f, PhpbuildStats: Summarize(f.Phpbuild), DockerfileStats: Summarize(f.Dockerfile)}
		if ratio, ok := f.Ratio(); ok {
			fj.Ratio = &ratio
		}
		out.Figures = append(out.Figures, fj)
	}
	return json.MarshalIndent(out, "", "  ")
}

// Markdown is the report as a heading line, a table and its notes.
func (r *Report) Markdown() string {
	var b strings.Builder
	runs := fmt.Sprintf("%d runs each", r.Runs)
	if r.Runs == 1 {
		runs = "1 run"
	}
	fmt.Fprintf(&b, "`make bench` on %s, %s; %s, app: %s.\n\n", r.Date, r.Machine, runs, r.App)
	b.WriteString("| figure | phpbuild min / median / max | Dockerfile min / median / max | phpbuild / Dockerfile |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, f := range r.Figures {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", f.Name, f.Unit.triple(Summarize(f.Phpbuild)), f.Unit.triple(Summarize(f.Dockerfile)), ratioText(f.Ratio()))
	}
	if len(r.Limits) > 0 {
		b.WriteString("\n| against the physical limit | phpbuild min / median / max | limit min / median / max | phpbuild / limit |\n")
		b.WriteString("|---|---|---|---|\n")
		for _, l := range r.Limits {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", l.Name, wholeMillis(Summarize(l.Phpbuild)), wholeMillis(Summarize(l.Limit)), ratioText(l.Ratio()))
		}
	}
	if len(r.Growth) > 0 {
		b.WriteString("\n| small app → large app (medians) | phpbuild | Dockerfile |\n")
		b.WriteString("|---|---|---|\n")
		for _, g := range r.Growth {
			small, large := r.figure(g.Small), r.figure(g.Large)
			if small == nil || large == nil {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", g.Small, growth(small.Unit, small.Phpbuild, large.Phpbuild), growth(small.Unit, small.Dockerfile, large.Dockerfile))
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

func ratioText(x float64, ok bool) string {
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", x)
}

// figure is the figure named name, or nil.
func (r *Report) figure(name string) *Figure {
	for i := range r.Figures {
		if r.Figures[i].Name == name {
			return &r.Figures[i]
		}
	}
	return nil
}

// growth prints how a median grew: "0.20 s → 0.85 s (×4.3)".
func growth(u Unit, small, large []float64) string {
	a, z := Summarize(small).Median, Summarize(large).Median
	out := u.format(a) + " → " + u.format(z)
	if a > 0 && !math.IsNaN(z) {
		out += fmt.Sprintf(" (×%.1f)", z/a)
	}
	return out
}

// wholeMillis is a triple of seconds in whole milliseconds: the limits
// are a few tens of them, which a second's two decimals round away.
func wholeMillis(s Stats) string {
	f := func(x float64) string {
		if math.IsNaN(x) {
			return "n/a"
		}
		return fmt.Sprintf("%.0f ms", x*1000)
	}
	return f(s.Min) + " / " + f(s.Median) + " / " + f(s.Max)
}

func (u Unit) triple(s Stats) string {
	return u.format(s.Min) + " / " + u.format(s.Median) + " / " + u.format(s.Max)
}

func (u Unit) format(x float64) string {
	if math.IsNaN(x) {
		return "n/a"
	}
	switch u {
	case Seconds:
		if x < 10 {
			return fmt.Sprintf("%.2f s", x)
		}
		return fmt.Sprintf("%.1f s", x)
	case Bytes:
		return humanBytes(x)
	case PerSecond:
		return fmt.Sprintf("%.0f/s", x)
	case Millis:
		return fmt.Sprintf("%.2f ms", x)
	case Micros:
		return fmt.Sprintf("%.0f µs", x)
	}
	return fmt.Sprintf("%.0f", x)
}

// humanBytes prints in decimal units, as registries and docker do.
func humanBytes(x float64) string {
	for _, u := range []struct {
		size float64
		name string
	}{{1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if x >= u.size {
			return fmt.Sprintf("%.1f %s", x/u.size, u.name)
		}
	}
	return fmt.Sprintf("%.0f B", x)
}

// Splice replaces what lies between the markers begin and end in doc with
// body; ok is false when doc lacks them.
func Splice(doc, begin, end, body string) (string, bool) {
	i := strings.Index(doc, begin)
	if i < 0 {
		return doc, false
	}
	j := strings.Index(doc[i+len(begin):], end)
	if j < 0 {
		return doc, false
	}
	j += i + len(begin)
	return doc[:i+len(begin)] + "\n" + strings.TrimSpace(body) + "\n" + doc[j:], true
}
