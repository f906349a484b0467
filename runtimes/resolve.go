package runtimes

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/constraint"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/project"
)

// ErrUnsatisfiable is wrapped by the error of a resolution that found no
// runtime meeting every constraint.
var ErrUnsatisfiable = errors.New("no runtime satisfies every constraint")

// Runtime is the resolved runtime an app builds on and runs in.
type Runtime struct {
	PHPMinor string `json:"phpMinor"`
	// PHP is the exact version when known, else the minor.
	PHP        string   `json:"php"`
	Phalcon    string   `json:"phalcon,omitempty"`
	Extensions []string `json:"extensions"`
	Base       string   `json:"base"`
	Suite      string   `json:"suite,omitempty"`
	AptSource  string   `json:"aptSource,omitempty"`
	// FromSource are the extensions compiled from project.toml [php.sources].
	FromSource map[string]project.ExtensionSource `json:"fromSource,omitempty"`
	// Warnings are constraints resolution could not check.
	Warnings []string `json:"warnings,omitempty"`
	// RunImage, BuildImage and RunDigest are set when the runtime was found
	// built in a runtime repo; the catalog alone leaves them empty.
	RunImage   string `json:"runImage,omitempty"`
	BuildImage string `json:"buildImage,omitempty"`
	// ComposerImage runs the vendor, volt and app steps: the build image
	// for runtimes recorded before composer images existed.
	ComposerImage string `json:"composerImage,omitempty"`
	// CLIImage runs composer's install and autoloader dump: PHP's CLI and
	// composer on the base image, told the composer image's platform
	// (Platform, PlatformHidden); empty for runtimes recorded before CLI
	// images existed, which run composer on the composer image.
	CLIImage string `json:"cliImage,omitempty"`
	// NodeImage runs the assets step: the CLI image plus node and npm;
	// empty for runtimes recorded before node images existed, which run
	// it on the build image.
	NodeImage      string            `json:"nodeImage,omitempty"`
	Platform       map[string]string `json:"-"`
	PlatformHidden []string          `json:"-"`
	RunDigest      string            `json:"-"`
	// RunManifest and RunConfig are the run image's, as the runtime
	// manifest embeds them (see Entry); nil when it does not.
	RunManifest []byte `json:"-"`
	RunConfig   []byte `json:"-"`
	// SBOM is the run image's SBOM blob, repo@digest; "" for runtimes
	// recorded before phpbuild made SBOMs.
	SBOM string `json:"-"`
	// Others are the run images for other platforms, repo@digest, with
	// their SBOMs: an app build makes an image index of all of them, with
	// RunImage as Native's.
	Others []PlatformRun `json:"others,omitempty"`
	Native string        `json:"-"`
}

// ConflictError is a resolution that found no runtime. Its first line names
// the file to fix; the rest lists every constraint and what the catalog has.
type ConflictError struct {
	Summary *badinput.Error
	Details []string
}

func (e *ConflictError) Error() string {
	if len(e.Details) == 0 {
		return e.Summary.Error()
	}
	return e.Summary.Error() + "\n  " + strings.Join(e.Details, "\n  ")
}

func (e *ConflictError) Unwrap() error { return e.Summary }

// requirement is one parsed platform constraint.
type requirement struct {
	detect.PlatformReq
	c *constraint.Constraint
}

func (r requirement) where() string {
	s := r.File
	if r.Line > 0 {
		s += fmt.Sprintf(":%d", r.Line)
	}
	if r.Field != "" {
		s += " " + r.Field
	}
	return s
}

// extensionAliases are composer's names for extensions whose PHP name differs.
var extensionAliases = map[string]string{
	"zend-opcache": "opcache",
	"zendopcache":  "opcache",
	"pdo-mysql":    "pdo_mysql",
	"pdo-pgsql":    "pdo_pgsql",
	"pdo-sqlite":   "pdo_sqlite",
}

func extName(req string) string {
	name := strings.ToLower(strings.TrimPrefix(req, "ext-"))
	if alias, ok := extensionAliases[name]; ok {
		return alias
	}
	return name
}

// Resolve picks the newest PHP minor of cat that satisfies every constraint
// of app, then the newest Phalcon for it when the app uses Phalcon.
func Resolve(app *detect.App, cat *Catalog) (*Runtime, error) {
	rt, _, err := resolve(app, cat)
	return rt, err
}

