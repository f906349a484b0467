package detect

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/internal/filecache"
	"github.com/phpbuild/phpbuild/internal/par"
	"github.com/phpbuild/phpbuild/processes"
	"github.com/phpbuild/phpbuild/project"
)

// ErrNotPHPApp is returned for a directory with no composer.json, index.php
// or public/index.php.
var ErrNotPHPApp = errors.New("not a PHP app: no composer.json, index.php or public/index.php")

// App is what detection found. Paths are relative to Dir, slash-separated.
type App struct {
	Dir      string    `json:"dir"`
	WebRoot  string    `json:"webRoot"`
	Composer *Composer `json:"composer"`
	Phalcon  Phalcon   `json:"phalcon"`
	Volt     Volt      `json:"volt"`
	Node     *Node     `json:"node"`
	Writable []string  `json:"writable"`
	EnvFiles []string  `json:"envFiles"`
	// Processes are the process types and schedules of project.toml and
	// the Procfile; empty when the app has neither.
	Processes *processes.Table `json:"processes"`
	// Warnings are facts a user should know that do not stop a build.
	Warnings []string `json:"warnings"`
	// Project is project.toml; empty when the app has none.
	Project *project.Descriptor `json:"-"`
	// Files lists every regular file and symlink of the app (the walk of Dir,
	// or the WithFiles list), sorted, outside .git, vendor/ and
	// node_modules/. Every fact above derives from it: a dir exists when it
	// holds one of these files.
	Files []string `json:"-"`
	// walked is set when Files come from a walk of Dir, not WithFiles.
	walked bool
}

// Phalcon says whether the app needs the Phalcon extension, and why.
type Phalcon struct {
	Used   bool   `json:"used"`
	Reason string `json:"reason,omitempty"`
}

// Volt lists the dirs holding *.volt templates.
type Volt struct {
	Dirs []string `json:"dirs"`
}

// Node is an app whose package.json has a build script.
type Node struct {
	PackageManager string `json:"packageManager"` // npm, yarn or pnpm
	Lockfile       string `json:"lockfile"`       // "" when none is committed
	BuildScript    string `json:"buildScript"`
}

// Detect reads dir and reports what the app is, from the files of a walk of
// dir or those given WithFiles. Input the user must fix is a
// *badinput.Error naming the file.
func Detect(ctx context.Context, dir string, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	// Files are named as the user wrote dir, so errors read like their shell.
	root := filepath.Clean(dir)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, badinput.New(dir, "%v", badinput.PathCause(err))
	}
	if !fi.IsDir() {
		return nil, badinput.New(dir, "not a directory")
	}
	desc, err := project.Load(root)
	if err != nil {
		return nil, err
	}
	app := &App{Dir: root, Project: desc, Writable: []string{}, EnvFiles: []string{}, Warnings: []string{}, Volt: Volt{Dirs: []string{}}}
	if o.listed {
		app.Files, err = listed(ctx, root, o.files)
	} else {
		app.Files, err = walk(ctx, root)
		app.walked = true
	}
	if err != nil {
		return nil, err
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(app); err != nil {
			return nil, err
		}
	}
	return app, nil
}

// steps run in order; each may use what the earlier ones found.
var steps = []func(*App) error{
	detectComposer,
	detectWebRoot,
	detectVolt,
	detectPhalcon,
	detectNode,
	detectWritable,
	detectEnvFiles,
	detectProcesses,
}

func (a *App) has(rel string) bool {
	i := sort.SearchStrings(a.Files, rel)
	return i < len(a.Files) && a.Files[i] == rel
}

// isDir reports whether rel is a dir of the app: one that holds a listed
// file. Git keeps no empty dirs, so an empty dir in one work tree must not
// make the app differ from a clone of the same commit.
func (a *App) isDir(rel string) bool {
	if rel == "." {
		return len(a.Files) > 0
	}
	prefix := rel + "/"
	i := sort.SearchStrings(a.Files, prefix)
	return i < len(a.Files) && strings.HasPrefix(a.Files[i], prefix)
}

