package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/go-connections/nat"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/bench/physical"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/faultproxy"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/release"
	"github.com/phpbuild/phpbuild/testbed"
)

// The figures, in the order the table shows them.
const (
	figCold        = "cold build (empty local cache)"
	figNoop        = "no-op rebuild, same commit"
	figCode        = "one-line PHP change, empty local cache"
	figClass       = "a class added, empty local cache"
	figLock        = "composer.lock change, empty local cache"
	figSize        = "image size, compressed"
	figSizeRaw     = "image size, uncompressed"
	figPushed      = "bytes pushed, code change: image"
	figPushedCache = "bytes pushed, code change: image + build cache"
	figSwitch      = "release: new version serving"
	figRelease     = "release: whole release, drain included"
	figFailed      = "release: failed requests under load"

	figPulledClass = "bytes pulled, a class added"
	figPulledLock  = "bytes pulled, composer.lock change"

	large      = "large app: "
	figLCold   = large + figCold
	figLCode   = large + figCode
	figLClass  = large + figClass
	figLLock   = large + figLock
	figLPushed = large + figPushed

	limitCode  = "one-line PHP change: phpbuild against tar + gzip + upload of its app layer"
	limitLCode = large + limitCode
	// limitProc and limitLProc are limitCode with the limit run as a
	// program of its own, timed from exec to exit as phpbuild is.
	limitProc  = "one-line PHP change: phpbuild against the same upload as a program of its own"
	limitLProc = large + limitProc
	// limitFar and limitLFar are limitCode with the registry farDelay
	// away.
	limitFar  = "one-line PHP change, registry 20 ms away: phpbuild against tar + gzip + upload of its app layer"
	limitLFar = large + limitFar
)

// farDelay is how much further away the registry is for limitFar: every
// request waits this long in a proxy (faultproxy.WithLatency), as the
// pushes of a CI runner to a registry in another data centre do.
const farDelay = 20 * time.Millisecond

// limitOrder is the order of the limits table.
var limitOrder = []string{limitCode, limitProc, limitFar, limitLCode, limitLProc, limitLFar}

// figureOrder is the table's order.
var figureOrder = []string{figCold, figNoop, figCode, figClass, figLock, figSize, figSizeRaw, figPushed, figPushedCache, figPulledClass, figPulledLock, figSwitch, figRelease, figFailed,
	figLCold, figLCode, figLClass, figLLock, figLPushed, large + figPulledClass, large + figPulledLock}

// loadRate is the requests per second kept on the app while it is
// switched.
const loadRate = 50

