package detect

import (
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Composer is what phpbuild reads from composer.json and composer.lock.
type Composer struct {
	// Require is composer.json "require", keys lower-cased.
	Require map[string]string `json:"require,omitempty"`
	// PlatformOverride is composer.json config.platform: the platform the lock
	// was resolved for.
	PlatformOverride map[string]string `json:"platformOverride,omitempty"`
	// PathRepos are the app-relative dirs of "path" repositories.
	PathRepos []string `json:"pathRepos,omitempty"`
	// Lock is nil when the app has no composer.lock.
	Lock *Lock `json:"lock,omitempty"`
	// Platform lists every php and ext-* requirement of composer.json and
	// composer.lock, each with where it was written.
	Platform []PlatformReq `json:"-"`
}

// PlatformReq is one constraint on the platform: PHP or an extension.
type PlatformReq struct {
	Name       string // "php" or "ext-NAME", lower-case
	Constraint string
	File       string // the file as found in the app dir
	Line       int
	Field      string // "require.php", "platform.ext-intl", "packages[acme/x].require.php"
	Package    string // the locked package that asks; "" for the app itself
}

// isPlatform reports whether a composer requirement is on the platform the
// runtime provides (not a package, not composer itself, not a C library).
func isPlatform(name string) bool {
	return name == "php" || name == "php-64bit" || strings.HasPrefix(name, "ext-")
}

// platformReqs collects the platform requirements of one object of a JSON
// document, remembering each one's line.
func platformReqs(doc *jsonDoc, obj *jsonValue, field, pkg string) []PlatformReq {
	if obj == nil || obj.kind != jsonObject {
		return nil
	}
	var out []PlatformReq
	for _, m := range obj.obj {
		name := strings.ToLower(m.key)
		if !isPlatform(name) || m.val.kind != jsonString {
			continue
		}
		if name == "php-64bit" {
			name = "php"
		}
		out = append(out, PlatformReq{Name: name, Constraint: m.val.str, File: doc.file, Line: m.val.line, Field: field + "." + m.key, Package: pkg})
	}
	return out
}

// Lock is the part of composer.lock that decides the platform.
type Lock struct {
	// Platform is the root's platform requirements as locked.
	Platform map[string]string `json:"platform,omitempty"`
	// Packages are the locked non-dev packages: the ones a production
	// install (--no-dev) puts in vendor/.
	Packages []Package `json:"packages"`
	platform []PlatformReq
}

// Package is one locked package.
type Package struct {
	Name    string            `json:"name"`
	Version string            `json:"version"`
	Require map[string]string `json:"require,omitempty"`
	Provide map[string]string `json:"provide,omitempty"`
	// Line is where the package's entry starts in composer.lock.
	Line int `json:"-"`
}

func readComposerJSON(dir string) (*Composer, error) {
	file := filepath.Join(dir, "composer.json")
	doc, err := readJSON(file)
	if err != nil {
		return nil, err
	}
	c := &Composer{}
	if c.Require, err = doc.stringMapAt(doc.root.get("require"), "require"); err != nil {
		return nil, err
	}
	c.Platform = platformReqs(doc, doc.root.get("require"), "require", "")
	config := doc.root.get("config")
	if config != nil && config.kind != jsonObject && !(config.kind == jsonArray && len(config.arr) == 0) {
		return nil, doc.errAt(config, "config", "want an object, not %s", config.kind)
	}
	if c.PlatformOverride, err = doc.stringMapAt(config.get("platform"), "config.platform"); err != nil {
		// config.platform may also set a package to false to hide it.
		if !hasFalseMember(config.get("platform")) {
			return nil, err
		}
		c.PlatformOverride = platformWithoutFalse(config.get("platform"))
	}
	if c.PathRepos, err = pathRepos(doc, dir); err != nil {
		return nil, err
	}
	return c, nil
}

func hasFalseMember(v *jsonValue) bool {
	if v == nil || v.kind != jsonObject {
		return false
	}
	for _, m := range v.obj {
		if m.val.kind == jsonBool && m.val.str == "false" {
			return true
		}
	}
	return false
}

func platformWithoutFalse(v *jsonValue) map[string]string {
	out := map[string]string{}
	for _, m := range v.obj {
		if m.val.kind == jsonString {
			out[strings.ToLower(m.key)] = m.val.str
		}
	}
	return out
}

// pathRepos reads "repositories", which composer accepts as a list or as an
// object keyed by name, with false entries disabling a repository.
func pathRepos(doc *jsonDoc, dir string) ([]string, error) {
	repos := doc.root.get("repositories")
	if repos == nil || repos.kind == jsonNull {
		return nil, nil
	}
	var entries []*jsonValue
	var fields []string
	switch repos.kind {
	case jsonArray:
		for i, e := range repos.arr {
			entries = append(entries, e)
			fields = append(fields, "repositories["+strconv.Itoa(i)+"]")
		}
	case jsonObject:
		for _, m := range repos.obj {
			entries = append(entries, m.val)
			fields = append(fields, "repositories."+m.key)
		}
	default:
		return nil, doc.errAt(repos, "repositories", "want a list or an object, not %s", repos.kind)
	}
	var out []string
	for i, e := range entries {
		if e.kind == jsonBool {
			continue
		}
		if e.kind != jsonObject {
			return nil, doc.errAt(e, fields[i], "want an object, not %s", e.kind)
		}
		typ, err := doc.stringAt(e.get("type"), fields[i]+".type")
		if err != nil {
			return nil, err
		}
		if typ != "path" {
			continue
		}
		url, err := doc.stringAt(e.get("url"), fields[i]+".url")
		if err != nil {
			return nil, err
		}
		if url == "" {
			return nil, doc.errAt(e, fields[i]+".url", "a path repository needs a url")
		}
		rel := filepath.ToSlash(url)
		if filepath.IsAbs(url) {
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return nil, err
			}
			r, err := filepath.Rel(absDir, url)
			if err != nil {
				return nil, doc.errAt(e.get("url"), fields[i]+".url", "%v", err)
			}
			rel = filepath.ToSlash(r)
		}
		rel = path.Clean(rel)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			// The build only sees the app dir; a path outside it cannot be installed.
			return nil, doc.errAt(e.get("url"), fields[i]+".url", "path repository %q is outside the app directory; the build cannot read it", url)
		}
		out = append(out, rel)
	}
	sort.Strings(out)
	return out, nil
}

