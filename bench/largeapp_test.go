package bench

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/internal/classindex"
)

// smallLarge has the large app's shape at a size the tests write in
// milliseconds.
var smallLarge = LargeApp{ClassDirs: 3, ClassesPerDir: 4, Packages: 2, FilesPerPackage: 5, PackageFileBytes: 3000, StaticFiles: 30}

const (
	appComposerJSON = `{"name": "bench/large", "autoload": {"psr-4": {"App\\": "src/"}}}` + "\n"
	appIndexPHP     = "<?php\necho 'hello';\n"
)

// writeLargeApp writes l into a new app that has a composer.json and a
// public/index.php, as the bench app has.
func writeLargeApp(t *testing.T, l LargeApp) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"composer.json": appComposerJSON, "public/index.php": appIndexPHP} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.WriteApp(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tree reads every file under dir, by slash-separated relative path.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// under returns the files of tree whose path starts with prefix.
func under(files map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for p, b := range files {
		if strings.HasPrefix(p, prefix) {
			out[p] = b
		}
	}
	return out
}

func TestLargeAppWriteApp(t *testing.T) {
	a := tree(t, writeLargeApp(t, smallLarge))
	b := tree(t, writeLargeApp(t, smallLarge))
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two writes differ (-first +second):\n%s", diff)
	}
	if a["composer.json"] != appComposerJSON || a["public/index.php"] != appIndexPHP {
		t.Error("WriteApp changed composer.json or public/index.php")
	}
	src := under(a, "src/")
	if got, want := len(src), smallLarge.ClassDirs*smallLarge.ClassesPerDir; got != want {
		t.Errorf("%d files under src/, want %d", got, want)
	}
	perDir := map[string]int{}
	for p := range src {
		if !regexp.MustCompile(`^src/Module\d{3}/[A-Za-z0-9]+\.php$`).MatchString(p) {
			t.Errorf("%s: not src/ModuleNNN/Name.php", p)
		}
		perDir[path.Dir(p)]++
	}
	for d := 1; d <= smallLarge.ClassDirs; d++ {
		dir := fmt.Sprintf("src/Module%03d", d)
		if perDir[dir] != smallLarge.ClassesPerDir {
			t.Errorf("%s has %d files, want %d", dir, perDir[dir], smallLarge.ClassesPerDir)
		}
	}
	static := under(a, "public/static/")
	if got := len(static); got != smallLarge.StaticFiles {
		t.Errorf("%d static files, want %d", got, smallLarge.StaticFiles)
	}
	if got, want := len(a), len(src)+len(static)+2; got != want {
		t.Errorf("%d files in the app, want %d: WriteApp wrote outside src/ and public/static/", got, want)
	}
	checkStatic(t, static)
}

// staticRange is the size range of each static file type, and its place.
var staticRange = map[string]struct {
	dir      string
	min, max int
}{
	"css":   {"css", 1 << 10, 6 << 10},
	"js":    {"js", 1 << 10, 6 << 10},
	"svg":   {"svg", 1 << 9, 4 << 10},
	"png":   {"img", 2 << 10, 12 << 10},
	"woff2": {"fonts", 2 << 10, 12 << 10},
}

// checkStatic checks each file's place and size, that every type is there
// and that images and fonts are incompressible; it returns the total size
// expected of the mix found.
func checkStatic(t *testing.T, static map[string]string) (want float64) {
	t.Helper()
	seen := map[string]int{}
	var binary bytes.Buffer
	for p, body := range static {
		ext := strings.TrimPrefix(path.Ext(p), ".")
		r, ok := staticRange[ext]
		if !ok {
			t.Errorf("%s: unexpected type", p)
			continue
		}
		seen[ext]++
		want += float64(r.min+r.max) / 2
		if !regexp.MustCompile(`^public/static/` + r.dir + `/\d\d/[a-z]+-\d{4}\.[0-9a-f]{8}\.` + ext + `$`).MatchString(p) {
			t.Errorf("%s: not under public/static/%s/NN/", p, r.dir)
		}
		if len(body) < r.min || len(body) > r.max {
			t.Errorf("%s: %d bytes, want %d to %d", p, len(body), r.min, r.max)
		}
		switch ext {
		case "png":
			if !strings.HasPrefix(body, "\x89PNG\r\n\x1a\n") {
				t.Errorf("%s: no PNG signature", p)
			}
			binary.WriteString(body)
		case "woff2":
			if !strings.HasPrefix(body, "wOF2") {
				t.Errorf("%s: no WOFF2 signature", p)
			}
			binary.WriteString(body)
		case "svg":
			if !strings.HasPrefix(body, "<svg ") || !strings.HasSuffix(body, "</svg>\n") {
				t.Errorf("%s: not an svg element", p)
			}
		}
	}
	for ext := range staticRange {
		if seen[ext] == 0 {
			t.Errorf("no .%s among the static files", ext)
		}
	}
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("binary")
	w.Write(binary.Bytes())
	zw.Close()
	if z.Len() < binary.Len() {
		t.Errorf("images and fonts deflate from %d to %d bytes; want them incompressible", binary.Len(), z.Len())
	}
	return want
}