// resolve is Resolve that also returns the parsed constraints, which
// ResolveBuilt checks against exact built versions.
func resolve(app *detect.App, cat *Catalog) (*Runtime, []requirement, error) {
	cat, err := cat.WithProject(app.Project)
	if err != nil {
		return nil, nil, app.Project.FieldError("php.minors", "%v", err)
	}
	reqs, err := requirements(app)
	if err != nil {
		return nil, nil, err
	}
	var php []requirement
	exts := map[string][]requirement{}
	for _, r := range reqs {
		if r.Name == "php" {
			php = append(php, r)
			continue
		}
		name := extName(r.Name)
		exts[name] = append(exts[name], r)
	}
	wantPhalcon := app.Phalcon.Used || len(exts["phalcon"]) > 0
	phalconReqs := exts["phalcon"]
	delete(exts, "phalcon")
	sources := app.Project.PHP.Sources

	var rejected []string
	var blames []requirement
	for _, m := range cat.PHP {
		var blame requirement
		rt, why := tryMinor(cat, m, php, exts, wantPhalcon, phalconReqs, sources, &blame)
		if why != "" {
			rejected = append(rejected, "PHP "+m.Minor+": "+why)
			blames = append(blames, blame)
			continue
		}
		rt.Extensions = extensionSet(cat, app.Project.PHP.Extensions, exts, rt.Extensions)
		for name := range exts {
			if _, ok := sources[name]; ok {
				if rt.FromSource == nil {
					rt.FromSource = map[string]project.ExtensionSource{}
				}
				rt.FromSource[name] = sources[name]
			}
		}
		return rt, reqs, nil
	}
	return nil, nil, conflict(cat, php, exts, phalconReqs, rejected, blames)
}

// requirements gathers project.toml's overrides and composer's constraints,
// parsed; a constraint that does not parse names its file and line.
func requirements(app *detect.App) ([]requirement, error) {
	var raw []detect.PlatformReq
	pt := app.Project.Path()
	if v := app.Project.PHP.Version; v != "" {
		raw = append(raw, detect.PlatformReq{Name: "php", Constraint: v, File: pt, Line: app.Project.Line("php.version"), Field: "php.version"})
	}
	if v := app.Project.Phalcon.Version; v != "" {
		raw = append(raw, detect.PlatformReq{Name: "ext-phalcon", Constraint: v, File: pt, Line: app.Project.Line("phalcon.version"), Field: "phalcon.version"})
	}
	if app.Composer != nil {
		raw = append(raw, app.Composer.Platform...)
	}
	out := make([]requirement, 0, len(raw))
	for _, r := range raw {
		c, err := constraint.Parse(r.Constraint)
		if err != nil {
			return nil, &badinput.Error{File: r.File, Line: r.Line, Field: r.Field, Err: err}
		}
		out = append(out, requirement{PlatformReq: r, c: c})
	}
	for _, e := range app.Project.PHP.Extensions {
		name := extName(e)
		if name == "" {
			return nil, app.Project.FieldError("php.extensions", "empty extension name")
		}
		c, _ := constraint.Parse("*")
		out = append(out, requirement{PlatformReq: detect.PlatformReq{Name: "ext-" + name, Constraint: "*", File: pt, Line: app.Project.Line("php.extensions"), Field: "php.extensions"}, c: c})
	}
	return out, nil
}

// allows reports whether minor m can satisfy c: by its exact version when a
// built runtime told us, else by any patch of the minor.
func (m Minor) allows(c *constraint.Constraint) bool {
	if m.Version != "" {
		return c.Check(semver.MustParse(m.Version))
	}
	return c.AllowsMinor(m.major, m.minor)
}