// BenchmarkVsDockerfile is `make bench`: phpbuild against bench/Dockerfile
// on the bench app, each figure over PHPBUILD_BENCH_RUNS runs (default 3).
// It writes bench/results.md and bench/results.json, and the table into
// README.md between its bench markers.
func BenchmarkVsDockerfile(b *testing.B) {
	if os.Getenv("PHPBUILD_BENCH") == "" {
		b.Skip("run by `make bench` (PHPBUILD_BENCH=1)")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("PHPBUILD_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	// PHPBUILD_BENCH_APPS=small or large measures one app alone, to look
	// into it; the report is then only logged, not written.
	apps := os.Getenv("PHPBUILD_BENCH_APPS")
	if apps != "" && apps != "small" && apps != "large" {
		b.Fatalf("PHPBUILD_BENCH_APPS must be small or large, got %q", apps)
	}
	s := newSuite(b)
	for i := 0; i < runs; i++ {
		if apps != "large" {
			b.Logf("run %d of %d", i+1, runs)
			s.run(b, i)
		}
		if apps != "small" {
			b.Logf("run %d of %d, large app", i+1, runs)
			s.runLarge(b, i)
		}
	}
	rep := &Report{
		Date:    time.Now().Format("2006-01-02"),
		Machine: machine(),
		Runs:    runs,
		App: fmt.Sprintf("testdata/apps/assets plus a composer path package (npm build, composer install); the large app is that app plus %d classes in %d dirs, %d composer packages of %d files (%.0f MB) from an HTTP composer repository, and %d static files",
			DefaultLarge.ClassDirs*DefaultLarge.ClassesPerDir, DefaultLarge.ClassDirs, DefaultLarge.Packages, DefaultLarge.FilesPerPackage,
			float64(DefaultLarge.Packages*DefaultLarge.FilesPerPackage*DefaultLarge.PackageFileBytes)/1e6, DefaultLarge.StaticFiles),
		Notes: []string{
			"Cold: a new buildkitd state dir for each contender. phpbuild's runtime images are in the registry; the Dockerfile's base image is in the registry (as a docker.io mirror), and it installs PHP, nginx, composer, node and npm from the Debian mirror.",
			"No-op: the same commit again on the warm buildkitd. phpbuild finds the commit's tag and builds nothing; the Dockerfile build is all cache hits but exports and pushes again.",
			"The code, class and composer.lock changes build on a new buildkitd state dir, as on an ephemeral CI runner: phpbuild reuses layers from the previous commit's image (a code change that declares no class runs no BuildKit step at all; a step that needs a reused vendor dir pulls that layer alone), the Dockerfile imports its registry cache (mode=max).",
			"Bytes pulled: blob bodies served through that proxy while the contender built (runtime or base images, cache images, layers).",
			"Bytes pushed: request bodies through a counting proxy in front of the registry. The build cache is the Dockerfile's --export-cache; phpbuild has none besides its images.",
			"Physical limit: the app layer's files (as the pushed image lists them) read from the work tree, written as one tar, gzipped while go-containerregistry uploads it, then a config and a manifest put; nothing else, in the same run, to a new repo. It runs inside the bench's process, warm; \"as a program of its own\" runs the same code as a fresh process linking go-containerregistry alone (bench/physical/limit), timed from exec to exit as phpbuild is: what a CI job pays to push that layer.",
			fmt.Sprintf("Registry %d ms away: after the code change, another one-line change is built by phpbuild, and its physical limit measured, through a proxy that holds every request %d ms (one round trip to a registry in another data centre; connection set-up and bandwidth are not modelled).", farDelay.Milliseconds(), farDelay.Milliseconds()),
			fmt.Sprintf("Release: under %d requests/s, against docker stop && docker rm && docker run of the new Dockerfile image, timed until the new version answers; both contenders' new images are pulled beforehand. phpbuild's \"new version serving\" runs from the start of `phpbuild release` until the proxy sends every new request to the new container (finding the image, start, health check, switch); its whole release adds the old container's graceful drain and the release log.", loadRate),
			"Ratios are of the medians.",
		},
	}
	for _, n := range figureOrder {
		rep.Figures = append(rep.Figures, *s.figures[n])
	}
	for _, n := range limitOrder {
		rep.Limits = append(rep.Limits, *s.limits[n])
	}
	for _, n := range []string{figCold, figCode, figClass, figLock, figPushed, figPulledClass, figPulledLock} {
		rep.Growth = append(rep.Growth, Growth{Small: n, Large: large + n})
	}
	md := rep.Markdown()
	b.Logf("\n%s", md)
	for _, f := range rep.Figures {
		if r, ok := f.Ratio(); ok {
			b.ReportMetric(r, "ratio:"+strings.NewReplacer(" ", "_", ",", "", ":", "", ".", "").Replace(f.Name))
		}
	}
	if apps != "" {
		b.Logf("only the %s app was measured: bench/results.* and README.md are left as they are", apps)
		return
	}
	// Only a report with both apps has every ratio: one app alone leaves
	// NaNs, which JSON cannot hold.
	js, err := rep.JSON()
	if err != nil {
		b.Fatal(err)
	}
	publish(b, "results", "bench", md, js)
}

// publish writes a report's markdown and JSON to bench/NAME.{md,json} and
// the markdown into README.md between the <!-- MARKER:begin --> and
// <!-- MARKER:end --> lines.
func publish(b *testing.B, name, marker, md string, js []byte) {
	write(b, name+".md", []byte(md))
	write(b, name+".json", append(js, '\n'))
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		b.Fatal(err)
	}
	if out, ok := Splice(string(readme), "<!-- "+marker+":begin -->", "<!-- "+marker+":end -->", md); ok {
		write(b, "../README.md", []byte(out))
	} else {
		b.Logf("README.md has no %s markers; the table is in bench/%s.md", marker, name)
	}
}

func write(b *testing.B, path string, body []byte) {
	if err := os.WriteFile(path, body, 0o644); err != nil {
		b.Fatal(err)
	}
}

// suite holds what every run shares.
type suite struct {
	reg   string // the test bed registry, host:port
	proxy *faultproxy.Proxy
	// far is the registry farDelay away (see limitFar).
	far         *faultproxy.Proxy
	runtimeRepo string // the runtime repo's path
	bin         string // phpbuild
	runtimes    string // the runtime repo, through the proxy
	stamp       int64
	figures     map[string]*Figure
	limits      map[string]*Limit
	// pulled are the blob bytes phpbuild and the Dockerfile pulled in the
	// last fresh build.
	pulled [2]float64
	// largeRepo serves the large app's composer packages.
	largePackages *ComposerRepo
	largeRepo     *httptest.Server
	release       string // a dir with project.toml for `phpbuild release`
	appName       string
	port          int    // phpbuild's front proxy
	naive         int    // the naive container's host port
	logged        int    // commands logged (PHPBUILD_BENCH_LOGS)
	limitBin      string // bench/physical/limit, built
}

func newSuite(b *testing.B) *suite {
	s := &suite{reg: testbed.Registry(b), stamp: time.Now().Unix(), figures: map[string]*Figure{}, limits: map[string]*Limit{}}
	testbed.DockerHost(b)
	rt := buildtest.Runtimes(b)
	s.proxy = faultproxy.New(s.reg, nil)
	b.Cleanup(s.proxy.Close)
	s.far = faultproxy.New(s.reg, nil, faultproxy.WithLatency(farDelay))
	b.Cleanup(s.far.Close)
	s.runtimeRepo = rt.RepositoryStr()
	s.runtimes = s.proxy.Addr() + "/" + s.runtimeRepo
	s.bin = filepath.Join(b.TempDir(), "phpbuild")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", s.bin, "../cmd/phpbuild").CombinedOutput(); err != nil {
		b.Fatalf("building phpbuild: %v\n%s", err, out)
	}
	s.limitBin = filepath.Join(b.TempDir(), "limit")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", s.limitBin, "./physical/limit").CombinedOutput(); err != nil {
		b.Fatalf("building the physical limit: %v\n%s", err, out)
	}
	for _, n := range figureOrder {
		s.figures[n] = &Figure{Name: n, Unit: Seconds}
	}
	for _, n := range limitOrder {
		s.limits[n] = &Limit{Name: n}
	}
	for _, n := range []string{figSize, figSizeRaw, figPushed, figPushedCache, figLPushed, figPulledClass, figPulledLock, large + figPulledClass, large + figPulledLock} {
		s.figures[n].Unit = Bytes
	}
	s.figures[figFailed].Unit = Requests
	s.appName = fmt.Sprintf("bench%d", s.stamp%1e6)
	s.port, s.naive = testbed.FreePort(b), testbed.FreePort(b)
	s.release = b.TempDir()
	buildtest.Write(b, s.release, "project.toml", fmt.Sprintf(`[environments.bench]
app = %q
port = %d
image = "%s/bench/unused"
drain_timeout = "5s"

[environments.bench.health]
interval = "200ms"
deadline = "60s"
`, s.appName, s.port, s.reg))
	b.Cleanup(func() { s.cleanupContainers(b) })
	s.largePackages = DefaultLarge.Repo()
	s.largeRepo = httptest.NewServer(s.largePackages)
	b.Cleanup(s.largeRepo.Close)
	return s
}