func isDirOnDisk(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// firstUnder returns the first listed file under dir whose name ends in
// suffix, or "".
func (a *App) firstUnder(dir, suffix string) string {
	prefix := dir + "/"
	if dir == "." {
		prefix = ""
	}
	for i := sort.SearchStrings(a.Files, prefix); i < len(a.Files) && strings.HasPrefix(a.Files[i], prefix); i++ {
		if strings.HasSuffix(a.Files[i], suffix) {
			return a.Files[i]
		}
	}
	return ""
}

// isFrontController reports whether rel is a regular file reached through a
// listed file: rel itself, or a listed symlink that is rel's dir (a
// symlinked public/ is common in hand-made deploy layouts).
func (a *App) isFrontController(rel string) bool {
	if !a.has(rel) && !a.has(path.Dir(rel)) {
		return false
	}
	fi, err := os.Stat(filepath.Join(a.Dir, filepath.FromSlash(rel)))
	return err == nil && fi.Mode().IsRegular()
}

func (a *App) warn(format string, args ...any) {
	a.Warnings = append(a.Warnings, fmt.Sprintf(format, args...))
}

func detectComposer(a *App) error {
	// Files are files only; a directory by a file's name is a mistake that
	// must not read as "the app has no such file". A listed file under it
	// shows it; in a walked tree, so does an empty one.
	for _, f := range []string{"composer.json", "composer.lock", "package.json"} {
		if a.isDir(f) || (a.walked && isDirOnDisk(filepath.Join(a.Dir, f))) {
			return badinput.New(filepath.Join(a.Dir, f), "is a directory, not a file")
		}
	}
	hasJSON := a.has("composer.json")
	if !hasJSON && !a.has("index.php") && !a.has("public/index.php") {
		return &badinput.Error{File: a.Dir, Err: ErrNotPHPApp}
	}
	if !hasJSON {
		if a.has("composer.lock") {
			return badinput.New(filepath.Join(a.Dir, "composer.lock"), "found without composer.json; commit both")
		}
		return nil
	}
	c, err := readComposerJSON(a.Dir)
	if err != nil {
		return err
	}
	if a.has("composer.lock") {
		if c.Lock, err = readComposerLock(a.Dir); err != nil {
			return err
		}
		c.Platform = append(c.Platform, c.Lock.platform...)
	} else {
		a.warn("composer.json has no composer.lock beside it; commit one so builds are reproducible")
	}
	a.Composer = c
	return nil
}

func detectWebRoot(a *App) error {
	if root := a.Project.Build.WebRoot; root != "" {
		root = path.Clean(root)
		if !a.isDir(root) {
			return a.Project.FieldError("build.web_root", "%q is not a directory of the app", root)
		}
		a.WebRoot = root
		return nil
	}
	for _, c := range []struct{ front, root string }{
		{"public/index.php", "public"},
		{"web/index.php", "web"},
		{"web/app.php", "web"},
		{"index.php", "."},
	} {
		if a.isFrontController(c.front) {
			a.WebRoot = c.root
			return nil
		}
	}
	// A repository holding the app one level down (api/public/index.php)
	// has one obvious front controller; several need the user to choose.
	var nested []string
	for _, f := range a.Files {
		if parts := strings.Split(f, "/"); len(parts) == 3 && parts[1] == "public" && parts[2] == "index.php" && a.isFrontController(f) {
			nested = append(nested, f)
		}
	}
	switch {
	case len(nested) == 1:
		a.WebRoot = path.Dir(nested[0])
		a.warn("using %s as the front controller; set build.web_root to choose", nested[0])
		return nil
	case len(nested) > 1:
		return &badinput.Error{File: a.Dir, Err: fmt.Errorf("no front controller at the top (public/index.php, web/index.php, index.php) but several one level down: %s; set build.web_root in project.toml to choose", strings.Join(nested, ", "))}
	}
	if a.isDir("public") {
		a.WebRoot = "public"
	} else {
		a.WebRoot = "."
	}
	a.warn("no front controller (public/index.php, web/index.php, index.php); serving %s/ — set build.web_root in project.toml to choose", a.WebRoot)
	return nil
}

func detectVolt(a *App) error {
	v := a.Project.Volt
	if v.Bootstrap != "" && !a.has(path.Clean(v.Bootstrap)) {
		return a.Project.FieldError("volt.bootstrap", "%q is not a file of the app", v.Bootstrap)
	}
	if dirs := a.Project.Volt.Dirs; len(dirs) > 0 {
		for _, d := range dirs {
			d = path.Clean(d)
			if !a.isDir(d) {
				return a.Project.FieldError("volt.dirs", "%q is not a directory of the app", d)
			}
			a.Volt.Dirs = append(a.Volt.Dirs, d)
		}
		sort.Strings(a.Volt.Dirs)
		return nil
	}
	seen := map[string]bool{}
	for _, f := range a.Files {
		if strings.HasSuffix(f, ".volt") {
			d := path.Dir(f)
			if !seen[d] {
				seen[d] = true
				a.Volt.Dirs = append(a.Volt.Dirs, d)
			}
		}
	}
	sort.Strings(a.Volt.Dirs)
	return nil
}

func detectPhalcon(a *App) error {
	if a.Project.Phalcon.Version != "" {
		a.Phalcon = Phalcon{Used: true, Reason: "project.toml phalcon.version"}
		return nil
	}
	if c := a.Composer; c != nil {
		if _, ok := c.Require["ext-phalcon"]; ok {
			a.Phalcon = Phalcon{Used: true, Reason: "composer.json require.ext-phalcon"}
			return nil
		}
		if c.Lock != nil {
			if _, ok := c.Lock.Platform["ext-phalcon"]; ok {
				a.Phalcon = Phalcon{Used: true, Reason: "composer.lock platform.ext-phalcon"}
				return nil
			}
			for _, p := range c.Lock.Packages {
				if _, ok := p.Require["ext-phalcon"]; ok {
					a.Phalcon = Phalcon{Used: true, Reason: "composer.lock: " + p.Name + " requires ext-phalcon"}
					return nil
				}
			}
		}
	}
	use, err := firstPhalconUse(a)
	if err != nil || use == "" {
		if use == "" && len(a.Volt.Dirs) > 0 {
			a.warn("found *.volt templates in %s but no use of Phalcon; Volt is not precompiled", strings.Join(a.Volt.Dirs, ", "))
		}
		return err
	}
	if poly := phalconPolyfill(a.Composer); poly != "" {
		a.warn("%s uses Phalcon\\ classes, served by the locked PHP package %s, not the extension", use, poly)
		return nil
	}
	a.Phalcon = Phalcon{Used: true, Reason: use + " uses the Phalcon\\ namespace"}
	if a.Composer != nil {
		a.warn("%s uses Phalcon but composer.json does not require ext-phalcon; add it so composer checks the version", use)
	}
	return nil
}

// phalconPolyfill names a locked package that provides Phalcon's classes in
// PHP (phalcon/phalcon is Phalcon 6 written in PHP).
func phalconPolyfill(c *Composer) string {
	if c == nil || c.Lock == nil {
		return ""
	}
	for _, p := range c.Lock.Packages {
		if _, ok := p.Provide["ext-phalcon"]; ok || p.Name == "phalcon/phalcon" {
			return p.Name
		}
	}
	return ""
}

var (
	phalconNS     = regexp.MustCompile(`(?:^|[^A-Za-z0-9_\\])\\?Phalcon\\[A-Z{]`)
	inlineComment = regexp.MustCompile(`/\*.*?\*/`)
)

// firstPhalconUse returns "FILE:LINE" of the first PHP line that names the
// Phalcon namespace, or "".
func firstPhalconUse(a *App) (string, error) {
	var php []string
	for _, f := range a.Files {
		if strings.HasSuffix(f, ".php") {
			php = append(php, f)
		}
	}
	// The first read of the app's PHP: on every core, in the files' order.
	uses, err := par.Map(context.Background(), php, func(f string) (string, error) { return phalconUse(a.Dir, f) })
	if err != nil {
		return "", err
	}
	for _, u := range uses {
		if u != "" {
			return u, nil
		}
	}
	return "", nil
}

// phalconUse returns "FILE:LINE" of the first line of dir's file f that
// names the Phalcon namespace, or "".
func phalconUse(dir, f string) (string, error) {
	p := filepath.Join(dir, filepath.FromSlash(f))
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return "", nil // a symlink, FIFO or device is not the app's own source
	}
	data, err := filecache.Read(p, fi)
	if err != nil {
		return "", badinput.New(p, "reading: %v", badinput.PathCause(err))
	}
	if !bytes.Contains(data, []byte(`Phalcon\`)) {
		return "", nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(inlineComment.ReplaceAllString(sc.Text(), " "))
		if strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "*") || strings.HasPrefix(line, "/*") {
			continue
		}
		if phalconNS.MatchString(line) {
			return fmt.Sprintf("%s:%d", f, n), nil
		}
	}
	return "", nil
}

func detectNode(a *App) error {
	if !a.has("package.json") {
		return nil
	}
	doc, err := readJSON(filepath.Join(a.Dir, "package.json"))
	if err != nil {
		return err
	}
	scripts, err := doc.stringMapAt(doc.root.get("scripts"), "scripts")
	if err != nil {
		return err
	}
	build, ok := scripts["build"]
	if !ok {
		a.warn("package.json has no \"build\" script; no assets are built")
		return nil
	}
	n := &Node{BuildScript: build}
	for _, l := range []struct{ file, pm string }{
		{"package-lock.json", "npm"},
		{"npm-shrinkwrap.json", "npm"},
		{"pnpm-lock.yaml", "pnpm"},
		{"yarn.lock", "yarn"},
	} {
		if a.has(l.file) {
			n.PackageManager, n.Lockfile = l.pm, l.file
			break
		}
	}
	pm, err := doc.stringAt(doc.root.get("packageManager"), "packageManager")
	if err != nil {
		return err
	}
	if pm != "" {
		// corepack's "pnpm@9.1.0" names the tool the team uses.
		name := strings.SplitN(pm, "@", 2)[0]
		switch name {
		case "npm", "yarn", "pnpm":
		default:
			return doc.errAt(doc.root.get("packageManager"), "packageManager", "%q: want npm, yarn or pnpm", pm)
		}
		n.PackageManager = name
	}
	if n.PackageManager == "" {
		n.PackageManager = "npm"
	}
	if n.Lockfile == "" {
		a.warn("package.json has no lockfile beside it; commit one so asset builds are reproducible")
	}
	a.Node = n
	return nil
}

// writableConventions are the dirs frameworks write to at run time.
var writableConventions = []string{"var", "storage", "cache", "app/cache", "writable"}

func detectWritable(a *App) error {
	seen := map[string]bool{}
	add := func(d string) {
		d = path.Clean(d)
		if !seen[d] {
			seen[d] = true
			a.Writable = append(a.Writable, d)
		}
	}
	// detect_writable = false: the project's list is the whole list.
	if dw := a.Project.Build.DetectWritable; dw == nil || *dw {
		for _, d := range writableConventions {
			if a.isDir(d) {
				add(d)
			}
		}
	}
	for _, d := range a.Project.Build.Writable {
		add(d)
	}
	sort.Strings(a.Writable)
	for _, w := range a.Writable {
		if f := a.firstUnder(w, ".php"); f != "" {
			// Writable dirs belong to the app user and are often mounted
			// over: PHP shipped there is code the app can change or lose.
			a.warn("%s holds tracked PHP (%s): the app user could rewrite code there, and a tmpfs or volume over it hides it at run time", w, f)
		}
	}
	if p := a.Project.Volt.Path; p != "" {
		for _, w := range a.Writable {
			if p = path.Clean(p); p == w || strings.HasPrefix(p, w+"/") {
				// A writable dir is a fresh volume or tmpfs at run time: it
				// would hide the templates precompiled into the image.
				a.warn("volt.path %s is inside the writable dir %s; precompiled templates would be hidden at run time", p, w)
			}
		}
	}
	return nil
}

func detectEnvFiles(a *App) error {
	for _, f := range a.Files {
		base := path.Base(f)
		if base == ".env" || strings.HasPrefix(base, ".env.") {
			a.EnvFiles = append(a.EnvFiles, f)
		}
	}
	return nil
}

// skipDirs are never part of the app's own files: VCS data and what
// composer and npm produce.
var skipDirs = map[string]bool{".git": true, "vendor": true, "node_modules": true}

// skipped reports whether a walk leaves rel out: under .git anywhere, or
// under the top-level vendor/ or node_modules/.
// detectProcesses reads project.toml's [processes] and [schedule] and the
// Procfile at the app root.
func detectProcesses(a *App) error {
	file := filepath.Join(a.Dir, procfileName)
	var data []byte
	if a.has(procfileName) {
		b, err := os.ReadFile(file)
		if err != nil {
			return badinput.New(file, "reading: %v", badinput.PathCause(err))
		}
		data = b
	}
	t, warnings, err := ResolveProcesses(a.Project, file, data)
	if err != nil {
		return err
	}
	a.Processes = t
	a.Warnings = append(a.Warnings, warnings...)
	return nil
}

func skipped(rel string) bool {
	if top, _, ok := strings.Cut(rel, "/"); ok && skipDirs[top] {
		return true
	}
	return strings.Contains(rel, "/.git/")
}

// listed keeps what a walk would list of files: outside skipped dirs,
// regular files and symlinks. Git lists a submodule as one path, a
// directory on disk whose files are not the commit's: it is left out.
func listed(ctx context.Context, root string, files []string) ([]string, error) {
	out := make([]string, 0, len(files))
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if skipped(f) {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(f))
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, badinput.New(p, "reading: %v", badinput.PathCause(err))
		}
		if fi.IsDir() {
			continue
		}
		if err := checkLoop(p, fi.Mode()); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// checkLoop fails for a symlink whose target loops: it would break at run
// time too.
func checkLoop(p string, mode fs.FileMode) error {
	if mode&fs.ModeSymlink != 0 {
		if _, err := os.Stat(p); err != nil && errors.Is(err, syscall.ELOOP) {
			return badinput.New(p, "symlink loop")
		}
	}
	return nil
}

// walk lists the app's files without following symlinks; a symlink whose
// target loops is an error, since it would break at run time too.
func walk(ctx context.Context, root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return badinput.New(p, "reading: %v", badinput.PathCause(err))
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDirs[d.Name()] && !strings.Contains(rel, "/") {
				return filepath.SkipDir
			}
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if err := checkLoop(p, d.Type()); err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	return files, nil
}