// tryMinor returns the runtime minor m gives, or why m does not fit.
func tryMinor(cat *Catalog, m Minor, php []requirement, exts map[string][]requirement, wantPhalcon bool, phalconReqs []requirement, sources map[string]project.ExtensionSource, blame *requirement) (*Runtime, string) {
	for _, r := range php {
		if !m.allows(r.c) {
			*blame = r
			return nil, fmt.Sprintf("excluded by %q (%s)", r.Constraint, r.where())
		}
	}
	rt := &Runtime{PHPMinor: m.Minor, PHP: m.Minor, Base: m.Base, Suite: m.Suite, AptSource: m.AptSource}
	if m.Version != "" {
		rt.PHP = m.Version
	}
	names := make([]string, 0, len(exts))
	for name := range exts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := sources[name]; ok {
			continue // compiled from source; its version is checked when built
		}
		ok, builtin := cat.extensionProvided(m, name)
		if !ok {
			r := exts[name][0]
			*blame = r
			return nil, fmt.Sprintf("no package ships ext-%s (%s); build it from source with [php.sources.%s] in project.toml", name, r.where(), name)
		}
		for _, r := range exts[name] {
			if builtin || cat.bundled(name) {
				// Bundled extensions report PHP's own version to composer.
				if !m.allows(r.c) {
					*blame = r
					return nil, fmt.Sprintf("ext-%s is PHP %s's own, excluded by %q (%s)", name, m.Minor, r.Constraint, r.where())
				}
			} else if r.Constraint != "*" && r.Constraint != "" {
				rt.Warnings = append(rt.Warnings, fmt.Sprintf("ext-%s %q (%s) is not checked: the runtime has the version Debian ships for PHP %s", name, r.Constraint, r.where(), m.Minor))
			}
		}
	}
	if !wantPhalcon {
		return rt, ""
	}
	v, line := newestPhalcon(cat, m, phalconReqs)
	if v == nil {
		if len(phalconReqs) == 0 {
			return nil, "no Phalcon release supports it"
		}
		var cs []string
		for _, r := range phalconReqs {
			cs = append(cs, fmt.Sprintf("%q (%s)", r.Constraint, r.where()))
		}
		*blame = phalconReqs[0]
		return nil, "no Phalcon release for it satisfies " + strings.Join(cs, " and ")
	}
	rt.Phalcon = v.Original()
	rt.Extensions = append(rt.Extensions, "phalcon")
	for _, dep := range line.Requires {
		if _, ok := sources[dep]; !ok {
			if ok, _ := cat.extensionProvided(m, dep); !ok {
				return nil, fmt.Sprintf("Phalcon %s needs ext-%s, which no package ships; build it from source with [php.sources.%s] in project.toml", v, dep, dep)
			}
		}
		rt.Extensions = append(rt.Extensions, dep)
	}
	return rt, ""
}

// bundled reports extensions that are part of php-src, so their version
// is PHP's; the catalog marks the others pecl.
func (c *Catalog) bundled(name string) bool {
	if e, ok := c.Extensions[name]; ok {
		return !e.PECL
	}
	for _, e := range c.Extensions {
		if slices.Contains(e.Also, name) {
			return !e.PECL
		}
	}
	return false // phalcon, psr and extensions from source
}

func newestPhalcon(cat *Catalog, m Minor, reqs []requirement) (*semver.Version, *PhalconLine) {
	var best *semver.Version
	var bestLine *PhalconLine
	for i := range cat.Phalcon {
		l := &cat.Phalcon[i]
		if !m.allows(l.php) {
			continue
		}
	next:
		for _, v := range l.versions {
			for _, r := range reqs {
				if !r.c.Check(v) {
					continue next
				}
			}
			if best == nil || v.GreaterThan(best) {
				best, bestLine = v, l
			}
		}
	}
	return best, bestLine
}

