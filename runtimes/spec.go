package runtimes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/phpbuild/phpbuild/badinput"
)

// recipeVersion changes whenever the way runtime images are assembled
// changes, so that new phpbuild releases do not reuse old runtimes.
const recipeVersion = "phpbuild-runtime/2"

// BuildSpec is what `phpbuild runtime build` is asked for.
type BuildSpec struct {
	PHPMinor string
	// Phalcon is a catalog version; "" builds no Phalcon.
	Phalcon string
	// PhalconSource overrides the catalog's Phalcon source.
	PhalconSource ExtensionSource
	// Extensions are loaded besides the catalog defaults: a name alone is a
	// Debian package, a name with a Source is compiled from it.
	Extensions []ExtensionRequest
	// Refresh, when set, runs the apt steps of the run and CLI images
	// again (their BuildKit cache keys change with it) to pick up the
	// suite's security updates: the runtime gets a new key, and the same
	// PHP minor, Phalcon and extensions. Extensions compiled from source
	// are not compiled again. `runtime build --refresh` gives the date.
	Refresh string
	// Platforms are the platforms to make run images for besides the
	// native one (NativePlatform), e.g. "linux/arm64"; the base must be
	// an index that has them.
	Platforms []string
}

// ExtensionRequest is one --ext NAME[@SOURCE].
type ExtensionRequest struct {
	Name   string
	Source ExtensionSource
}

// ExtensionSource is where a PECL-style source comes from: a local tarball
// or directory holding config.m4, an https URL (SHA256 required), or an OCI
// reference ("oci://REF") whose single layer is the tarball.
type ExtensionSource struct {
	Location string
	SHA256   string
}

func (s ExtensionSource) String() string {
	if s.SHA256 == "" {
		return s.Location
	}
	return s.Location + "#sha256=" + s.SHA256
}

// ParseExtensionFlag reads NAME[@SOURCE] where SOURCE may end in
// "#sha256=HEX".
func ParseExtensionFlag(v string) (ExtensionRequest, error) {
	name, src, hasSrc := strings.Cut(v, "@")
	name = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(name), "ext-"))
	if !extNameRE(name) {
		return ExtensionRequest{}, fmt.Errorf("--ext %q: %q is not an extension name", v, name)
	}
	r := ExtensionRequest{Name: name}
	if !hasSrc {
		return r, nil
	}
	if src == "" {
		return ExtensionRequest{}, fmt.Errorf("--ext %q: empty source after @", v)
	}
	loc, frag, _ := strings.Cut(src, "#")
	r.Source.Location = loc
	if frag != "" {
		sum, ok := strings.CutPrefix(frag, "sha256=")
		if !ok || !isSHA256(sum) {
			return ExtensionRequest{}, fmt.Errorf("--ext %q: want #sha256=<64 hex digits> after the source", v)
		}
		r.Source.SHA256 = sum
	}
	if strings.HasPrefix(loc, "http://") {
		return ExtensionRequest{}, fmt.Errorf("--ext %q: plain http is not accepted; use https with #sha256=", v)
	}
	if strings.HasPrefix(loc, "https://") && r.Source.SHA256 == "" {
		return ExtensionRequest{}, fmt.Errorf("--ext %q: an https source needs #sha256=<hex> so the build is pinned", v)
	}
	return r, nil
}

