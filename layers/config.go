package layers

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/runtimes"
)

// ConfigDir is where the config layer puts the launcher's templates; the
// launcher reads it from PHPBUILD_CONFIG_DIR, whose default it is.
const ConfigDir = "/etc/phpbuild"

// HealthScript answers the built-in health route.
const HealthScript = ConfigDir + "/health.php"

// File is one file a layer puts into the image.
type File struct {
	Path string // absolute in the image
	Mode int64
	Data []byte
}

// configDefaults are phpbuild's values where project.toml sets none and the
// value feeds more than one file or a conversion; the rest are literal in
// the templates. Both are digested into ConfigSettings.Recipe.
var configDefaults = struct {
	Port              string `json:"port"`
	MemoryLimit       string `json:"memoryLimit"`
	ClientMaxBodySize string `json:"clientMaxBodySize"`
	StaticMaxAge      string `json:"staticMaxAge"`
	FrontController   string `json:"frontController"`
}{
	Port:              "8080",
	MemoryLimit:       "128M",
	ClientMaxBodySize: "16m",
	StaticMaxAge:      "30d",
	FrontController:   "index.php",
}

// The templates are rendered at build time with [[ ]] delimiters, so the
// launcher's {{PORT}}, {{FPM_MAX_CHILDREN}} and {{RUN_DIR}} pass through to
// be filled in at container start.
//
//go:embed templates/*
var templateFS embed.FS

var configTemplates = template.Must(template.New("config").Delims("[[", "]]").Option("missingkey=error").ParseFS(templateFS, "templates/*"))

// configOutputs maps each template to where its output goes in the image;
// the php.ini settings apply to php-fpm and the CLI alike.
func configOutputs(phpMinor string) map[string][]string {
	return map[string][]string{
		"nginx.conf.tmpl":   {ConfigDir + "/nginx.conf.tmpl"},
		"php-fpm.conf.tmpl": {ConfigDir + "/php-fpm.conf.tmpl"},
		"health.php":        {HealthScript},
		"90-phpbuild.ini": {
			"/etc/php/" + phpMinor + "/fpm/conf.d/90-phpbuild.ini",
			"/etc/php/" + phpMinor + "/cli/conf.d/90-phpbuild.ini",
		},
	}
}

// configRecipe digests the templates and defaults: a phpbuild release that
// changes either must not reuse config layers an older one produced.
var configRecipe = sync.OnceValue(func() string {
	h := sha256.New()
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		panic(err) // embedded; cannot fail
	}
	for _, e := range entries { // sorted by name
		b, err := fs.ReadFile(templateFS, "templates/"+e.Name())
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", e.Name(), len(b))
		h.Write(b)
	}
	d, _ := json.Marshal(configDefaults)
	h.Write(d)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
})

// launcherPlaceholders are the only {{...}} the launcher fills in; any other
// would make it refuse to start.
var launcherPlaceholders = []string{"{{PORT}}", "{{FPM_MAX_CHILDREN}}", "{{RUN_DIR}}"}