func readComposerLock(dir string) (*Lock, error) {
	file := filepath.Join(dir, "composer.lock")
	doc, err := readJSON(file)
	if err != nil {
		return nil, err
	}
	l := &Lock{}
	if l.Platform, err = doc.stringMapAt(doc.root.get("platform"), "platform"); err != nil {
		return nil, err
	}
	l.platform = platformReqs(doc, doc.root.get("platform"), "platform", "")
	pkgs := doc.root.get("packages")
	if pkgs == nil {
		return nil, doc.errAt(doc.root, "packages", "missing; is this a composer.lock?")
	}
	if pkgs.kind != jsonArray {
		return nil, doc.errAt(pkgs, "packages", "want a list, not %s", pkgs.kind)
	}
	l.Packages = make([]Package, 0, len(pkgs.arr))
	for i, p := range pkgs.arr {
		field := "packages[" + strconv.Itoa(i) + "]"
		if p.kind != jsonObject {
			return nil, doc.errAt(p, field, "want an object, not %s", p.kind)
		}
		pkg := Package{Line: p.line}
		if pkg.Name, err = doc.stringAt(p.get("name"), field+".name"); err != nil {
			return nil, err
		}
		if pkg.Name == "" {
			return nil, doc.errAt(p, field+".name", "missing")
		}
		field = "packages[" + pkg.Name + "]"
		if pkg.Version, err = doc.stringAt(p.get("version"), field+".version"); err != nil {
			return nil, err
		}
		if pkg.Require, err = doc.stringMapAt(p.get("require"), field+".require"); err != nil {
			return nil, err
		}
		if pkg.Provide, err = doc.stringMapAt(p.get("provide"), field+".provide"); err != nil {
			return nil, err
		}
		l.Packages = append(l.Packages, pkg)
		l.platform = append(l.platform, platformReqs(doc, p.get("require"), field+".require", pkg.Name)...)
	}
	return l, nil
}
