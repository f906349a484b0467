package project

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/phpbuild/phpbuild/badinput"
)

// Load reads dir/project.toml. An app without one gets an empty Descriptor.
func Load(dir string) (*Descriptor, error) {
	file := filepath.Join(dir, FileName)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		if _, lerr := os.Lstat(file); lerr == nil {
			// A dangling or looping symlink is a mistake, not "no descriptor".
			return nil, badinput.New(file, "reading: %v", badinput.PathCause(err))
		}
		return &Descriptor{}, nil
	}
	if err != nil {
		return nil, badinput.New(file, "reading: %v", badinput.PathCause(err))
	}
	d, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Parse decodes descriptor text; file names it in errors.
func Parse(file string, data []byte) (*Descriptor, error) {
	var d Descriptor
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&d)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &badinput.Error{File: file, Line: pe.Position.Line, Field: pe.LastKey, Err: errors.New(pe.Message)}
		}
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &badinput.Error{File: file, Line: line, Field: m[2], Err: fmt.Errorf("want %s, not %s", goKind(m[4]), goKind(m[3]))}
		}
		if m := lineKeyErr.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			msg := goTypeNames.ReplaceAllStringFunc(m[3], goKind)
			return nil, &badinput.Error{File: file, Line: line, Field: m[2], Err: errors.New(msg)}
		}
		return nil, badinput.New(file, "%v", strings.TrimPrefix(err.Error(), "toml: "))
	}
	for _, k := range md.Undecoded() {
		// [php.ini] takes any php.ini name; BurntSushi/toml leaves the keys of
		// tables nested in a map of anything undecoded, so skip them.
		if len(k) > 2 && k[0] == "php" && k[1] == "ini" {
			continue
		}
		if ignoredKey(k) {
			continue
		}
		return nil, &badinput.Error{File: file, Line: lineOf(data, k), Field: k.String(), Err: errors.New("unknown key")}
	}
	d.path, d.data = file, data
	if err := d.validate(file, data); err != nil {
		return nil, err
	}
	return &d, nil
}