// Files renders the configuration, sorted by path. Owners are the caller's
// to set: root, so the app user cannot change its own config.
func (c *Config) Files() ([]File, error) {
	s := c.Settings
	if s.Recipe != configRecipe() {
		return nil, fmt.Errorf("config settings were made for other templates (recipe %q, this phpbuild has %q): make them with NewConfig", s.Recipe, configRecipe())
	}
	if !phpMinorRE.MatchString(s.PHPMinor) {
		return nil, fmt.Errorf("config settings: PHP minor %q is not like 8.2", s.PHPMinor)
	}
	v, err := newConfigView(s)
	if err != nil {
		return nil, err
	}
	var files []File
	for name, paths := range configOutputs(s.PHPMinor) {
		var b bytes.Buffer
		if err := configTemplates.ExecuteTemplate(&b, name, v); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", name, err)
		}
		if strings.HasSuffix(name, ".tmpl") {
			if err := checkPlaceholders(name, b.Bytes()); err != nil {
				return nil, err
			}
		}
		for _, p := range paths {
			files = append(files, File{Path: p, Mode: 0o644, Data: bytes.Clone(b.Bytes())})
		}
	}
	if len(s.Processes) > 0 {
		files = append(files, File{Path: ConfigDir + "/" + processes.FileName, Mode: 0o644, Data: bytes.Clone(s.Processes)})
	}
	if len(s.Writable) > 0 {
		var b strings.Builder
		for _, d := range s.Writable {
			b.WriteString(path.Join(s.AppPath, d) + "\n")
		}
		files = append(files, File{Path: ConfigDir + "/" + WritableFile, Mode: 0o644, Data: []byte(b.String())})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// WritableFile, in ConfigDir, lists the writable dirs as the image has
// them, one absolute path a line, parents first; the launcher reads it
// under this name.
const WritableFile = "writable.dirs"

// writableTree is each writable dir with the dirs under it that hold
// files, sorted so that a parent comes before its children.
func writableTree(writable, files []string) []string {
	seen := map[string]bool{}
	for _, w := range writable {
		seen[w] = true
		for _, f := range files {
			if !strings.HasPrefix(f, w+"/") {
				continue
			}
			for d := path.Dir(f); d != w && !seen[d]; d = path.Dir(d) {
				seen[d] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Env is the image environment the configuration relies on, sorted.
// memory_limit and a pinned pm.max_children reach PHP through it, so the
// launcher sizes the pool with the numbers PHP really uses, and a deployer
// can still override them with docker run -e.
func (c *Config) Env() []string {
	limit := c.Settings.INI["memory_limit"]
	if limit == "" {
		limit = configDefaults.MemoryLimit
	}
	env := []string{
		"PORT=" + configDefaults.Port,
		"PHP_MEMORY_LIMIT=" + limit,
		"PHPBUILD_RUN_DIR=" + runtimes.RunDir,
	}
	if c.Settings.HealthPath != "" {
		// `launcher health`, the image's HEALTHCHECK, asks this route.
		env = append(env, "PHPBUILD_HEALTH_PATH="+c.Settings.HealthPath)
	}
	if n := c.Settings.FPM["pm.max_children"]; n != "" {
		env = append(env, "PHP_FPM_MAX_CHILDREN="+n)
	}
	sort.Strings(env)
	return env
}

func checkPlaceholders(name string, b []byte) error {
	rest := b
	for _, p := range launcherPlaceholders {
		rest = bytes.ReplaceAll(rest, []byte(p), nil)
	}
	if i := bytes.Index(rest, []byte("{{")); i >= 0 {
		end := min(len(rest), i+40)
		return fmt.Errorf("rendering %s: %q would reach the launcher, which fills in only %s", name, rest[i:end], strings.Join(launcherPlaceholders, ", "))
	}
	return nil
}

// configView is what the templates see: settings resolved against the
// defaults and converted to each program's syntax.
type configView struct {
	Root            string // the web root, absolute in the image
	FrontController string
	HealthPath      string
	HealthScript    string // "" when the app answers HealthPath itself
	// Denied are web-relative prefixes ("/uploads/") never served.
	Denied            []string
	ClientMaxBodySize string // nginx syntax
	PHPBodySize       string // the same size in php.ini syntax
	StaticMaxAge      int64  // seconds
	RealIPFrom        []string
	INI               *directives
	FPM               *directives
}

func newConfigView(s ConfigSettings) (*configView, error) {
	v := &configView{
		Root:            path.Join(s.AppPath, s.WebRoot),
		FrontController: s.FrontController,
		HealthPath:      s.HealthPath,
		HealthScript:    s.HealthScript,
		RealIPFrom:      s.RealIPFrom,
	}
	if !path.IsAbs(s.AppPath) {
		return nil, fmt.Errorf("config settings: app path %q is not absolute", s.AppPath)
	}
	if v.FrontController == "" {
		v.FrontController = configDefaults.FrontController
	}
	if !safePathRE.MatchString(v.FrontController) || !safePathRE.MatchString(s.WebRoot) {
		return nil, fmt.Errorf("config settings: web root %q or front controller %q has characters nginx config cannot hold", s.WebRoot, v.FrontController)
	}
	if s.HealthScript != "" {
		if !strings.HasPrefix(s.HealthPath, "/") {
			return nil, fmt.Errorf("config settings: health path %q does not start with /", s.HealthPath)
		}
		if err := checkSafePath("health path", strings.TrimPrefix(s.HealthPath, "/")); err != nil {
			return nil, err
		}
		if !path.IsAbs(s.HealthScript) || strings.ContainsAny(s.HealthScript, " ;{}\"'\n") {
			return nil, fmt.Errorf("config settings: health script %q is not a plain absolute path", s.HealthScript)
		}
	}
	// composer's vendor/ is denied where it is reachable: under a web root
	// that is the app root. Elsewhere /vendor/ is the app's own (Laravel
	// publishes assets to public/vendor/).
	denied, err := webDenied(s.WebRoot, append(slices.Clone(s.Denied), "vendor"))
	if err != nil {
		return nil, err
	}
	v.Denied = denied
	v.ClientMaxBodySize = s.Nginx["client_max_body_size"]
	if v.ClientMaxBodySize == "" {
		v.ClientMaxBodySize = configDefaults.ClientMaxBodySize
	}
	if v.PHPBodySize, err = phpSizeOf(v.ClientMaxBodySize); err != nil {
		return nil, fmt.Errorf("config settings: client_max_body_size: %w", err)
	}
	maxAge := s.Nginx["static_max_age"]
	if maxAge == "" {
		maxAge = configDefaults.StaticMaxAge
	}
	if v.StaticMaxAge, err = parseNginxTime(maxAge); err != nil {
		return nil, fmt.Errorf("config settings: static_max_age: %w", err)
	}
	for _, r := range s.RealIPFrom {
		if err := checkRealIPFrom(r); err != nil {
			return nil, fmt.Errorf("config settings: real_ip_from: %w", err)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Nginx)) {
		if k != "client_max_body_size" && k != "static_max_age" {
			return nil, fmt.Errorf("config settings: unknown nginx setting %q", k)
		}
	}
	ini := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(s.INI)) {
		val := s.INI[k]
		if err := checkINI(k, val); err != nil {
			return nil, fmt.Errorf("config settings: php.ini %s: %w", k, err)
		}
		// memory_limit reaches PHP through PHP_MEMORY_LIMIT: see Env.
		if k != "memory_limit" {
			ini[k] = val
		}
	}
	fpm := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(s.FPM)) {
		val := s.FPM[k]
		if err := checkFPM(k, val); err != nil {
			return nil, fmt.Errorf("config settings: php-fpm %s: %w", k, err)
		}
		// A pinned pool size reaches the launcher through
		// PHP_FPM_MAX_CHILDREN: see Env.
		if k != "pm.max_children" {
			fpm[k] = val
		}
	}
	v.INI = newDirectives(ini)
	v.FPM = newDirectives(fpm)
	return v, nil
}

// webDenied turns app-relative dirs into the web-relative prefixes nginx
// must refuse. Dirs outside the web root are unreachable anyway; a dir that
// is or holds the web root cannot be denied without denying the site.
func webDenied(webRoot string, dirs []string) ([]string, error) {
	webRoot = path.Clean(webRoot)
	var out []string
	for _, d := range dirs {
		if err := checkSafePath("denied dir", d); err != nil {
			return nil, err
		}
		d = path.Clean(d)
		var rel string
		switch {
		case webRoot == ".":
			rel = d
		case strings.HasPrefix(d, webRoot+"/"):
			rel = strings.TrimPrefix(d, webRoot+"/")
		default:
			continue
		}
		if rel == "." {
			continue
		}
		out = append(out, "/"+rel+"/")
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// directives renders "key = value" lines, a setting replacing the
// template's default so that no key is written twice.
type directives struct {
	set  map[string]string
	used map[string]bool
}

func newDirectives(set map[string]string) *directives {
	return &directives{set: set, used: map[string]bool{}}
}

// Line is key's line: the setting when there is one, else def.
func (d *directives) Line(key, def string) string {
	d.used[key] = true
	if v, ok := d.set[key]; ok {
		return key + " = " + v
	}
	return key + " = " + def
}

// Rest are the lines of the settings no Line call wrote, sorted by key.
func (d *directives) Rest() []string { return d.rest(func(string) bool { return true }) }

// Global and Pool split Rest between php-fpm's [global] section and the
// pool.
func (d *directives) Global() []string { return d.rest(isFPMGlobal) }
func (d *directives) Pool() []string {
	return d.rest(func(k string) bool { return !isFPMGlobal(k) })
}

func (d *directives) rest(keep func(string) bool) []string {
	var keys []string
	for k := range d.set {
		if !d.used[k] && keep(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		d.used[k] = true
		lines[i] = k + " = " + d.set[k]
	}
	return lines
}

// fpmGlobal are php-fpm's [global] directives; every other one is a pool's.
var fpmGlobal = []string{
	"pid", "error_log", "syslog.facility", "syslog.ident", "log_level", "log_limit", "log_buffering",
	"emergency_restart_threshold", "emergency_restart_interval", "process_control_timeout",
	"process.max", "process.priority", "daemonize", "rlimit_files", "rlimit_core",
	"events.mechanism", "systemd_interval",
}

func isFPMGlobal(k string) bool { return slices.Contains(fpmGlobal, k) }

// fpmFixed are the php-fpm directives the launcher and the nginx config
// rely on; a setting may not move them.
var fpmFixed = []string{"pid", "daemonize", "listen", "ping.path", "pm.status_path"}

var (
	phpMinorRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	// iniKeyRE is what php.ini names look like; anything else could not be
	// written as one line of it.
	iniKeyRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)
	fpmKeyRE = regexp.MustCompile(`^[a-z0-9_.\[\]]+$`)
	// safePathRE keeps paths that go into nginx config free of spaces,
	// quotes, semicolons, braces and regex or variable syntax.
	safePathRE = regexp.MustCompile(`^[A-Za-z0-9._@+~%-]+(/[A-Za-z0-9._@+~%-]+)*$`)
	// phpSizeRE is memory_limit's syntax, as the launcher reads it.
	phpSizeRE   = regexp.MustCompile(`^(-1|[0-9]+[KMGkmg]?)$`)
	nginxSizeRE = regexp.MustCompile(`^([0-9]{1,12})([kKmMgG]?)$`)
	// fpmTimeRE is php-fpm's duration syntax: seconds, or a number with s,
	// m, h or d.
	fpmTimeRE = regexp.MustCompile(`^[0-9]{1,9}[smhd]?$`)
)

func checkINI(key, value string) error {
	if !iniKeyRE.MatchString(key) {
		return fmt.Errorf("%q is not a php.ini name", key)
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return errors.New("a value must be one line")
	}
	if key == "memory_limit" && !phpSizeRE.MatchString(value) {
		return fmt.Errorf("%q is not a size like 128M, 1G or -1", value)
	}
	return nil
}

func checkFPM(key, value string) error {
	if !fpmKeyRE.MatchString(key) {
		return fmt.Errorf("%q is not a php-fpm directive name", key)
	}
	if slices.Contains(fpmFixed, key) {
		return fmt.Errorf("%s is fixed: the launcher relies on it", key)
	}
	if strings.ContainsAny(value, "\r\n\x00") || strings.Contains(value, "{{") {
		return errors.New("a value must be one line without {{")
	}
	if key == "pm.max_children" {
		if n, err := strconv.Atoi(value); err != nil || n < 1 {
			return fmt.Errorf("%q is not a positive number", value)
		}
	}
	return nil
}

func checkSafePath(what, p string) error {
	if !safePathRE.MatchString(p) {
		return fmt.Errorf("%s %q: only letters, digits and . _ - @ + ~ %% between slashes can go into the nginx config", what, p)
	}
	return nil
}

// checkRealIPFrom accepts what both set_real_ip_from and geo take: an
// address or a CIDR block.
func checkRealIPFrom(v string) error {
	if a, err := netip.ParseAddr(v); err == nil && a.Zone() == "" {
		return nil
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return nil
	}
	return fmt.Errorf("%q is not an IP address or CIDR block", v)
}

// phpSizeOf converts an nginx size (16m, 512k, 1g, bytes; 0 for no limit)
// to php.ini's, which also reads 0 as no limit for uploads and posts.
func phpSizeOf(nginx string) (string, error) {
	m := nginxSizeRE.FindStringSubmatch(nginx)
	if m == nil {
		return "", fmt.Errorf("%q is not a size like 16m, 512k or 1g", nginx)
	}
	return m[1] + strings.ToUpper(m[2]), nil
}

// nginxTimeUnits are nginx's time units, largest first, as ngx_parse_time
// requires them in that order.
var nginxTimeUnits = []timeUnit{
	{"y", 365 * 24 * 3600}, {"M", 30 * 24 * 3600}, {"w", 7 * 24 * 3600}, {"d", 24 * 3600}, {"h", 3600}, {"m", 60}, {"s", 1},
}

type timeUnit struct {
	unit    string
	seconds int64
}

var nginxTimePartRE = regexp.MustCompile(`^([0-9]+)([yMwdhms]?)`)

// parseNginxTime reads nginx's time syntax ("30d", "12h", "1y 6M", "3600")
// as whole seconds, for a Cache-Control max-age.
func parseNginxTime(v string) (int64, error) {
	bad := fmt.Errorf("%q is not a time like 30d, 12h, 1y or 3600 (seconds)", v)
	rest := strings.TrimSpace(v)
	if rest == "" {
		return 0, bad
	}
	var total int64
	next := 0 // index into nginxTimeUnits of the largest unit still allowed
	for rest != "" {
		m := nginxTimePartRE.FindStringSubmatch(rest)
		if m == nil {
			return 0, bad
		}
		rest = strings.TrimLeft(rest[len(m[0]):], " ")
		unit := m[2]
		if unit == "" {
			if rest != "" {
				return 0, bad // a bare number is seconds, and must come last
			}
			unit = "s"
		}
		i := slices.IndexFunc(nginxTimeUnits[next:], func(u timeUnit) bool { return u.unit == unit })
		if i < 0 {
			return 0, bad // a unit twice, or out of order
		}
		next += i + 1
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > (1<<31)/nginxTimeUnits[next-1].seconds {
			return 0, fmt.Errorf("%q is too long for a max-age", v)
		}
		total += n * nginxTimeUnits[next-1].seconds
	}
	if total > 1<<31 {
		return 0, fmt.Errorf("%q is too long for a max-age", v)
	}
	return total, nil
}
