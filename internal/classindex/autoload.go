package classindex

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
)

// autoload is the root package's autoload section read as composer's
// AutoloadGenerator::parseAutoloadsType reads it, autoload-dev left out
// (builds run --no-dev).
type autoload struct {
	raw     json.RawMessage
	dirs    []string         // psr-4, psr-0 and classmap directories; "" is the root
	files   []string         // classmap entries, which may be single files
	exclude []*regexp.Regexp // exclude-from-classmap, anchored at the root
	// included are the files entries, which composer requires at boot
	// and does not scan; nil when there are none or the section is not a
	// list of paths.
	included []string
}

// readAutoload returns nil when there is no composer.json or it has no
// autoload section.
func readAutoload(root *os.Root) (*autoload, error) {
	const file = "composer.json"
	b, err := root.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, badinput.Wrap(file, badinput.PathCause(err))
	}
	var doc struct {
		Autoload json.RawMessage `json:"autoload"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, badinput.New(file, "parsing: %v", err)
	}
	if len(doc.Autoload) == 0 || string(doc.Autoload) == "null" {
		return nil, nil
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(doc.Autoload, &sections); err != nil {
		return nil, badinput.Field(file, "autoload", "must be an object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc.Autoload); err != nil {
		return nil, badinput.Field(file, "autoload", "%v", err)
	}
	a := &autoload{raw: compact.Bytes()}
	for _, typ := range []string{"psr-4", "psr-0"} {
		raw, ok := sections[typ]
		if !ok || string(raw) == "null" {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, badinput.Field(file, "autoload."+typ, "must be an object of namespace prefixes")
		}
		for prefix, v := range m {
			paths, ok := stringOrList(v)
			if !ok {
				return nil, badinput.Field(file, "autoload."+typ, "%q: must be a path or a list of paths", prefix)
			}
			for _, p := range paths {
				if d, ok := inApp(p); ok {
					a.dirs = append(a.dirs, d)
				}
			}
		}
	}
	if raw, ok := sections["files"]; ok {
		var paths []string
		if json.Unmarshal(raw, &paths) == nil {
			for _, p := range paths {
				if p, ok := inApp(p); ok {
					a.included = append(a.included, p)
				}
			}
		}
	}
	for _, typ := range []string{"classmap", "exclude-from-classmap"} {
		raw, ok := sections[typ]
		if !ok || string(raw) == "null" {
			continue
		}
		var paths []string
		if err := json.Unmarshal(raw, &paths); err != nil {
			return nil, badinput.Field(file, "autoload."+typ, "must be a list of paths")
		}
		for _, p := range paths {
			if typ == "exclude-from-classmap" {
				a.exclude = append(a.exclude, excludeRegexp(p))
				continue
			}
			if p, ok := inApp(p); ok {
				a.files = append(a.files, p)
				a.dirs = append(a.dirs, globRoot(p))
			}
		}
	}
	return a, nil
}

func stringOrList(raw json.RawMessage) ([]string, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, true
	}
	var l []string
	if json.Unmarshal(raw, &l) == nil {
		return l, true
	}
	return nil, false
}

// inApp cleans an autoload path (relative to the root; "" and "." are the
// root) to the form of the commit's file paths. A path leaving the app
// cannot hold the commit's files.
func inApp(p string) (string, bool) {
	p = strings.ReplaceAll(p, `\`, "/")
	if path.IsAbs(p) || filepath.IsAbs(p) {
		return "", false
	}
	p = path.Clean(p)
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	if p == "." {
		return "", true
	}
	return p, true
}

// globRoot is the directory a classmap entry scans: Symfony Finder takes
// globs in directory names, so a glob scans, at most, all of the directory
// before its first wildcard.
func globRoot(p string) string {
	i := strings.IndexAny(p, "*?[{")
	if i < 0 {
		return p
	}
	if j := strings.LastIndex(p[:i], "/"); j >= 0 {
		return p[:j]
	}
	return ""
}

// excludeRegexp follows parseAutoloadsType: "**" is any text, "*" any text
// but "/", leading "./" and "../" are resolved against the root, and the
// pattern excludes the path it names and everything under it. Composer
// matches the absolute path unanchored; anchoring at the root can only
// exclude less, which is sound.
func excludeRegexp(p string) *regexp.Regexp {
	p = strings.Trim(strings.ReplaceAll(p, `\`, "/"), "/")
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	updir := ""
	for {
		switch {
		case strings.HasPrefix(p, "./"):
			updir, p = updir+"./", p[2:]
			continue
		case strings.HasPrefix(p, "../"):
			updir, p = updir+"../", p[3:]
			continue
		}
		break
	}
	var re strings.Builder
	re.WriteString("^")
	if base := path.Clean(updir); base != "." {
		// Outside the root: matches none of the commit's paths.
		re.WriteString(regexp.QuoteMeta(base) + "/")
	}
	for i, part := range strings.Split(p, "**") {
		if i > 0 {
			re.WriteString(".+?")
		}
		for j, lit := range strings.Split(part, "*") {
			if j > 0 {
				re.WriteString("[^/]+?")
			}
			re.WriteString(regexp.QuoteMeta(lit))
		}
	}
	re.WriteString("($|/)")
	return regexp.MustCompile(re.String())
}

// scans reports whether composer reads p for the classmap. PSR-4, PSR-0
// and classmap directories are scanned for .php, .inc and .hh files; a
// classmap entry naming a file is read whatever its extension (recent
// class-map-generator skips other extensions there; reading them is sound).
// Finder's skipping of dot files is not followed: reading them is sound.
func (a *autoload) scans(p string) bool {
	return a.covers(p, Scannable(p))
}

// Scannable reports whether composer's classmap scan reads a file named
// p in an autoload dir: by its extension.
func Scannable(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return ext == ".php" || ext == ".inc" || ext == ".hh"
}

// covers reports whether p is a classmap entry or, when inDirs, under an
// autoload directory, and not excluded.
func (a *autoload) covers(p string, inDirs bool) bool {
	if !a.holds(p, inDirs) {
		return false
	}
	for _, re := range a.exclude {
		if re.MatchString(p) {
			return false
		}
	}
	return true
}

// holds reports whether p is a classmap entry or, when inDirs, under an
// autoload directory, excluded or not.
func (a *autoload) holds(p string, inDirs bool) bool {
	in := slices.Contains(a.files, p)
	for _, d := range a.dirs {
		in = in || inDirs && (d == "" || strings.HasPrefix(p, d+"/"))
	}
	return in
}