// add records one run's sample of fig for both contenders and shows it.
func (s *suite) add(b *testing.B, fig string, phpbuild, dockerfile float64) {
	f := s.figures[fig]
	f.Phpbuild = append(f.Phpbuild, phpbuild)
	f.Dockerfile = append(f.Dockerfile, dockerfile)
	progress(b, "%-48s phpbuild %-10s Dockerfile %s", fig+":", f.Unit.format(phpbuild), f.Unit.format(dockerfile))
}

// progress logs a sample, and writes it to stderr at once: a benchmark's
// log is printed only when it ends, and a large app's run is long.
func progress(b *testing.B, format string, args ...any) {
	b.Logf(format, args...)
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// images are one commit's images, by registry path (no host).
type images struct{ phpbuild, dockerfile string }

// contenders are one app's repos (registry paths): phpbuild's image, the
// Dockerfile's image and its registry cache.
type contenders struct{ pb, df, dfCache string }

func newContenders(id string) contenders {
	return contenders{id + "-phpbuild", id + "-dockerfile", id + "-dockerfile-cache"}
}

// images are dir's HEAD as both contenders built it.
func (c contenders) images(b *testing.B, dir string) images {
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	return images{c.pb + ":" + sha, c.df + ":" + sha}
}

// fresh builds dir's HEAD with both contenders, each on a new buildkitd
// as on an ephemeral CI runner, and returns the seconds each took. What
// each pulled from the registry is left in s.pulled.
func (s *suite) fresh(b *testing.B, dir string, c contenders) (pb, df float64) {
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	pbd, dfd := testbed.StartBuildkitd(b, "", s.proxy.Addr()), testbed.StartBuildkitd(b, "", s.proxy.Addr())
	defer pbd.Remove()
	defer dfd.Remove()
	d0 := s.proxy.Downloaded()
	pb = s.phpbuild(b, pbd, dir, c.pb)
	d1 := s.proxy.Downloaded()
	df = s.dockerfile(b, dfd, dir, c.df, c.dfCache, sha)
	s.pulled = [2]float64{float64(d1 - d0), float64(s.proxy.Downloaded() - d1)}
	return pb, df
}

// addFresh records fig as dir's HEAD built fresh by both contenders.
func (s *suite) addFresh(b *testing.B, fig, dir string, c contenders) {
	pb, df := s.fresh(b, dir, c)
	s.add(b, fig, pb, df)
}

// run is one pass over every figure of the small app, with its own repos
// and buildkitds.
func (s *suite) run(b *testing.B, i int) {
	dir := benchApp(b)
	c := newContenders(fmt.Sprintf("bench/%d-%d", s.stamp, i))

	// Cold, then the same commit again on the warm daemon.
	pbd, dfd := testbed.StartBuildkitd(b, "", s.proxy.Addr()), testbed.StartBuildkitd(b, "", s.proxy.Addr())
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	v1 := c.images(b, dir)
	s.add(b, figCold, s.phpbuild(b, pbd, dir, c.pb), s.dockerfile(b, dfd, dir, c.df, c.dfCache, sha))
	s.add(b, figNoop, s.phpbuild(b, pbd, dir, c.pb), s.dockerfile(b, dfd, dir, c.df, c.dfCache, sha))
	pbd.Remove()
	dfd.Remove()
	pc, pu := s.size(b, v1.phpbuild)
	dc, du := s.size(b, v1.dockerfile)
	s.add(b, figSize, pc, dc)
	s.add(b, figSizeRaw, pu, du)

	pbUp, dfUp, dcUp := s.codeChange(b, dir, c, figCode, limitCode, limitProc)
	v2 := c.images(b, dir)
	s.farChange(b, dir, c, limitFar)
	s.add(b, figPushed, float64(pbUp), float64(dfUp))
	s.add(b, figPushedCache, float64(pbUp), float64(dfUp+dcUp))

	s.classAdded(b, dir, c, figClass)
	s.add(b, figPulledClass, s.pulled[0], s.pulled[1])

	// composer update bumped the path package: a new version in the lock.
	bumpGreeter(b, dir)
	buildtest.Commit(b, dir, "greeter 1.0.1", "2026-01-04T00:00:00Z")
	s.addFresh(b, figLock, dir, c)
	s.add(b, figPulledLock, s.pulled[0], s.pulled[1])
	s.checkVendor(b, c.images(b, dir), "phpbuild-testdata/greeter", "1.0.1")

	serving, whole, pf := s.releasePhpbuild(b, v1, v2)
	dt, dfail := s.releaseNaive(b, v1, v2)
	s.add(b, figSwitch, serving, dt)
	s.add(b, figRelease, whole, dt)
	s.add(b, figFailed, pf, dfail)
	// The released containers go now, not at the end: their health check
	// (an exec every 200 ms) would run under every later figure, the
	// millisecond ones most of all, and each run releases to a host with
	// no release yet, as the first one does.
	s.cleanupContainers(b)
}

// runLarge is one pass over the large app's figures: cold, a code
// change, a class added and a lock change.
func (s *suite) runLarge(b *testing.B, i int) {
	dir := s.largeApp(b)
	c := newContenders(fmt.Sprintf("bench/%d-%d-large", s.stamp, i))
	s.addFresh(b, figLCold, dir, c)
	pbUp, dfUp, _ := s.codeChange(b, dir, c, figLCode, limitLCode, limitLProc)
	s.farChange(b, dir, c, limitLFar)
	s.add(b, figLPushed, float64(pbUp), float64(dfUp))
	s.classAdded(b, dir, c, figLClass)
	s.add(b, large+figPulledClass, s.pulled[0], s.pulled[1])
	s.writeLargeLock(b, dir, map[string]string{"bench/lib01": "1.0.1"})
	buildtest.Commit(b, dir, "lib01 1.0.1", "2026-01-04T00:00:00Z")
	s.addFresh(b, figLLock, dir, c)
	s.add(b, large+figPulledLock, s.pulled[0], s.pulled[1])
	s.checkVendor(b, c.images(b, dir), "bench/lib01", "1.0.1")
}

// codeChange commits a one-line change to public/index.php and builds it
// fresh as fig; limit gets the physical limit of phpbuild's app layer, and
// proc that limit as a program of its own. It returns the bytes each
// contender pushed, and the Dockerfile's cache.
func (s *suite) codeChange(b *testing.B, dir string, c contenders, fig, limit, proc string) (pb, df, cache int64) {
	page := filepath.Join(dir, "public", "index.php")
	old, _ := os.ReadFile(page)
	buildtest.Write(b, dir, "public/index.php", strings.Replace(string(old), "<h1>assets app</h1>", "<h1>assets app v2</h1>", 1))
	buildtest.Commit(b, dir, "v2", "2026-01-03T00:00:00Z")
	pb0, df0, dc0 := s.proxy.Uploaded(c.pb), s.proxy.Uploaded(c.df), s.proxy.Uploaded(c.dfCache)
	pbTime, dfTime := s.fresh(b, dir, c)
	s.add(b, fig, pbTime, dfTime)
	pb, df, cache = s.proxy.Uploaded(c.pb)-pb0, s.proxy.Uploaded(c.df)-df0, s.proxy.Uploaded(c.dfCache)-dc0

	img := c.images(b, dir).phpbuild
	files := s.appFiles(b, img)
	_, sha, _ := strings.Cut(img, ":")
	to, err := name.ParseReference(s.proxy.Addr()+"/"+c.pb+"-limit:"+sha, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	took, err := physical.Limit(dir, "/app", files, to)
	if err != nil {
		b.Fatalf("the physical limit of %s: %v", img, err)
	}
	s.addLimit(b, limit, pbTime, took, len(files))
	cmd := exec.Command(s.limitBin, dir, "/app", s.proxy.Addr()+"/"+c.pb+"-limit-proc:"+sha)
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n"))
	s.addLimit(b, proc, pbTime, time.Duration(s.timed(b, cmd)*float64(time.Second)), len(files))
	return pb, df, cache
}

// appFiles lists the files of img's app layer (see AppLayerFiles).
func (s *suite) appFiles(b *testing.B, img string) []string {
	ref, err := name.ParseReference(s.reg+"/"+img, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	built, err := remote.Image(ref)
	if err != nil {
		b.Fatalf("%s: %v", ref, err)
	}
	files, err := AppLayerFiles(built, "/app")
	if err != nil {
		b.Fatalf("%s: %v", ref, err)
	}
	return files
}

// addLimit records one run of phpbuild against the physical limit.
func (s *suite) addLimit(b *testing.B, limit string, phpbuild float64, took time.Duration, files int) {
	l := s.limits[limit]
	l.Phpbuild = append(l.Phpbuild, phpbuild)
	l.Limit = append(l.Limit, took.Seconds())
	progress(b, "%-48s phpbuild %.0f ms    limit %.0f ms (%d files)", limit+":", phpbuild*1000, took.Seconds()*1000, files)
}

// farChange commits another one-line change after codeChange's and builds
// it with phpbuild through s.far, the registry farDelay away, then
// measures the physical limit of its app layer the same way, as limit.
func (s *suite) farChange(b *testing.B, dir string, c contenders, limit string) {
	page := filepath.Join(dir, "public", "index.php")
	old, _ := os.ReadFile(page)
	changed := strings.Replace(string(old), "<h1>assets app v2</h1>", "<h1>assets app v3</h1>", 1)
	if changed == string(old) {
		b.Fatalf("%s: no v2 heading to change", page)
	}
	buildtest.Write(b, dir, "public/index.php", changed)
	buildtest.Commit(b, dir, "v3", "2026-01-03T06:00:00Z")
	bk := testbed.StartBuildkitd(b, "", s.far.Addr())
	defer bk.Remove()
	cmd := exec.Command(s.bin, "build", dir, "--image", s.far.Addr()+"/"+c.pb, "--runtimes", s.far.Addr()+"/"+s.runtimeRepo, "--progress", "plain")
	cmd.Env = append(os.Environ(), "BUILDKIT_HOST="+bk.Host)
	pbTime := s.timed(b, cmd)
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	files := s.appFiles(b, c.pb+":"+sha)
	to, err := name.ParseReference(s.far.Addr()+"/"+c.pb+"-limit:far-"+sha, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	took, err := physical.Limit(dir, "/app", files, to)
	if err != nil {
		b.Fatalf("the physical limit of %s, far: %v", c.pb, err)
	}
	s.addLimit(b, limit, pbTime, took, len(files))
}

// classAdded commits a new class under the app's psr-4 dir, which changes
// composer's classmap, and builds it fresh as fig.
func (s *suite) classAdded(b *testing.B, dir string, c contenders, fig string) {
	buildtest.Write(b, dir, "src/Invoice.php", "<?php\n\nnamespace App;\n\nfinal class Invoice\n{\n}\n")
	buildtest.Commit(b, dir, "a class", "2026-01-03T12:00:00Z")
	s.addFresh(b, fig, dir, c)
}

// largeApp is the bench app plus DefaultLarge's classes, static files and
// composer packages (served by s.largeRepo), as a new commit.
func (s *suite) largeApp(b *testing.B) string {
	dir := benchApp(b)
	start := time.Now()
	if err := DefaultLarge.WriteApp(dir); err != nil {
		b.Fatal(err)
	}
	var cj map[string]any
	readJSON(b, filepath.Join(dir, "composer.json"), &cj)
	for _, n := range s.largePackages.Names() {
		cj["require"].(map[string]any)[n] = "^1.0"
	}
	cj["repositories"] = append(cj["repositories"].([]any), map[string]any{"type": "composer", "url": s.largeRepo.URL})
	cj["config"] = map[string]any{"secure-http": false}
	writeJSON(b, filepath.Join(dir, "composer.json"), cj)
	s.writeLargeLock(b, dir, nil)
	buildtest.Commit(b, dir, "the large app", "2026-01-02T08:00:00Z")
	b.Logf("large app generated and committed in %s", time.Since(start).Round(time.Millisecond))
	return dir
}

// writeLargeLock puts the large app's packages, at versions (1.0.0 unless
// named), into composer.lock beside the path package.
func (s *suite) writeLargeLock(b *testing.B, dir string, versions map[string]string) {
	pkgs, err := s.largePackages.LockPackages(s.largeRepo.URL, versions)
	if err != nil {
		b.Fatal(err)
	}
	var lock map[string]any
	readJSON(b, filepath.Join(dir, "composer.lock"), &lock)
	var kept []any
	for _, p := range lock["packages"].([]any) {
		if n, _ := p.(map[string]any)["name"].(string); !strings.HasPrefix(n, "bench/") {
			kept = append(kept, p)
		}
	}
	for _, p := range pkgs {
		kept = append(kept, p)
	}
	lock["packages"] = kept
	writeJSON(b, filepath.Join(dir, "composer.lock"), lock)
}

// benchApp is testdata/apps/assets with a composer path package, as a git
// repo with one commit.
func benchApp(b *testing.B) string {
	dir := buildtest.GitApp(b, "assets")
	root := filepath.Join("..", "testdata", "apps", "plain")
	if out, err := exec.Command("cp", "-a", filepath.Join(root, "packages"), dir).CombinedOutput(); err != nil {
		b.Fatalf("copying the path package: %v\n%s", err, out)
	}
	var cj map[string]any
	readJSON(b, filepath.Join(dir, "composer.json"), &cj)
	cj["require"].(map[string]any)["phpbuild-testdata/greeter"] = "^1.0"
	cj["repositories"] = []any{map[string]any{"type": "path", "url": "packages/greeter", "options": map[string]any{"symlink": false}}}
	cj["autoload"] = map[string]any{"psr-4": map[string]any{"App\\": "src/"}}
	buildtest.Write(b, dir, "src/Page.php", "<?php\n\nnamespace App;\n\nfinal class Page\n{\n    public function title(): string { return 'assets app'; }\n}\n")
	writeJSON(b, filepath.Join(dir, "composer.json"), cj)
	var lock, plain map[string]any
	readJSON(b, filepath.Join(dir, "composer.lock"), &lock)
	readJSON(b, filepath.Join(root, "composer.lock"), &plain)
	lock["packages"] = plain["packages"]
	writeJSON(b, filepath.Join(dir, "composer.lock"), lock)
	buildtest.Commit(b, dir, "require the greeter", "2026-01-02T04:00:00Z")
	return dir
}

// bumpGreeter makes greeter 1.0.1, with a code change, in the package and
// the lock, as `composer update` would.
func bumpGreeter(b *testing.B, dir string) {
	src := filepath.Join(dir, "packages", "greeter", "src", "Greeter.php")
	code, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	buildtest.Write(b, dir, "packages/greeter/src/Greeter.php", string(code)+"// 1.0.1\n")
	var pkg, lock map[string]any
	readJSON(b, filepath.Join(dir, "packages", "greeter", "composer.json"), &pkg)
	pkg["version"] = "1.0.1"
	writeJSON(b, filepath.Join(dir, "packages", "greeter", "composer.json"), pkg)
	readJSON(b, filepath.Join(dir, "composer.lock"), &lock)
	p := lock["packages"].([]any)[0].(map[string]any)
	p["version"] = "1.0.1"
	p["dist"].(map[string]any)["reference"] = "0000000000000000000000000000000000000101"
	writeJSON(b, filepath.Join(dir, "composer.lock"), lock)
}

func readJSON(b *testing.B, path string, v any) {
	body, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		b.Fatalf("%s: %v", path, err)
	}
}

func writeJSON(b *testing.B, path string, v any) {
	body, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		b.Fatal(err)
	}
	write(b, path, append(body, '\n'))
}

// phpbuild builds and pushes dir to repo (a path in the registry) with
// bk, and returns the seconds it took.
func (s *suite) phpbuild(b *testing.B, bk *testbed.Buildkitd, dir, repo string) float64 {
	cmd := exec.Command(s.bin, "build", dir, "--image", s.proxy.Addr()+"/"+repo, "--runtimes", s.runtimes, "--progress", "plain")
	cmd.Env = append(os.Environ(), "BUILDKIT_HOST="+bk.Host)
	return s.timed(b, cmd)
}

// dockerfile builds bench/Dockerfile on dir with buildctl and bk, pushing
// repo:tag and the registry cache, and returns the seconds it took.
func (s *suite) dockerfile(b *testing.B, bk *testbed.Buildkitd, dir, repo, cache, tag string) float64 {
	return s.buildctl(b, bk, dir, "Dockerfile", repo+":"+tag, cache, map[string]string{
		// The base through the proxy too, so that its pulls are counted.
		"BASE": s.proxy.Addr() + "/library/debian:trixie-slim",
	})
}

// buildctl builds bench/file on dir with buildctl, bk and args, pushing
// ref and the registry cache repo cache, and returns the seconds it took.
func (s *suite) buildctl(b *testing.B, bk *testbed.Buildkitd, dir, file, ref, cache string, args map[string]string) float64 {
	here, _ := os.Getwd()
	cacheRef := s.proxy.Addr() + "/" + cache + ":buildcache"
	argv := []string{"--addr", bk.Host, "build",
		"--frontend", "dockerfile.v0", "--local", "context=" + dir, "--local", "dockerfile=" + here,
		"--opt", "filename=" + file,
		"--output", "type=image,name=" + s.proxy.Addr() + "/" + ref + ",push=true",
		"--export-cache", "type=registry,ref=" + cacheRef + ",mode=max",
		"--import-cache", "type=registry,ref=" + cacheRef,
		"--progress", "plain"}
	for _, k := range slices.Sorted(maps.Keys(args)) {
		argv = append(argv, "--opt", "build-arg:"+k+"="+args[k])
	}
	return s.timed(b, exec.Command(testbed.Buildctl(), argv...))
}

// timed runs cmd and returns its wall time in seconds; a failure ends the
// benchmark with its output's tail. With PHPBUILD_BENCH_LOGS=DIR, each
// command's output is kept there, numbered in the order they ran.
func (s *suite) timed(b *testing.B, cmd *exec.Cmd) float64 {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Seconds()
	if dir := os.Getenv("PHPBUILD_BENCH_LOGS"); dir != "" {
		s.logged++
		log := fmt.Sprintf("%s\n(%.2f s)\n%s", strings.Join(cmd.Args, " "), took, out.Bytes())
		write(b, filepath.Join(dir, fmt.Sprintf("%03d-%s.log", s.logged, filepath.Base(cmd.Args[0]))), []byte(log))
	}
	if err != nil {
		tail := out.String()
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		b.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, tail)
	}
	return took
}

// size is an image's compressed size (manifest, config and layers as
// stored) and uncompressed size (its layers' tar streams).
func (s *suite) size(b *testing.B, path string) (compressed, uncompressed float64) {
	ref, err := name.ParseReference(s.reg+"/"+path, name.Insecure)
	if err != nil {
		b.Fatal(err)
	}
	img, err := remote.Image(ref)
	if err != nil {
		b.Fatalf("%s: %v", ref, err)
	}
	mf, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()
	compressed = float64(len(mf) + len(cfg))
	layers, err := img.Layers()
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range layers {
		n, _ := l.Size()
		compressed += float64(n)
		rc, err := l.Uncompressed()
		if err != nil {
			b.Fatal(err)
		}
		u, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			b.Fatalf("%s: reading a layer: %v", ref, err)
		}
		uncompressed += float64(u)
	}
	return compressed, uncompressed
}