// declaration is a file's class-like declaration line.
var declaration = regexp.MustCompile(`(?m)^(?:final |abstract )?(class|interface|trait|enum) (\w+)`)

func TestLargeAppClassIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  LargeApp
	}{
		{"small", smallLarge},
		{"one module", LargeApp{ClassDirs: 1, ClassesPerDir: 5}},
		// With 23 modules, module 21 refers to a class of module 1 named
		// as one of its own: the import gets an alias.
		{"aliased import", LargeApp{ClassDirs: 23, ClassesPerDir: 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeLargeApp(t, tc.app)
			src := under(tree(t, dir), "src/")
			var files []string
			for p := range src {
				files = append(files, p)
			}
			ix, err := classindex.Read(context.Background(), dir, append(files, "composer.json", "public/index.php"))
			if err != nil {
				t.Fatal(err)
			}
			classes := tc.app.ClassDirs * tc.app.ClassesPerDir
			if len(ix.Files) != classes {
				t.Errorf("%d files indexed, want %d", len(ix.Files), classes)
			}
			for _, f := range ix.Files {
				module, name := path.Split(strings.TrimSuffix(strings.TrimPrefix(f.Path, "src/"), ".php"))
				want := []string{`App\` + strings.TrimSuffix(module, "/") + `\` + name}
				if diff := cmp.Diff(want, f.Classes); diff != "" {
					t.Errorf("%s: classes (-want +got):\n%s", f.Path, diff)
				}
				if f.Hash != "" {
					t.Errorf("%s: composer's scanner may read it otherwise than phpsrc (it has a Hash)", f.Path)
				}
			}
			kinds := map[string]int{}
			aliases := 0
			for p, body := range src {
				// The decoys are there, and were not counted above.
				if !strings.Contains(body, "class NotAClass {}") || !strings.Contains(body, "interface Fake") {
					t.Errorf("%s: no heredoc or comment decoy", p)
				}
				m := declaration.FindAllStringSubmatch(body, -1)
				if len(m) != 1 || m[0][2]+".php" != path.Base(p) {
					t.Errorf("%s: declarations %q, want one named after the file", p, m)
					continue
				}
				kinds[m[0][1]]++
				if !strings.Contains(body, "declare(strict_types=1);") {
					t.Errorf("%s: no strict_types", p)
				}
				if m[0][1] == "class" {
					aliases += checkImports(t, p, body)
				}
			}
			want := map[string]int{"interface": tc.app.ClassDirs, "trait": tc.app.ClassDirs, "enum": tc.app.ClassDirs, "class": classes - 3*tc.app.ClassDirs}
			if diff := cmp.Diff(want, kinds); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
			if tc.name == "aliased import" && aliases == 0 {
				t.Error("no import was aliased")
			}
		})
	}
}

var useLine = regexp.MustCompile(`(?m)^use (App\\Module\d{3}\\(\w+))(?: as (\w+))?;$`)

// checkImports checks that a class's imports name classes of other
// modules and clash neither with each other nor with the names it uses
// unqualified: its own and its module's interface, trait and enum. It
// returns how many imports are aliased.
func checkImports(t *testing.T, p, body string) (aliases int) {
	t.Helper()
	module := path.Base(path.Dir(p))
	names := map[string]bool{strings.TrimSuffix(path.Base(p), ".php"): true}
	for _, re := range []string{`implements (\w+)`, `(?m)^    use (\w+);`, `private (\w+) \$status`} {
		m := regexp.MustCompile(re).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no %s", p, re)
			continue
		}
		names[m[1]] = true
	}
	for _, m := range useLine.FindAllStringSubmatch(body, -1) {
		if strings.HasPrefix(m[1], `App\`+module+`\`) {
			t.Errorf("%s: imports %s from its own module", p, m[1])
		}
		short := m[2]
		if m[3] != "" {
			short = m[3]
			aliases++
		}
		if names[short] {
			t.Errorf("%s: import %s clashes with another name", p, m[0])
		}
		names[short] = true
	}
	return aliases
}

func TestLargeAppPHPLint(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("no php on PATH")
	}
	src := under(tree(t, writeLargeApp(t, LargeApp{ClassDirs: 2, ClassesPerDir: 5})), "src/")
	dir := t.TempDir()
	lib, err := smallLarge.packageZip(1, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(lib), int64(len(lib)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".php") {
			src[f.Name] = readZipFile(t, f)
		}
	}
	for p, body := range src {
		file := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(php, "-l", file).CombinedOutput(); err != nil {
			t.Errorf("php -l %s: %v\n%s", p, err, out)
		}
	}
}

func readZipFile(t *testing.T, f *zip.File) string {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func sha1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// checkPackage checks a package's zip as composer unpacks it and returns
// the bytes of its files.
func checkPackage(t *testing.T, l LargeApp, name, version string, body []byte) (unpacked int) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	lib := strings.TrimPrefix(name, "bench/")
	top := lib + "-" + version + "/"
	ns := `Bench\L` + lib[1:]
	php := 0
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !strings.HasPrefix(f.Name, top) {
			t.Errorf("%s: %s is not under %s", name, f.Name, top)
		}
		if !f.Modified.Equal(zipTime) {
			t.Errorf("%s: %s modified %v, want %v", name, f.Name, f.Modified, zipTime)
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if f.Method != zip.Deflate {
			t.Errorf("%s: %s stored with method %d, want deflate", name, f.Name, f.Method)
		}
		src := readZipFile(t, f)
		unpacked += len(src)
		switch {
		case f.Name == top+"composer.json":
			var manifest map[string]any
			if err := json.Unmarshal([]byte(src), &manifest); err != nil {
				t.Fatalf("%s: composer.json: %v", name, err)
			}
			want := map[string]any{
				"name":     name,
				"type":     "library",
				"license":  "MIT",
				"autoload": map[string]any{"psr-4": map[string]any{ns + `\`: "src/"}},
			}
			if diff := cmp.Diff(want, manifest); diff != "" {
				t.Errorf("%s: composer.json (-want +got):\n%s", name, diff)
			}
		case strings.HasPrefix(f.Name, top+"src/") && strings.HasSuffix(f.Name, ".php"):
			php++
			rel := strings.TrimSuffix(strings.TrimPrefix(f.Name, top+"src/"), ".php")
			dir, class := path.Split(rel)
			if !strings.Contains(src, "namespace "+ns+`\`+strings.TrimSuffix(dir, "/")+";") || !strings.Contains(src, "\nclass "+class+"\n") {
				t.Errorf("%s: %s does not declare its psr-4 class", name, f.Name)
			}
			if !strings.Contains(src, "@version "+version+"\n") || !strings.Contains(src, "VERSION = '"+version+"'") {
				t.Errorf("%s: %s does not name version %s", name, f.Name, version)
			}
			if n := len(src); n < l.PackageFileBytes*85/100 || n > l.PackageFileBytes*115/100 {
				t.Errorf("%s: %s is %d bytes, want about %d", name, f.Name, n, l.PackageFileBytes)
			}
		default:
			t.Errorf("%s: unexpected file %s", name, f.Name)
		}
	}
	if php != l.FilesPerPackage {
		t.Errorf("%s: %d PHP files, want %d", name, php, l.FilesPerPackage)
	}
	if names[0] != top {
		t.Errorf("%s: first entry %s, want the top directory", name, names[0])
	}
	if !isSorted(names) {
		t.Errorf("%s: entries not sorted: %q", name, names)
	}
	return unpacked
}

func isSorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func TestComposerRepo(t *testing.T) {
	repo := smallLarge.Repo()
	srv := httptest.NewServer(repo)
	defer srv.Close()
	if diff := cmp.Diff([]string{"bench/lib01", "bench/lib02"}, repo.Names()); diff != "" {
		t.Errorf("Names (-want +got):\n%s", diff)
	}
	pkgs, err := repo.LockPackages(srv.URL, map[string]string{"bench/lib02": "1.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 {
		t.Fatalf("%d lock packages, want 2", len(pkgs))
	}
	zips := map[string][]byte{}
	for i, version := range []string{"1.0.0", "1.0.1"} {
		name := repo.Names()[i]
		lib := strings.TrimPrefix(name, "bench/")
		url := srv.URL + "/dists/bench-" + lib + "-" + version + ".zip"
		code, body := get(t, url)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d", url, code)
		}
		sum := sha1Hex(body)
		// Round-trip through JSON, as composer.lock holds it.
		js, err := json.Marshal(pkgs[i])
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(js, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"name":    name,
			"version": version,
			"dist": map[string]any{
				"type":      "zip",
				"url":       url,
				"reference": sum,
				"shasum":    sum,
			},
			"type":             "library",
			"autoload":         map[string]any{"psr-4": map[string]any{`Bench\L` + lib[1:] + `\`: "src/"}},
			"license":          []any{"MIT"},
			"notification-url": srv.URL + "/downloads/",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("lock entry %d (-want +got):\n%s", i, diff)
		}
		unpacked := checkPackage(t, smallLarge, name, version, body)
		want2 := smallLarge.FilesPerPackage * smallLarge.PackageFileBytes
		if unpacked < want2*85/100 || unpacked > want2*115/100 {
			t.Errorf("%s unpacks to %d bytes, want about %d", name, unpacked, want2)
		}
		zips[name+"@"+version] = body
	}

	// 1.0.1 of lib01 differs from 1.0.0, and a new repo builds the same
	// zips: the lock of one run holds in the next.
	_, other := get(t, srv.URL+"/dists/bench-lib01-1.0.1.zip")
	checkPackage(t, smallLarge, "bench/lib01", "1.0.1", other)
	if bytes.Equal(other, zips["bench/lib01@1.0.0"]) {
		t.Error("bench/lib01 1.0.0 and 1.0.1 zips are the same")
	}
	again, err := smallLarge.Repo().LockPackages(srv.URL, map[string]string{"bench/lib02": "1.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pkgs, again); diff != "" {
		t.Errorf("a second repo locks otherwise (-first +second):\n%s", diff)
	}

	// Concurrent downloads of a zip not built yet all get the same bytes.
	var wg sync.WaitGroup
	bodies := make([][]byte, 8)
	for i := range bodies {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/dists/bench-lib02-2.0.0.zip")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			bodies[i], _ = io.ReadAll(resp.Body)
		})
	}
	wg.Wait()
	for i, b := range bodies {
		if len(b) == 0 || !bytes.Equal(b, bodies[0]) {
			t.Errorf("concurrent download %d differs", i)
		}
	}

	for _, p := range []string{
		"/",
		"/dists/",
		"/dists/bench-lib03-1.0.0.zip", // no such package
		"/dists/bench-lib00-1.0.0.zip",
		"/dists/bench-lib1-1.0.0.zip", // not its name
		"/dists/bench-lib01-.zip",
		"/dists/bench-lib01-1.0.0.tar",
		"/dists/bench-lib01-1.0.0.zip/x",
		"/dists/other-lib01-1.0.0.zip",
		"/bench-lib01-1.0.0.zip",
	} {
		if code, _ := get(t, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
	resp, err := http.Post(srv.URL+"/downloads/", "application/json", strings.NewReader(`{"downloads":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("POST /downloads/: %d, want 204", resp.StatusCode)
	}
}

func TestComposerRepoLockErrors(t *testing.T) {
	repo := smallLarge.Repo()
	for _, versions := range []map[string]string{
		{"bench/lib03": "1.0.0"},
		{"vendor/other": "1.0.0"},
		{"bench/lib01": "1.0.0/../x"},
		{"bench/lib01": ""},
	} {
		if _, err := repo.LockPackages("http://127.0.0.1:1", versions); err == nil {
			t.Errorf("LockPackages(%v): no error", versions)
		}
	}
}

// TestLargeAppDefault writes DefaultLarge and builds one of its packages:
// the sizes the bench counts on.
func TestLargeAppDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 17 MB")
	}
	l := DefaultLarge
	dir := t.TempDir()
	start := time.Now()
	if err := l.WriteApp(dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("WriteApp: %v", time.Since(start))
	files := tree(t, dir)
	src, static := under(files, "src/"), under(files, "public/static/")
	if len(src) != 5000 || len(static) != 2000 || len(files) != 7000 {
		t.Errorf("%d files under src/, %d under public/static/, %d in all; want 5000, 2000, 7000", len(src), len(static), len(files))
	}
	dirs := map[string]bool{}
	srcBytes := 0
	for p, b := range src {
		dirs[path.Dir(p)] = true
		srcBytes += len(b)
	}
	if len(dirs) != 500 {
		t.Errorf("classes in %d dirs, want 500", len(dirs))
	}
	within(t, "app classes", float64(srcBytes), 5000*1500)
	staticBytes := 0
	for _, b := range static {
		staticBytes += len(b)
	}
	within(t, "static files", float64(staticBytes), checkStatic(t, static))

	start = time.Now()
	d, err := l.Repo().dist(1, "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("one package zip: %v", time.Since(start))
	unpacked := checkPackage(t, l, "bench/lib01", "1.0.0", d.zip)
	within(t, "bench/lib01 unpacked", float64(unpacked), 400*5000)
	t.Logf("app classes %d bytes, static files %d bytes, bench/lib01 %d bytes unpacked, %d zipped", srcBytes, staticBytes, unpacked, len(d.zip))
}

func within(t *testing.T, what string, got, want float64) {
	t.Helper()
	if got < want*0.85 || got > want*1.15 {
		t.Errorf("%s: %.0f bytes, want %.0f ±15%%", what, got, want)
	}
}