func (d *Descriptor) validate(file string, data []byte) error {
	fieldErr := func(key string, format string, args ...any) error {
		return d.FieldError(key, format, args...)
	}
	ini, err := flattenINI("", d.PHP.RawINI)
	if err != nil {
		return fieldErr("php.ini", "%v", err)
	}
	d.PHP.INI = ini
	if err := relPath(d.Build.WebRoot); err != nil {
		return fieldErr("build.web_root", "%v", err)
	}
	for _, w := range d.Build.Writable {
		if err := relPath(w); err != nil {
			return fieldErr("build.writable", "%q: %v", w, err)
		}
	}
	for _, v := range d.Volt.Dirs {
		if err := relPath(v); err != nil {
			return fieldErr("volt.dirs", "%q: %v", v, err)
		}
	}
	if d.Volt.Bootstrap != "" {
		if err := relPath(d.Volt.Bootstrap); err != nil {
			return fieldErr("volt.bootstrap", "%v", err)
		}
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"volt.services", d.Volt.Services}, {"volt.ignore_services", d.Volt.IgnoreServices}} {
		for _, n := range list.names {
			if !serviceName.MatchString(n) {
				return fieldErr(list.key, "%q is not a service name Volt can use as name.attribute (letters, digits, _)", n)
			}
		}
	}
	if d.Build.HealthPath != "" && !strings.HasPrefix(d.Build.HealthPath, "/") {
		return fieldErr("build.health_path", "%q must start with /", d.Build.HealthPath)
	}
	for _, pattern := range append(append([]string{}, d.IO.Buildpacks.Include...), d.IO.Buildpacks.Exclude...) {
		if _, err := path.Match(pattern, ""); err != nil {
			return fieldErr("io.buildpacks", "pattern %q: %v", pattern, err)
		}
	}
	if len(d.IO.Buildpacks.Include) > 0 && len(d.IO.Buildpacks.Exclude) > 0 {
		// The buildpacks spec makes them exclusive; honouring both would guess.
		return fieldErr("io.buildpacks.include", "include and exclude cannot both be set")
	}
	for i, e := range d.IO.Buildpacks.Build.Env {
		if !envName.MatchString(e.Name) {
			return fieldErr("io.buildpacks.build.env", "entry %d: %q is not a valid variable name", i+1, e.Name)
		}
	}
	for _, e := range d.PHP.Extensions {
		if !extName.MatchString(strings.TrimPrefix(strings.ToLower(e), "ext-")) {
			return fieldErr("php.extensions", "%q is not an extension name", e)
		}
	}
	for name, src := range d.PHP.Sources {
		if !extName.MatchString(name) {
			return fieldErr("php.sources", "%q is not an extension name (lower-case letters, digits, _)", name)
		}
		if src.Source == "" {
			return fieldErr("php.sources."+name+".source", "missing")
		}
		if strings.HasPrefix(src.Source, "https://") && !sha256Hex.MatchString(src.SHA256) {
			return fieldErr("php.sources."+name+".sha256", "an https source needs the tarball's sha256 (64 hex digits)")
		}
		if strings.HasPrefix(src.Source, "http://") {
			return fieldErr("php.sources."+name+".source", "plain http is not accepted; use https with a sha256")
		}
	}
	for minor, m := range d.PHP.Minors {
		if !minorRE.MatchString(minor) {
			return fieldErr("php.minors", "%q is not a PHP minor like \"8.3\"", minor)
		}
		if m.Base == "" || m.AptSource == "" {
			return fieldErr(`php.minors."`+minor+`"`, "needs base and apt_source")
		}
	}
	if d.Phalcon.Source != "" && strings.HasPrefix(d.Phalcon.Source, "https://") && !sha256Hex.MatchString(d.Phalcon.SHA256) {
		return fieldErr("phalcon.sha256", "an https source needs the tarball's sha256 (64 hex digits)")
	}
	if d.PHP.FPM.MaxChildren < 0 {
		return fieldErr("php.fpm.max_children", "must not be negative")
	}
	names := make([]string, 0, len(d.Env))
	for name := range d.Env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e := d.Env[name]
		if err := e.validate("environments."+name, fieldErr); err != nil {
			return err
		}
		d.Env[name] = e
		if err := d.validateSmoke("environments."+name+".health", d.Env[name].Health.Smoke); err != nil {
			return err
		}
	}
	return nil
}

func (e *Environment) validate(prefix string, fieldErr func(string, string, ...any) error) error {
	switch e.Target {
	case "", "docker", "swarm":
	default:
		return fieldErr(prefix+".target", "%q: want \"docker\" or \"swarm\"", e.Target)
	}
	if e.Port < 0 || e.Port > 65535 {
		return fieldErr(prefix+".port", "%d is not a TCP port", e.Port)
	}
	if e.Keep < 0 {
		return fieldErr(prefix+".keep", "must not be negative")
	}
	if e.Health.Status != 0 && (e.Health.Status < 100 || e.Health.Status > 599) {
		return fieldErr(prefix+".health.status", "%d is not an HTTP status", e.Health.Status)
	}
	if e.Health.Path != "" && !strings.HasPrefix(e.Health.Path, "/") {
		return fieldErr(prefix+".health.path", "%q must start with /", e.Health.Path)
	}
	durations := map[string]string{
		"drain_timeout":          e.DrainTimeout,
		"health.timeout":         e.Health.Timeout,
		"health.interval":        e.Health.Interval,
		"health.docker_interval": e.Health.DockerInterval,
		"health.deadline":        e.Health.Deadline,
		"health.start_period":    e.Health.StartPeriod,
	}
	if w := e.Watch; w != nil {
		if w.Duration == "" {
			return fieldErr(prefix+".watch.duration", "missing: how long to watch the error rate after the switch, like \"60s\"")
		}
		durations["watch.duration"] = w.Duration
		if w.MaxErrorRate == nil {
			return fieldErr(prefix+".watch.max_error_rate", "missing: the share of requests that may fail, like 0.05 for 5%%")
		}
		if r := *w.MaxErrorRate; r < 0 || r >= 1 {
			return fieldErr(prefix+".watch.max_error_rate", "%v is not a fraction from 0 up to 1 (0.05 is 5%%)", r)
		}
		if w.MinRequests < 0 {
			return fieldErr(prefix+".watch.min_requests", "must not be negative")
		}
	}
	for key, v := range durations {
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fieldErr(prefix+"."+key, "%q is not a duration like \"30s\"", v)
		}
		if (key == "health.interval" || key == "health.docker_interval") && d < time.Millisecond {
			// docker refuses a shorter health check interval; a release
			// would poll without pause.
			return fieldErr(prefix+"."+key, "%q is too short: at least \"1ms\", usually seconds", v)
		}
		if e.Durations == nil {
			e.Durations = map[string]time.Duration{}
		}
		e.Durations[key] = d
	}
	for _, s := range e.Secrets {
		if !envName.MatchString(s) {
			return fieldErr(prefix+".secrets", "%q is not a valid variable name", s)
		}
	}
	return nil
}