// checkVendor makes sure both images of a lock change hold pkg at version:
// a bench of builds that do different work would mean nothing.
func (s *suite) checkVendor(b *testing.B, imgs images, pkg, version string) {
	want := regexp.MustCompile(`"name": "` + regexp.QuoteMeta(pkg) + `",\s*"version": "` + regexp.QuoteMeta(version) + `"`)
	for _, c := range []struct{ path, file string }{
		{imgs.phpbuild, "/app/vendor/composer/installed.json"},
		{imgs.dockerfile, "/var/www/app/vendor/composer/installed.json"},
	} {
		out, _, code := testbed.DockerRun(b, s.reg+"/"+c.path, []string{"cat"}, c.file)
		if code != 0 || !want.MatchString(out) {
			b.Fatalf("%s: %s does not list %s %s (exit %d): %.300s", c.path, c.file, pkg, version, code, out)
		}
	}
}

// releasePhpbuild releases v1 without load, then v2 under load; it returns
// the seconds until the new version served (from the start of the
// command: the release log's "serving" step), the seconds `phpbuild
// release` took, drain included, and the requests that failed.
func (s *suite) releasePhpbuild(b *testing.B, v1, v2 images) (serving, took, failed float64) {
	rel := func(img string) *exec.Cmd {
		return exec.Command(s.bin, "release", s.release, "--env", "bench", "--image", s.reg+"/"+img)
	}
	s.timed(b, rel(v1.phpbuild))
	url := fmt.Sprintf("http://127.0.0.1:%d/", s.port)
	waitFor(b, url, "<h1>assets app</h1>")
	// Both contenders start with the new image on the host: the naive
	// one's is pulled beforehand too. phpbuild's pull step then only
	// finds it there.
	s.pull(b, v2.phpbuild)
	l := loadgen.Start(url, loadRate, version)
	time.Sleep(time.Second)
	took = s.timed(b, rel(v2.phpbuild))
	waitFor(b, url, "<h1>assets app v2</h1>")
	time.Sleep(time.Second)
	l.Finish()
	env, err := release.LoadEnvironment(s.release, "bench")
	if err != nil {
		b.Fatal(err)
	}
	hist, err := release.History(context.Background(), env)
	if err != nil || len(hist) == 0 {
		b.Fatalf("the release log: %v", err)
	}
	last := hist[len(hist)-1]
	d, err := time.ParseDuration(last.Steps["serving"])
	if err != nil {
		b.Fatalf("the release log's serving step %q: %v", last.Steps["serving"], err)
	}
	b.Logf("phpbuild release in %.2f s, new version serving after %s %v; load: %v %q", took, d, last.Steps, l, l.Errors())
	return d.Seconds(), took, float64(l.Lost())
}