func extNameRE(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// plan is a BuildSpec checked against the catalog: everything a runtime
// build needs, with nothing left to look up.
type plan struct {
	refresh string
	// platforms maps each other platform to its launcher's sha256.
	platforms map[string]string
	minor     Minor
	phalcon   string
	packages  []string // Debian packages of the run image
	compiled  []compiledExt
	// loaded are the extensions `php -m` must list afterwards.
	loaded []string
}

type compiledExt struct {
	name     string
	source   ExtensionSource
	priority int // conf.d order: after PDO (20), Phalcon after its deps
}

// ErrUnknownMinor is a --php the catalog does not offer.
var ErrUnknownMinor = errors.New("PHP minor not in the catalog")

// planBuild checks spec against cat.
func planBuild(cat *Catalog, spec BuildSpec) (*plan, error) {
	var m *Minor
	var offered []string
	for i := range cat.PHP {
		offered = append(offered, cat.PHP[i].Minor)
		if cat.PHP[i].Minor == spec.PHPMinor {
			m = &cat.PHP[i]
		}
	}
	if m == nil {
		return nil, &badinput.Error{Field: "--php", Err: fmt.Errorf("%w: %q; the catalog offers %s", ErrUnknownMinor, spec.PHPMinor, strings.Join(offered, ", "))}
	}
	p := &plan{minor: *m, refresh: spec.Refresh}
	loaded := map[string]bool{}
	pkgs := map[string]bool{
		"php" + m.Minor + "-cli": true, "php" + m.Minor + "-fpm": true, "nginx": true, "ca-certificates": true,
	}
	addPackage := func(ext string) bool {
		for main, e := range cat.Extensions {
			if slices.Contains(e.Also, ext) {
				ext = main // mysqli comes with pdo_mysql's package
			}
		}
		if e, ok := cat.Extensions[ext]; ok {
			pkgs[strings.ReplaceAll(e.Package, "{minor}", m.Minor)] = true
			loaded[ext] = true
			for _, also := range e.Also {
				loaded[also] = true
			}
			return true
		}
		return false
	}
	for _, e := range cat.DefaultExtensions {
		addPackage(e)
	}
	for _, r := range spec.Extensions {
		if r.Source.Location != "" {
			p.compiled = append(p.compiled, compiledExt{name: r.Name, source: r.Source, priority: 20})
			loaded[r.Name] = true
			continue
		}
		if ok, builtin := cat.extensionProvided(*m, r.Name); ok && builtin {
			loaded[r.Name] = true
			continue
		}
		if slices.Contains(m.Missing, r.Name) || !addPackage(r.Name) {
			return nil, &badinput.Error{Field: "--ext", Err: fmt.Errorf("no Debian package ships ext-%s for PHP %s; give its source: --ext %s@PATH|https://URL#sha256=HEX|oci://REF", r.Name, m.Minor, r.Name)}
		}
	}
	if spec.Phalcon != "" {
		v, err := semver.StrictNewVersion(spec.Phalcon)
		if err != nil {
			return nil, &badinput.Error{Field: "--phalcon", Err: fmt.Errorf("%q is not a Phalcon version like 5.9.3", spec.Phalcon)}
		}
		line := phalconLineOf(cat, v)
		if line == nil {
			return nil, &badinput.Error{Field: "--phalcon", Err: fmt.Errorf("version %s is not in the catalog; it offers Phalcon%s", spec.Phalcon, strings.TrimPrefix(phalconOffer(cat), "; Phalcon"))}
		}
		if !m.allows(line.php) {
			return nil, &badinput.Error{Field: "--phalcon", Err: fmt.Errorf("catalog: Phalcon %s supports PHP %s, not %s", spec.Phalcon, line.PHP, m.Minor)}
		}
		for _, dep := range line.Requires {
			if !loaded[dep] {
				return nil, &badinput.Error{Field: "--phalcon", Err: fmt.Errorf("catalog: Phalcon %s needs ext-%s; add --ext %s@SOURCE", spec.Phalcon, dep, dep)}
			}
		}
		src := spec.PhalconSource
		if src.Location == "" {
			return nil, &badinput.Error{Field: "--phalcon", Err: fmt.Errorf("no Phalcon source: set PHPBUILD_PHALCON_SOURCE or --phalcon-source to a PECL-style tarball of Phalcon %s (PATH, https://URL#sha256=HEX or oci://REF)", spec.Phalcon)}
		}
		p.phalcon = spec.Phalcon
		p.compiled = append(p.compiled, compiledExt{name: "phalcon", source: src, priority: 30})
		loaded["phalcon"] = true
	}
	for k := range pkgs {
		p.packages = append(p.packages, k)
	}
	sort.Strings(p.packages)
	for k := range loaded {
		p.loaded = append(p.loaded, k)
	}
	sort.Strings(p.loaded)
	sort.Slice(p.compiled, func(i, j int) bool { return p.compiled[i].name < p.compiled[j].name })
	return p, nil
}

func phalconLineOf(cat *Catalog, v *semver.Version) *PhalconLine {
	for i := range cat.Phalcon {
		for _, lv := range cat.Phalcon[i].versions {
			if lv.Equal(v) {
				return &cat.Phalcon[i]
			}
		}
	}
	return nil
}

// key digests every input of a runtime build: equal keys, identical images.
// recipe is the digest of the build's LLB definition, so any change to how
// images are assembled (a script, a package) makes a new runtime.
func (p *plan) key(baseDigest string, sources map[string]string, launcherSHA, recipe string) string {
	in := map[string]any{
		"llb":      recipe,
		"recipe":   recipeVersion,
		"base":     p.minor.Base,
		"baseDig":  baseDigest,
		"minor":    p.minor.Minor,
		"apt":      p.minor.AptSource,
		"packages": p.packages,
		"phalcon":  p.phalcon,
		"sources":  sources, // name -> sha256 of the fetched source
		"launcher": launcherSHA,
		"layers":   layerCompression,
	}
	if p.refresh != "" {
		in["refresh"] = p.refresh
	}
	if len(p.platforms) > 0 {
		in["platforms"] = p.platforms
	}
	b, _ := json.Marshal(in) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// fileSHA256 hashes a file, or every file of a directory tree by path and
// content, so a source given as a directory is pinned too.
func fileSHA256(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if !fi.IsDir() {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil)), nil
	}
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(path, p)
		var sub string
		if d.Type()&os.ModeSymlink != 0 {
			// A link is pinned by where it points; following it could loop.
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			sub = "symlink:" + target
		} else if d.Type().IsRegular() {
			if sub, err = fileSHA256(p); err != nil {
				return err
			}
		} else {
			return fmt.Errorf("%s: not a regular file, directory or symlink", p)
		}
		fmt.Fprintf(h, "%s\x00%s\x00", filepath.ToSlash(rel), sub)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