// validateSmoke checks an environment's smoke checks; errors name the
// entry as health.smoke[N] (1-based) and point at its line.
func (d *Descriptor) validateSmoke(prefix string, checks []Smoke) error {
	for i, c := range checks {
		fail := func(field, format string, args ...any) error {
			return &badinput.Error{File: d.path, Line: d.smokeLine(prefix+".smoke", i, field),
				Field: fmt.Sprintf("%s.smoke[%d].%s", prefix, i+1, field), Err: fmt.Errorf(format, args...)}
		}
		switch {
		case c.Path == "":
			return fail("path", "missing: the page to ask, starting with /")
		case !strings.HasPrefix(c.Path, "/"):
			return fail("path", "%q must start with /", c.Path)
		case strings.IndexFunc(c.Path, notInRequestLine) >= 0:
			return fail("path", "%q holds a space or a control character; percent-encode it", c.Path)
		case c.Status != 0 && (c.Status < 100 || c.Status > 599):
			return fail("status", "%d is not an HTTP status (100-599)", c.Status)
		case strings.IndexFunc(c.Host, notInRequestLine) >= 0 || strings.Contains(c.Host, "/"):
			return fail("host", "%q is not a host name", c.Host)
		}
		for _, t := range []struct {
			field string
			texts Texts
		}{{"contains", c.Contains}, {"not_contains", c.NotContains}} {
			// An empty text is in every body: always true, or never.
			if t.texts != nil && (len(t.texts) == 0 || slices.Contains(t.texts, "")) {
				return fail(t.field, "empty: give the text to look for in the body")
			}
		}
	}
	return nil
}

func notInRequestLine(r rune) bool { return r <= ' ' || r == 0x7f }

// smokeLine is the line of field in the i-th [[KEY]] table of an array of
// tables (its header when the field is not written), or the line of KEY
// when the array is written inline.
func (d *Descriptor) smokeLine(key string, i int, field string) int {
	want := strings.Join(splitKey(key), "\x00")
	n, header := -1, 0
	for no, raw := range strings.Split(string(d.data), "\n") {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "[") {
			if header > 0 {
				break // the entry ended without the field
			}
			end := strings.LastIndex(line, "]")
			if strings.HasPrefix(line, "[[") && end > 0 && strings.Join(splitKey(strings.Trim(line[:end+1], "[]")), "\x00") == want {
				if n++; n == i {
					header = no + 1
				}
			}
			continue
		}
		if lhs, _, ok := strings.Cut(line, "="); ok && header > 0 && !strings.HasPrefix(line, "#") && strings.TrimSpace(lhs) == field {
			return no + 1
		}
	}
	if header > 0 {
		return header
	}
	return d.Line(key)
}

// ignoredKey reports keys the project descriptor spec leaves to others:
// [_.metadata] is free-form, other io.* namespaces belong to other tools,
// and pack's own [io.buildpacks] keys do not apply to phpbuild.
func ignoredKey(k toml.Key) bool {
	switch {
	case len(k) >= 2 && k[0] == "_" && k[1] == "metadata":
		return true
	case len(k) >= 2 && k[0] == "io" && k[1] != "buildpacks":
		return true
	case len(k) >= 3 && k[0] == "io" && k[1] == "buildpacks":
		switch k[2] {
		case "builder", "group", "pre", "post":
			return true
		}
	}
	return false
}