// pull has the test bed's docker pull imgs (repo:tag in the registry).
func (s *suite) pull(b *testing.B, imgs ...string) {
	cli := testbed.Docker(b)
	for _, img := range imgs {
		rc, err := cli.ImagePull(context.Background(), s.reg+"/"+img, image.PullOptions{})
		if err != nil {
			b.Fatalf("pulling %s: %v", img, err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}

// releaseNaive runs v1 of the Dockerfile image, then under load replaces
// it with v2 the naive way: docker stop, docker rm, docker run. It returns
// the seconds until v2 answered and the requests that failed.
func (s *suite) releaseNaive(b *testing.B, v1, v2 images) (float64, float64) {
	cli := testbed.Docker(b)
	ctx := context.Background()
	s.pull(b, v1.dockerfile, v2.dockerfile)
	ctr := s.appName + "-naive"
	run := func(img string) {
		port := nat.Port("8080/tcp")
		created, err := cli.ContainerCreate(ctx,
			&container.Config{Image: s.reg + "/" + img, ExposedPorts: nat.PortSet{port: {}}, Labels: map[string]string{"dev.phpbuild.bench": s.appName}},
			&container.HostConfig{PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: strconv.Itoa(s.naive)}}}},
			nil, nil, ctr)
		if err != nil {
			b.Fatalf("docker run %s: %v", img, err)
		}
		if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			b.Fatalf("docker run %s: %v", img, err)
		}
	}
	run(v1.dockerfile)
	url := fmt.Sprintf("http://127.0.0.1:%d/", s.naive)
	waitFor(b, url, "<h1>assets app</h1>")
	l := loadgen.Start(url, loadRate, version)
	time.Sleep(time.Second)
	start := time.Now()
	if err := cli.ContainerStop(ctx, ctr, container.StopOptions{}); err != nil {
		b.Fatalf("docker stop: %v", err)
	}
	if err := cli.ContainerRemove(ctx, ctr, container.RemoveOptions{}); err != nil {
		b.Fatalf("docker rm: %v", err)
	}
	run(v2.dockerfile)
	waitFor(b, url, "<h1>assets app v2</h1>")
	took := time.Since(start).Seconds()
	time.Sleep(time.Second)
	l.Finish()
	b.Logf("naive switch in %.2f s; load: %v %q", took, l, l.Errors())
	cli.ContainerRemove(ctx, ctr, container.RemoveOptions{Force: true})
	return took, float64(l.Lost())
}

func version(body string) string {
	switch {
	case strings.Contains(body, "<h1>assets app v2</h1>"):
		return "v2"
	case strings.Contains(body, "<h1>assets app</h1>"):
		return "v1"
	}
	return "other"
}

// waitFor polls url until its body holds want, for up to a minute.
func waitFor(b *testing.B, url, want string) {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), want) {
				return
			}
			last = fmt.Sprintf("%d %.200s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("%s never answered %q; last: %s", url, want, last)
}

func (s *suite) cleanupContainers(b *testing.B) {
	testbed.RemoveLabeled(b, "dev.phpbuild.app="+s.appName)
	testbed.RemoveLabeled(b, "dev.phpbuild.bench="+s.appName)
	testbed.Docker(b).NetworkRemove(context.Background(), "phpbuild-"+s.appName+"-bench")
	os.RemoveAll(filepath.Join(release.StateRoot, s.appName))
}

// machine describes this machine for the report: cores, CPU model,
// memory and kernel.
func machine() string {
	desc := fmt.Sprintf("%d cores", runtime.NumCPU())
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				desc += " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, l := range strings.Split(string(b), "\n") {
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				desc += fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		desc += ", Linux " + strings.TrimSpace(string(b))
	}
	return desc
}
