package detect

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
)

// Composer is what phpbuild reads from composer.json and composer.lock.
type Composer struct {
	// Require is composer.json "require", keys lower-cased.
	Require map[string]string `json:"require,omitempty"`
	// PlatformOverride is composer.json config.platform: the platform the lock
	// was resolved for.
	PlatformOverride map[string]string `json:"platformOverride,omitempty"`
	// PathRepos are the app-relative dirs of "path" repositories inside
	// the app dir.
	PathRepos []string `json:"pathRepos,omitempty"`
	// WorkTree is set when path repositories lie outside the app dir, in
	// the git work tree that holds the app (a monorepo's packages).
	WorkTree *WorkTree `json:"workTree,omitempty"`
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
	// SourceOnly is set when the lock gives no dist to download: composer
	// then clones the source, with git.
	SourceOnly bool `json:"sourceOnly,omitempty"`
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
	if c.PathRepos, c.WorkTree, err = pathRepos(doc, dir); err != nil {
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
// object keyed by name, with false entries disabling a repository. It
// returns the app-relative dirs of the path repositories inside the app
// dir, and the work tree holding those outside it.
func pathRepos(doc *jsonDoc, dir string) ([]string, *WorkTree, error) {
	inside, outside, err := pathRepoURLs(doc, dir)
	if err != nil || len(outside) == 0 {
		return inside, nil, err
	}
	wt, more, err := readWorkTree(doc, dir, outside)
	if err != nil {
		return nil, nil, err
	}
	inside = append(inside, more...)
	sort.Strings(inside)
	return slices.Compact(inside), wt, nil
}

// pathRepoURLs splits the path repositories into the app-relative dirs
// inside the app dir and those whose url leaves it.
func pathRepoURLs(doc *jsonDoc, dir string) ([]string, []outsideRepo, error) {
	repos := doc.root.get("repositories")
	if repos == nil || repos.kind == jsonNull {
		return nil, nil, nil
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
		return nil, nil, doc.errAt(repos, "repositories", "want a list or an object, not %s", repos.kind)
	}
	var out []string
	var outside []outsideRepo
	for i, e := range entries {
		if e.kind == jsonBool {
			continue
		}
		if e.kind != jsonObject {
			return nil, nil, doc.errAt(e, fields[i], "want an object, not %s", e.kind)
		}
		typ, err := doc.stringAt(e.get("type"), fields[i]+".type")
		if err != nil {
			return nil, nil, err
		}
		if typ != "path" {
			continue
		}
		url, err := doc.stringAt(e.get("url"), fields[i]+".url")
		if err != nil {
			return nil, nil, err
		}
		if url == "" {
			return nil, nil, doc.errAt(e, fields[i]+".url", "a path repository needs a url")
		}
		rel := filepath.ToSlash(url)
		if filepath.IsAbs(url) {
			absDir, err := filepath.Abs(dir)
			if err != nil {
				return nil, nil, err
			}
			r, err := filepath.Rel(absDir, url)
			if err != nil {
				return nil, nil, doc.errAt(e.get("url"), fields[i]+".url", "%v", err)
			}
			rel = filepath.ToSlash(r)
		}
		rel = path.Clean(rel)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			outside = append(outside, outsideRepo{url: url, rel: rel, at: e.get("url"), field: fields[i] + ".url"})
			continue
		}
		out = append(out, rel)
	}
	sort.Strings(out)
	return out, outside, nil
}

// outsideRepo is a path repository whose url leaves the app dir.
type outsideRepo struct {
	url   string     // as composer.json writes it
	rel   string     // relative to the app dir, clean: "../../packages/*"
	at    *jsonValue // the url, for errors
	field string     // "repositories[0].url"
}

// WorkTree is the git work tree around an app whose path repositories lie
// outside the app dir. The build reads their files from it and places them
// as they are in the work tree, so that composer resolves each relative url
// to the same dir.
type WorkTree struct {
	// Root is the work tree's top dir, absolute.
	Root string `json:"-"`
	// App is the app dir relative to Root: "apps/shop".
	App string `json:"app"`
	// PathRepos are the outside path repositories relative to Root, globs
	// kept ("packages/*") and braces expanded.
	PathRepos []string `json:"pathRepos"`
	// Packages are the dirs they match that hold a composer.json, as
	// composer finds them, relative to Root.
	Packages []string `json:"packages"`
	// Files are the packages' files relative to Root, sorted: those git
	// lists, as the build lists the app's (tracked, and untracked that are
	// not ignored), without each package's vendor/ and node_modules/.
	Files []string `json:"-"`
	// Dirty names up to maxDirty uncommitted changes under Packages,
	// relative to Root. The commit's own check covers the app dir only.
	Dirty []string `json:"dirty,omitempty"`
}

const maxDirty = 10

// readWorkTree finds the git work tree holding the app, and in it the
// packages of the path repositories outside the app dir. It reads the
// files as git lists them, never a walk, so that a plan and the build of
// the same commit see the same packages. A url that comes back into the
// app dir ("../shop/lib" from apps/shop) is returned app-relative.
func readWorkTree(doc *jsonDoc, dir string, outside []outsideRepo) (*WorkTree, []string, error) {
	first := outside[0]
	out, err := git(dir, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		var ge *gitError
		if errors.As(err, &ge) && (strings.Contains(ge.stderr, "not a git repository") || strings.Contains(ge.stderr, "must be run in a work tree")) {
			return nil, nil, doc.errAt(first.at, first.field, "path repository %q is outside the app directory and no git repository holds the app: builds only see the commit's files, so commit the app and its packages in one repository", first.url)
		}
		return nil, nil, doc.errAt(first.at, first.field, "path repository %q is outside the app directory; reading the git repository around it: %v", first.url, err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	wt := &WorkTree{Root: lines[0]}
	if len(lines) > 1 {
		wt.App = strings.TrimSuffix(lines[1], "/")
	}
	var inside []string
	patterns := map[string][]string{} // field → its Root-relative patterns
	for _, r := range outside {
		for _, alt := range expandBraces(r.rel) {
			target := path.Join(wt.App, alt)
			switch {
			case target == ".." || strings.HasPrefix(target, "../"):
				return nil, nil, doc.errAt(r.at, r.field, "path repository %q is outside the git repository %s: builds only see the commit's files", r.url, wt.Root)
			case filepath.IsAbs(r.url):
				// The build sees the repository at another path.
				return nil, nil, doc.errAt(r.at, r.field, "path repository %q is outside the app directory and absolute: builds only see the commit's files, at another path; write it relative to composer.json, as %q", r.url, r.rel)
			case wt.App != "" && under(target, wt.App):
				inside = append(inside, strings.TrimPrefix(strings.TrimPrefix(target, wt.App), "/"))
			default:
				patterns[r.field] = append(patterns[r.field], target)
				wt.PathRepos = append(wt.PathRepos, target)
			}
		}
	}
	for i, d := range inside {
		if d == "" {
			inside[i] = "."
		}
	}
	if len(wt.PathRepos) == 0 {
		return nil, inside, nil
	}
	sort.Strings(wt.PathRepos)
	wt.PathRepos = slices.Compact(wt.PathRepos)
	listed, err := wt.list(wt.PathRepos)
	if err != nil {
		return nil, nil, badinput.Wrap(doc.file, fmt.Errorf("listing the path repositories' files in %s: %w", wt.Root, err))
	}
	pkgs := map[string]bool{}
	for _, r := range outside {
		found := false
		for _, p := range patterns[r.field] {
			for _, f := range listed {
				// composer takes the dirs a url matches that hold a
				// composer.json; one holding the app would be the app itself.
				if d, ok := globDir(p, f); ok && f == d+"/composer.json" && !under(d, wt.App) && !under(wt.App, d) {
					pkgs[d], found = true, true
				}
			}
		}
		if !found && len(patterns[r.field]) > 0 {
			return nil, nil, doc.errAt(r.at, r.field, "path repository %q matches no dir holding a composer.json among the files git lists in %s: builds only see the commit's files", r.url, wt.Root)
		}
	}
	wt.Packages = slices.Sorted(maps.Keys(pkgs))
	for _, f := range listed {
		for _, d := range wt.Packages {
			if !under(f, d) || under(f, d+"/vendor") || under(f, d+"/node_modules") {
				continue
			}
			// A submodule is listed as one path: a dir whose files are not
			// this commit's.
			if fi, err := os.Lstat(filepath.Join(wt.Root, filepath.FromSlash(f))); err == nil && !fi.IsDir() {
				wt.Files = append(wt.Files, f)
			}
			break
		}
	}
	if wt.Dirty, err = wt.dirty(); err != nil {
		return nil, nil, badinput.Wrap(doc.file, fmt.Errorf("reading the path repositories' git status in %s: %w", wt.Root, err))
	}
	return wt, inside, nil
}

// list returns what the build may read under the patterns' literal dirs:
// tracked and untracked, non-ignored files, without tracked files deleted
// from disk, sorted.
func (wt *WorkTree) list(patterns []string) ([]string, error) {
	var specs []string
	for _, p := range patterns {
		lit := literalDir(p)
		if lit == "." {
			specs = nil // a wildcard at the top: the whole tree
			break
		}
		specs = append(specs, lit)
	}
	out, err := git(wt.Root, append([]string{"ls-files", "--cached", "--others", "--exclude-standard", "-z", "--"}, specs...)...)
	if err != nil {
		return nil, err
	}
	deleted, err := git(wt.Root, append([]string{"ls-files", "--deleted", "-z", "--"}, specs...)...)
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, f := range strings.Split(deleted, "\x00") {
		gone[f] = true
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		// An untracked nested repository is listed as "dir/".
		if f != "" && !gone[f] && !strings.HasSuffix(f, "/") {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return slices.Compact(files), nil
}

// dirty names the first uncommitted changes under the packages.
func (wt *WorkTree) dirty() ([]string, error) {
	out, err := git(wt.Root, append([]string{"status", "--porcelain", "-z", "--untracked-files=normal", "--"}, wt.Packages...)...)
	if err != nil {
		return nil, err
	}
	var names []string
	entries := strings.Split(out, "\x00")
	for i := 0; i < len(entries) && len(names) < maxDirty; i++ {
		e := entries[i]
		if len(e) < 4 {
			continue
		}
		if e[0] == 'R' || e[0] == 'C' {
			i++ // the entry after a rename or copy is its source
		}
		names = append(names, e[3:])
	}
	return names, nil
}

// globDir returns the dir of slash-separated file f that pattern matches
// as composer's glob() does: component by component, a wildcard never
// matching a name that starts with a dot.
func globDir(pattern, f string) (string, bool) {
	pc, fc := strings.Split(pattern, "/"), strings.Split(f, "/")
	if len(fc) <= len(pc) {
		return "", false
	}
	for i, p := range pc {
		if p == fc[i] {
			continue
		}
		if strings.HasPrefix(fc[i], ".") && !strings.HasPrefix(p, ".") {
			return "", false
		}
		if ok, _ := path.Match(p, fc[i]); !ok {
			return "", false
		}
	}
	return strings.Join(fc[:len(pc)], "/"), true
}

// literalDir is the part of a pattern before its first wildcard, "." when
// the first component has one.
func literalDir(pattern string) string {
	var lit []string
	for _, c := range strings.Split(pattern, "/") {
		if strings.ContainsAny(c, "*?[\\") {
			break
		}
		lit = append(lit, c)
	}
	if len(lit) == 0 {
		return "."
	}
	return strings.Join(lit, "/")
}

// expandBraces turns "packages/{a,b}" into "packages/a" and "packages/b",
// as glob()'s GLOB_BRACE does for composer; an unbalanced brace is literal.
func expandBraces(p string) []string {
	open := strings.IndexByte(p, '{')
	if open < 0 {
		return []string{p}
	}
	depth, start := 0, open+1
	var alts []string
	for i := open; i < len(p); i++ {
		switch p[i] {
		case '{':
			depth++
		case ',':
			if depth == 1 {
				alts = append(alts, p[start:i])
				start = i + 1
			}
		case '}':
			if depth--; depth == 0 {
				alts = append(alts, p[start:i])
				var out []string
				for _, a := range alts {
					out = append(out, expandBraces(p[:open]+a+p[i+1:])...)
				}
				return out
			}
		}
	}
	return []string{p}
}

// under reports whether slash-separated rel is dir or inside it.
func under(rel, dir string) bool {
	return dir == "." || rel == dir || strings.HasPrefix(rel, dir+"/")
}

// gitError is git failing, with what it said.
type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	line := ""
	for l := range strings.Lines(e.stderr) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "fatal: ") || strings.HasPrefix(l, "error: ") {
			line = l
			break
		}
		if line == "" {
			line = l
		}
	}
	if line == "" {
		line = e.err.Error()
	}
	return "git " + e.args[0] + ": " + line
}

func (e *gitError) Unwrap() error { return e.err }

// git runs a read-only git command in dir. Pathspecs are literal; git
// variables left over from a hook, which would point it at another
// repository, are dropped. Only apps with path repositories outside their
// dir get here.
func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "core.quotepath=off", "--literal-pathspecs"}, args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		for _, v := range []string{"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_COMMON_DIR=", "GIT_PREFIX="} {
			if strings.HasPrefix(kv, v) {
				return true
			}
		}
		return false
	})
	cmd.Env = append(cmd.Env, "LC_ALL=C", "GIT_TERMINAL_PROMPT=0", "GIT_OPTIONAL_LOCKS=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", &gitError{args: args, stderr: stderr.String(), err: err}
		}
		return "", fmt.Errorf("running git %s: %w", args[0], err)
	}
	return stdout.String(), nil
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
		if dist := p.get("dist"); dist == nil || dist.get("url") == nil {
			pkg.SourceOnly = p.get("source") != nil
		}
		l.Packages = append(l.Packages, pkg)
		l.platform = append(l.platform, platformReqs(doc, p.get("require"), field+".require", pkg.Name)...)
	}
	return l, nil
}