// typeErr is BurntSushi/toml's type mismatch, which is a plain error
// rather than a ParseError.
var typeErr = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): incompatible types: TOML value has type (\S+); destination has type (\S+)`)

// goKind names a Go kind or TOML type in words.
// lineKeyErr is any other BurntSushi/toml decode error that names a line
// and key only inside its message.
var lineKeyErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// goTypeNames are Go type names in those messages, put into words.
var goTypeNames = regexp.MustCompile(`project\.[A-Z]\w*|\[\]interface \{\}|\[\]any|map\[string\]interface \{\}|map\[string\]any|int64|float64`)

func goKind(k string) string {
	switch {
	case k == "slice" || k == "array" || strings.HasPrefix(k, "[]"):
		return "a list"
	case k == "string":
		return "a string"
	case strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") || k == "integer":
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "bool":
		return "a boolean"
	case k == "struct" || strings.HasPrefix(k, "map") || strings.HasPrefix(k, "project."):
		return "a table"
	case strings.Contains(k, "time") || strings.Contains(k, "date"):
		return "a date"
	}
	return k
}

var (
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	extName   = regexp.MustCompile(`^[a-z0-9_]+$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// serviceName is what Volt's parser reads as an identifier before a dot.
	serviceName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	minorRE     = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

// relPath accepts paths inside the app: relative, slash-separated, no "..".
func relPath(p string) error {
	if p == "" {
		return nil
	}
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return fmt.Errorf("must be relative to the app directory")
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("must stay inside the app directory")
	}
	return nil
}

// flattenINI turns nested tables (from bare dotted keys) into "a.b" names.
func flattenINI(prefix string, m map[string]any) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			out[name] = v
		case int64:
			out[name] = fmt.Sprint(v)
		case float64:
			out[name] = fmt.Sprint(v)
		case bool:
			// php.ini reads On/Off; TOML booleans are the natural way to write them.
			if v {
				out[name] = "On"
			} else {
				out[name] = "Off"
			}
		case map[string]any:
			sub, err := flattenINI(name, v)
			if err != nil {
				return nil, err
			}
			for sk, sv := range sub {
				out[sk] = sv
			}
		default:
			return nil, fmt.Errorf("%s: want a string, number or boolean, not %T", name, v)
		}
	}
	return out, nil
}

// lineOf finds the line that defines key, so an unknown or invalid key can be
// pointed at; BurntSushi/toml keeps key positions private. When key itself
// is not written (a missing field), the line of its nearest written parent
// table is returned. 0 when not found.
func lineOf(data []byte, key toml.Key) int {
	if len(key) == 0 {
		return 0
	}
	want := strings.Join(key, "\x00")
	var table []string
	best, bestDepth := 0, 0
	for i, raw := range strings.Split(string(data), "\n") {
		line := strings.TrimSpace(raw)
		var full []string
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			end := strings.LastIndex(line, "]")
			if end < 0 {
				continue
			}
			table = splitKey(strings.Trim(line[:end+1], "[]"))
			full = table
		default:
			lhs, _, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			full = append(append([]string{}, table...), splitKey(lhs)...)
		}
		got := strings.Join(full, "\x00")
		if got == want {
			return i + 1
		}
		// Remember the deepest written parent table of key.
		if strings.HasPrefix(line, "[") && strings.HasPrefix(want, got+"\x00") && len(full) > bestDepth {
			best, bestDepth = i+1, len(full)
		}
	}
	return best
}

// splitKey splits a TOML dotted key (a."b.c".d) into its parts.
func splitKey(s string) []string {
	var parts []string
	var cur strings.Builder
	quote := byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.TrimSpace(cur.String()))
			cur.Reset()
		case c == ' ' || c == '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.TrimSpace(cur.String()))
}