// extensionSet is the sorted set of loadable extensions of a runtime: the
// defaults, what the app asks for (by the name of the package's main
// extension), and what resolution added.
func extensionSet(cat *Catalog, extra []string, exts map[string][]requirement, added []string) []string {
	set := map[string]bool{}
	for _, e := range cat.DefaultExtensions {
		set[e] = true
	}
	for _, e := range added {
		set[e] = true
	}
	add := func(name string) {
		for _, b := range cat.Builtin {
			if b == name {
				return
			}
		}
		for main, e := range cat.Extensions {
			for _, also := range e.Also {
				if also == name {
					set[main] = true
					return
				}
			}
		}
		set[name] = true
	}
	for name := range exts {
		add(name)
	}
	for _, e := range extra {
		add(extName(e))
	}
	out := make([]string, 0, len(set))
	for e := range set {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// conflict explains a failed resolution, blaming the single constraint that
// excludes every offered minor when there is one.
func conflict(cat *Catalog, php []requirement, exts map[string][]requirement, phalcon []requirement, rejected []string, blames []requirement) error {
	var details []string
	list := func(title string, rs []requirement) {
		if len(rs) == 0 {
			return
		}
		details = append(details, title+":")
		for _, r := range rs {
			pkg := ""
			if r.Package != "" {
				pkg = " (package " + r.Package + ")"
			}
			details = append(details, fmt.Sprintf("  %-14q %s%s", r.Constraint, r.where(), pkg))
		}
	}
	list("constraints on php", php)
	list("constraints on ext-phalcon", phalcon)
	details = append(details, rejected...)
	details = append(details, "the catalog offers "+cat.Offers()+phalconOffer(cat))

	summary := &badinput.Error{Err: fmt.Errorf("%w; the catalog offers %s", ErrUnsatisfiable, cat.Offers())}
	// One constraint that rejected every minor is the one to fix.
	if len(blames) > 0 && blames[0].File != "" {
		same := true
		for _, b := range blames[1:] {
			if b.File != blames[0].File || b.Line != blames[0].Line || b.Field != blames[0].Field {
				same = false
			}
		}
		if same && blames[0].Name != "php" {
			b := blames[0]
			summary = &badinput.Error{File: b.File, Line: b.Line, Field: b.Field, Err: fmt.Errorf("%w: %s %q fits none of the catalog's %s", ErrUnsatisfiable, b.Name, b.Constraint, cat.Offers())}
			return &ConflictError{Summary: summary, Details: details}
		}
	}
	for _, r := range php {
		excludesAll := true
		for _, m := range cat.PHP {
			if m.allows(r.c) {
				excludesAll = false
				break
			}
		}
		if excludesAll {
			summary = &badinput.Error{File: r.File, Line: r.Line, Field: r.Field, Err: fmt.Errorf("%w: %q matches none of the catalog's %s", ErrUnsatisfiable, r.Constraint, cat.Offers())}
			return &ConflictError{Summary: summary, Details: details}
		}
	}
	// Otherwise blame the first constraint written by the app itself.
	all := append(append([]requirement{}, php...), phalcon...)
	names := make([]string, 0, len(exts))
	for name := range exts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		all = append(all, exts[name]...)
	}
	for _, r := range all {
		if r.Package == "" {
			summary.File, summary.Line, summary.Field = r.File, r.Line, r.Field
			break
		}
	}
	if summary.File == "" && len(all) > 0 {
		summary.File, summary.Line, summary.Field = all[0].File, all[0].Line, all[0].Field
	}
	return &ConflictError{Summary: summary, Details: details}
}

func phalconOffer(cat *Catalog) string {
	var s []string
	for _, l := range cat.Phalcon {
		if len(l.Versions) == 0 {
			continue
		}
		s = append(s, fmt.Sprintf("%s–%s for PHP %s", l.Versions[0], l.Versions[len(l.Versions)-1], l.PHP))
	}
	if len(s) == 0 {
		return ""
	}
	return "; Phalcon " + strings.Join(s, ", ")
}

// ResolveBuilt resolves app against the runtimes built in repo (entries, as
// ReadManifest returns them): the newest recorded PHP that satisfies every
// constraint and has every extension the app needs. When none does, the
// error names the `phpbuild runtime build` command that would make one.
func ResolveBuilt(app *detect.App, cat *Catalog, repo string, entries []Entry) (*Runtime, error) {
	want, reqs, err := resolve(app, cat)
	if err != nil {
		return nil, err
	}
	wantPhalcon := want.Phalcon != ""
	var best *Entry
	for i := range entries {
		e := &entries[i]
		if !entrySatisfies(e, reqs, want, wantPhalcon) {
			continue
		}
		// Entries come newest PHP first; among equals, one without an
		// unneeded Phalcon is leaner, and the last built has the newest
		// launcher and base.
		if best == nil || betterEntry(e, best, wantPhalcon) {
			best = e
		}
	}
	if best == nil {
		// A runtime of the right minor that a patch-level constraint rejects
		// cannot be fixed by building again: Debian decides the patch.
		for i := range entries {
			e := &entries[i]
			if e.PHPMinor != want.PHPMinor {
				continue
			}
			php, err := semver.StrictNewVersion(e.PHP)
			if err != nil {
				continue
			}
			for _, r := range reqs {
				if r.Name == "php" && !r.c.Check(php) {
					return nil, &badinput.Error{File: r.File, Line: r.Line, Field: r.Field, Err: fmt.Errorf("%w: %q excludes PHP %s, the %s that %s has; Debian ships that patch, so relax the constraint to the minor",
						ErrNoBuiltRuntime, r.Constraint, e.PHP, e.PHPMinor, repo)}
				}
			}
		}
		return nil, &badinput.Error{Err: fmt.Errorf("%w: %s has none with PHP %s%s and extensions %s; build one with:\n  %s",
			ErrNoBuiltRuntime, repo, want.PHPMinor, phalconWords(want.Phalcon), strings.Join(want.Extensions, " "), buildCommand(cat, want, repo))}
	}
	rt := *want
	rt.PHP, rt.PHPMinor, rt.Phalcon, rt.Base = best.PHP, best.PHPMinor, best.Phalcon, best.Base
	rt.RunImage = repo + "@" + best.Run
	rt.BuildImage = repo + "@" + best.Build
	rt.ComposerImage = rt.BuildImage
	if best.Composer != "" {
		rt.ComposerImage = repo + "@" + best.Composer
	}
	if best.CLI != "" && best.Platform != nil {
		rt.CLIImage = repo + "@" + best.CLI
		rt.Platform, rt.PlatformHidden = best.Platform, best.PlatformHidden
	}
	if best.Node != "" {
		rt.NodeImage = repo + "@" + best.Node
	}
	rt.RunDigest = best.Run
	rt.RunManifest, rt.RunConfig = best.RunManifest, best.RunConfig
	if best.SBOM != "" {
		rt.SBOM = repo + "@" + best.SBOM
	}
	rt.Native = best.NativePlatform()
	for _, p := range best.Platforms {
		o := PlatformRun{Platform: p.Platform, Run: repo + "@" + p.Run}
		if p.SBOM != "" {
			o.SBOM = repo + "@" + p.SBOM
		}
		rt.Others = append(rt.Others, o)
	}
	return &rt, nil
}

// ErrNoBuiltRuntime: the runtime repo has no runtime for the app yet.
var ErrNoBuiltRuntime = errors.New("no built runtime satisfies the app")

// betterEntry prefers, among runtimes of one PHP minor, the one without an
// unneeded Phalcon, then the newer PHP patch, then the later build.
func betterEntry(e, best *Entry, wantPhalcon bool) bool {
	if e.PHPMinor != best.PHPMinor {
		return false // the first minor found is the highest
	}
	if !wantPhalcon && (e.Phalcon == "") != (best.Phalcon == "") {
		return e.Phalcon == ""
	}
	ev, err1 := semver.StrictNewVersion(e.PHP)
	bv, err2 := semver.StrictNewVersion(best.PHP)
	if err1 == nil && err2 == nil && !ev.Equal(bv) {
		return ev.GreaterThan(bv)
	}
	return e.Built > best.Built // RFC 3339 UTC sorts as time does
}

func entrySatisfies(e *Entry, reqs []requirement, want *Runtime, wantPhalcon bool) bool {
	php, err := semver.StrictNewVersion(e.PHP)
	if err != nil {
		return false
	}
	have := map[string]bool{}
	for _, x := range e.Extensions {
		have[x] = true
	}
	for _, r := range reqs {
		switch {
		case r.Name == "php":
			if !r.c.Check(php) {
				return false
			}
		case extName(r.Name) == "phalcon":
			v, err := semver.NewVersion(e.Phalcon)
			if err != nil || !r.c.Check(v) {
				return false
			}
		}
	}
	if wantPhalcon && e.Phalcon == "" {
		return false
	}
	for _, x := range want.Extensions {
		if !have[x] {
			return false
		}
	}
	return true
}

func phalconWords(v string) string {
	if v == "" {
		return ""
	}
	return ", Phalcon " + v
}

// buildCommand is the runtime build that would satisfy want.
func buildCommand(cat *Catalog, want *Runtime, repo string) string {
	cmd := "phpbuild runtime build --php " + want.PHPMinor
	if want.Phalcon != "" {
		cmd += " --phalcon " + want.Phalcon
	}
	defaults := map[string]bool{"phalcon": true}
	for _, d := range cat.DefaultExtensions {
		defaults[d] = true
	}
	for _, x := range want.Extensions {
		if defaults[x] {
			continue
		}
		if src, ok := want.FromSource[x]; ok {
			s := src.Source
			if src.SHA256 != "" {
				s += "#sha256=" + src.SHA256
			}
			cmd += " --ext " + x + "@" + s
		} else {
			cmd += " --ext " + x
		}
	}
	return cmd + " --repo " + repo
}
