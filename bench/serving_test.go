package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/loadgen"
	"github.com/phpbuild/phpbuild/testbed"
)

// The serving figures: both images of one commit run side by side, each
// limited to servingCPUs and servingMemory, loaded from this machine over
// the bridge network (no docker-proxy in between).
const (
	servingCPUs   = 1
	servingMemory = 512 << 20
	servingFor    = 5 * time.Second
	// figStart is from ContainerCreate to the first 200 of "/".
	figStart     = "cold start: docker run to the first 200 of /"
	figFirst20   = "cold start: median latency of the first 20 requests"
	figFirst20Hi = "cold start: slowest of the first 20 requests"
	figWorkers   = "php-fpm workers"
	// limitStart is phpbuild's cold start against the floor (see floor).
	limitStart = "cold start against PHP's built-in server in the same image"
)

// servingLevels are the concurrencies each page is loaded at.
var servingLevels = []int{1, 8, 32}

// servingApp is one app both images of which are served side by side.
type servingApp struct {
	label string // what its figures start with
	imgs  images
	env   []string
	// pages are loaded at each level: paths, or "static" for the
	// stylesheet the front page links to.
	pages []string
	// loadOnly leaves out the cold start and the workers: a variant of
	// an app measured in full.
	loadOnly bool
}

// BenchmarkServing measures how fast the phpbuild image and the
// hand-written Dockerfile's image of one commit serve: requests/s, p50 and
// p99 at each concurrency for the front controller, a static file and, on
// the Phalcon app, pages that render Volt templates over the ORM on
// MariaDB; errors, cold start, and the php-fpm workers each runs. It
// writes bench/serving.{md,json} and README.md's serving table.
func BenchmarkServing(b *testing.B) {
	if os.Getenv("PHPBUILD_BENCH") == "" {
		b.Skip("run by `make bench` (PHPBUILD_BENCH=1)")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("PHPBUILD_BENCH_RUNS")); err == nil && n > 0 {
		runs = n
	}
	s := newSuite(b)
	sv := &serving{suite: s, figures: map[string]*Figure{}}
	apps := sv.smallApps(b)
	if shop, ok := sv.shopApp(b); ok {
		apps = append(apps, shop)
	}
	for i := 0; i < runs; i++ {
		for _, a := range apps {
			b.Logf("serving %s, run %d of %d", a.label, i+1, runs)
			sv.measure(b, a, i)
		}
	}
	rep := &Report{
		Date:    time.Now().Format("2006-01-02"),
		Machine: machine(),
		Runs:    runs,
		App:     "the small app (testdata/apps/assets plus a composer path package) and the Phalcon shop (testdata/apps/phalcon-shop), each built by phpbuild and by a hand-written Dockerfile (bench/Dockerfile, bench/phalcon.Dockerfile) from the same commit",
		Notes: []string{
			fmt.Sprintf("Each image runs with --cpus %d --memory %dm on dockerd's bridge, with the same commit's code; the load comes from this machine to the container's address (no docker-proxy), each level for %s over keep-alive connections, a worker sending its next GET when the last is answered (internal/loadgen.Closed). A request unanswered after 5 s counts as an error.", servingCPUs, servingMemory>>20, servingFor),
			"\"catch_workers_output = false\": the same code, built by phpbuild with that line in project.toml's [php.fpm] (workers' stdout and stderr not caught for the container log; README: The config layer), against the same Dockerfile image.",
			"The static file is the stylesheet the front page links to. The Dockerfile images run Debian's nginx and php-fpm settings (pm = dynamic, at most 5 workers; access log to a file); phpbuild's, the config layer's (README: The config layer).",
			"The Phalcon shop's pages render Volt templates with data from MariaDB (the test bed's, shared by both images); its Dockerfile image compiles the templates at run time, phpbuild's ships them compiled. Its Dockerfile copies the phalcon.so of phpbuild's runtime (the same compile of the same source).",
			"Cold start: from ContainerCreate to the first 200 of / (polled every 5 ms), then 20 GETs one after another. Each run starts the images in the other order.",
			"php-fpm workers: phpbuild's as its launcher printed them; the Dockerfile's as `docker top` counts its pool processes after the load.",
			"CPU per request: the CPU time docker counts for the container (its cgroup: nginx, php-fpm and, in phpbuild's, the launcher) while a level ran, over the 200 responses.",
			"The cold start's floor: the phpbuild image of the same commit started with PHP's built-in server (`php -S`, from the web root) as its only process, under the same limits and measured the same way: what docker's create and start plus PHP's first answer take, with no nginx, php-fpm or launcher.",
			"Ratios are of the medians; for latencies and the cold start, lower is better.",
		},
	}
	for _, n := range sv.order {
		rep.Figures = append(rep.Figures, *sv.figures[n])
	}
	for _, l := range sv.floors {
		rep.Limits = append(rep.Limits, *l)
	}
	md := rep.Markdown()
	js, err := rep.JSON()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("\n%s", md)
	publish(b, "serving", "serving", md, js)
}

// smallApps builds the bench app with both contenders, and then with
// `[php.fpm] catch_workers_output = false` in project.toml, which only
// phpbuild reads: that image's front controller is loaded against the
// same Dockerfile image.
func (sv *serving) smallApps(b *testing.B) []servingApp {
	dir := benchApp(b)
	c := newContenders(fmt.Sprintf("bench/%d-serve", sv.stamp))
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	pbd, dfd := testbed.StartBuildkitd(b, "", sv.proxy.Addr()), testbed.StartBuildkitd(b, "", sv.proxy.Addr())
	defer pbd.Remove()
	defer dfd.Remove()
	sv.phpbuild(b, pbd, dir, c.pb)
	sv.dockerfile(b, dfd, dir, c.df, c.dfCache, sha)
	imgs := c.images(b, dir)
	buildtest.Write(b, dir, "project.toml", "[php.fpm]\ncatch_workers_output = false\n")
	buildtest.Commit(b, dir, "workers' output not caught", "2026-01-02T05:00:00Z")
	sv.phpbuild(b, pbd, dir, c.pb)
	noCatch := images{phpbuild: c.images(b, dir).phpbuild, dockerfile: imgs.dockerfile}
	sv.pull(b, imgs.phpbuild, imgs.dockerfile, noCatch.phpbuild)
	return []servingApp{
		{label: "small app", imgs: imgs, pages: []string{"/", "static"}},
		{label: "small app, catch_workers_output = false", imgs: noCatch, pages: []string{"/"}, loadOnly: true},
	}
}

// shopApp builds the Phalcon shop with both contenders and migrates its
// database; without a Phalcon source (PHPBUILD_PHALCON_SOURCE) it is left
// out, saying so.
func (sv *serving) shopApp(b *testing.B) (servingApp, bool) {
	if os.Getenv("PHPBUILD_PHALCON_SOURCE") == "" {
		b.Log("SKIPPED: no PHPBUILD_PHALCON_SOURCE, so no Phalcon runtime: the Phalcon shop's serving figures are left out")
		return servingApp{}, false
	}
	rt, _ := buildtest.PhalconRuntimes(b)
	db := testbed.MariaDB(b)
	dir := buildtest.GitApp(b, "phalcon-shop")
	c := newContenders(fmt.Sprintf("bench/%d-shop", sv.stamp))
	sha := buildtest.Git(b, dir, "rev-parse", "HEAD")
	bk := testbed.StartBuildkitd(b, "", sv.proxy.Addr())
	defer bk.Remove()
	cmd := exec.Command(sv.bin, "build", dir, "--image", sv.proxy.Addr()+"/"+c.pb, "--runtimes", rt.String(), "--progress", "plain")
	cmd.Env = append(os.Environ(), "BUILDKIT_HOST="+bk.Host)
	sv.timed(b, cmd)
	imgs := c.images(b, dir)
	sv.buildctl(b, bk, dir, "phalcon.Dockerfile", c.df+":"+sha, c.dfCache, map[string]string{
		"BASE":         sv.proxy.Addr() + "/library/debian:bookworm-slim",
		"PHALCON_FROM": sv.proxy.Addr() + "/" + imgs.phpbuild,
	})
	sv.pull(b, imgs.phpbuild, imgs.dockerfile)
	env := append(db.Env(), "APP_NAME=Phalcon Shop")
	args := []string{"run", "--rm"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	migrate := exec.Command("docker", append(args, sv.reg+"/"+imgs.phpbuild, "exec", "php", "app/cli.php", "migrate")...)
	if out, err := migrate.CombinedOutput(); err != nil {
		b.Fatalf("php app/cli.php migrate: %v\n%s", err, out)
	}
	return servingApp{label: "Phalcon shop", imgs: imgs, env: env, pages: []string{"/", "/products", "static"}}, true
}

// measure runs a's two images once, side by side, and records their
// figures.
func (sv *serving) measure(b *testing.B, a servingApp, run int) {
	order := []string{a.imgs.phpbuild, a.imgs.dockerfile}
	if run%2 == 1 {
		slices.Reverse(order)
	}
	urls, colds := map[string]string{}, map[string]coldStart{}
	for _, img := range order {
		urls[img], colds[img] = sv.start(b, img, a.env)
	}
	if !a.loadOnly {
		pb, df := colds[a.imgs.phpbuild], colds[a.imgs.dockerfile]
		sv.add(b, a.label+": "+figStart, Seconds, pb.first, df.first)
		sv.addFloor(b, a.label+": "+limitStart, pb.first, sv.floor(b, a))
		sv.add(b, a.label+": "+figFirst20, Millis, pb.next.Median, df.next.Median)
		sv.add(b, a.label+": "+figFirst20Hi, Millis, pb.next.Max, df.next.Max)
	}
	for _, page := range a.pages {
		what := page
		if page == "static" {
			what, page = "static file", sv.staticPath(b, urls[a.imgs.phpbuild])
		}
		for _, n := range servingLevels {
			res, cpu := map[string]loadgen.Result{}, map[string]float64{}
			for _, img := range order {
				before := sv.cpuTime(b, img)
				res[img] = loadgen.Closed(context.Background(), urls[img]+page, n, servingFor, 5*time.Second, 0)
				cpu[img] = float64((sv.cpuTime(b, img) - before).Microseconds()) / float64(max(res[img].OK, 1))
				progress(b, "%-10s %-44s %v, %.0f µs of CPU each", page, img, res[img], cpu[img])
			}
			name := fmt.Sprintf("%s: %s, %d concurrent", a.label, what, n)
			sv.addLoad(b, name, res[a.imgs.phpbuild], res[a.imgs.dockerfile])
			sv.add(b, name+": CPU per request", Micros, cpu[a.imgs.phpbuild], cpu[a.imgs.dockerfile])
		}
	}
	if !a.loadOnly {
		sv.add(b, a.label+": "+figWorkers, Count, float64(sv.workers(b, a.imgs.phpbuild)), float64(sv.workers(b, a.imgs.dockerfile)))
	}
	sv.stopAll(b)
}

// serving holds the serving benchmark's figures, in the order first
// added, and the containers of the current run.
type serving struct {
	*suite
	figures    map[string]*Figure
	order      []string
	floors     []*Limit
	containers map[string]string // image (or floorKey+image) → container ID
}

// addFloor records phpbuild's cold start against the floor's, as name.
func (sv *serving) addFloor(b *testing.B, name string, phpbuild, floor float64) {
	i := slices.IndexFunc(sv.floors, func(l *Limit) bool { return l.Name == name })
	if i < 0 {
		sv.floors = append(sv.floors, &Limit{Name: name})
		i = len(sv.floors) - 1
	}
	l := sv.floors[i]
	l.Phpbuild, l.Limit = append(l.Phpbuild, phpbuild), append(l.Limit, floor)
	progress(b, "%-58s phpbuild %-12s floor %s", name+":", Seconds.format(phpbuild), Seconds.format(floor))
}

func (sv *serving) add(b *testing.B, name string, u Unit, phpbuild, dockerfile float64) {
	f, ok := sv.figures[name]
	if !ok {
		f = &Figure{Name: name, Unit: u}
		sv.figures[name] = f
		sv.order = append(sv.order, name)
	}
	f.Phpbuild = append(f.Phpbuild, phpbuild)
	f.Dockerfile = append(f.Dockerfile, dockerfile)
	progress(b, "%-58s phpbuild %-12s Dockerfile %s", name+":", u.format(phpbuild), u.format(dockerfile))
}

// addLoad records one page's load, named name, for both images.
func (sv *serving) addLoad(b *testing.B, name string, pb, df loadgen.Result) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	sv.add(b, name+": requests/s", PerSecond, pb.RPS(), df.RPS())
	sv.add(b, name+": p50", Millis, ms(pb.Percentile(0.5)), ms(df.Percentile(0.5)))
	sv.add(b, name+": p99", Millis, ms(pb.Percentile(0.99)), ms(df.Percentile(0.99)))
	sv.add(b, name+": errors", Requests, float64(pb.Errors), float64(df.Errors))
	if pb.Errors > 0 || df.Errors > 0 {
		b.Logf("%s errors: phpbuild %q, Dockerfile %q", name, pb.FirstErr, df.FirstErr)
	}
}

// coldStart is how a container started: seconds to its first 200, and
// the milliseconds of the 20 GETs after it.
type coldStart struct {
	first float64
	next  Stats
}

// start runs img with env as the bench runs it and returns its base URL
// once it answered / and 20 more GETs (see run).
func (sv *serving) start(b *testing.B, img string, env []string) (string, coldStart) {
	return sv.run(b, img, &container.Config{Image: sv.reg + "/" + img, Env: env})
}

// floorKey names the floor's container in serving.containers.
const floorKey = "floor: "

// floor is the cold start of the least an image of a can do: docker
// starts the phpbuild image's own PHP, whose built-in server answers /
// from the web root, with no nginx, php-fpm or launcher, under the same
// limits. Its run dir is made by hand, as the launcher would.
func (sv *serving) floor(b *testing.B, a servingApp) float64 {
	_, cold := sv.run(b, floorKey+a.imgs.phpbuild, &container.Config{
		Image:      sv.reg + "/" + a.imgs.phpbuild,
		Env:        append(slices.Clone(a.env), "PHPBUILD_RUN_DIR=/tmp/floor"),
		Entrypoint: []string{"sh", "-c", "mkdir -p /tmp/floor/tmp /tmp/floor/sessions && exec php -S 0.0.0.0:8080 -t public"},
	})
	return cold.first
}

// cpuTime is the CPU time img's container has used, as docker counts it
// (its cgroup's).
func (sv *serving) cpuTime(b *testing.B, img string) time.Duration {
	r, err := testbed.Docker(b).ContainerStatsOneShot(context.Background(), sv.containers[img])
	if err != nil {
		b.Fatalf("docker stats %s: %v", img, err)
	}
	defer r.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		b.Fatalf("docker stats %s: %v", img, err)
	}
	return time.Duration(st.CPUStats.CPUUsage.TotalUsage)
}

// run creates and starts the container cfg, named key in
// serving.containers, as the bench runs it, and returns its base URL once
// it answered / and 20 more GETs.
func (sv *serving) run(b *testing.B, key string, cfg *container.Config) (string, coldStart) {
	cli := testbed.Docker(b)
	ctx := context.Background()
	cfg.Labels = map[string]string{"dev.phpbuild.bench": sv.appName}
	begin := time.Now()
	created, err := cli.ContainerCreate(ctx, cfg,
		&container.HostConfig{Resources: container.Resources{NanoCPUs: servingCPUs * 1e9, Memory: servingMemory}},
		nil, nil, "")
	if err != nil {
		b.Fatalf("docker run %s: %v", key, err)
	}
	if sv.containers == nil {
		sv.containers = map[string]string{}
	}
	sv.containers[key] = created.ID
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		b.Fatalf("docker run %s: %v", key, err)
	}
	info, err := cli.ContainerInspect(ctx, created.ID)
	if err != nil {
		b.Fatal(err)
	}
	bridge, ok := info.NetworkSettings.Networks["bridge"]
	if !ok || bridge.IPAddress == "" {
		b.Fatalf("%s has no address on dockerd's bridge", key)
	}
	url := "http://" + bridge.IPAddress + ":8080"
	c := &http.Client{Timeout: time.Second}
	var last string
	for {
		code, err := getStatus(c, url+"/")
		if code == http.StatusOK {
			break
		}
		last = fmt.Sprint(code, err)
		if time.Since(begin) > time.Minute {
			b.Fatalf("%s never answered / with 200; last: %s; its log:\n%s", key, last, sv.logTail(created.ID))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cold := time.Since(begin).Seconds()
	var first []float64
	for range 20 {
		t0 := time.Now()
		if code, err := getStatus(c, url+"/"); code != http.StatusOK {
			b.Fatalf("%s: GET / after its first 200: %d %v", key, code, err)
		}
		first = append(first, float64(time.Since(t0).Microseconds())/1000)
	}
	return url, coldStart{first: cold, next: Summarize(first)}
}

// logTail is the end of a container's log, for a failure's message.
func (sv *serving) logTail(id string) string {
	out, _ := exec.Command("docker", "logs", "--tail", "30", id).CombinedOutput()
	return string(out)
}

func getStatus(c *http.Client, url string) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// staticPath is the stylesheet the page at url links to (its query, a
// version, left out).
func (sv *serving) staticPath(b *testing.B, url string) string {
	resp, err := http.Get(url + "/")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`<link[^>]+href="(/[^"?]+\.css)[^"]*"`).FindStringSubmatch(string(body))
	if m == nil {
		b.Fatalf("no stylesheet link in %s/: %.300s", url, body)
	}
	return m[1]
}

// workers is the php-fpm workers img's container runs: as phpbuild's
// launcher printed them, or as `docker top` counts the pool's processes.
func (sv *serving) workers(b *testing.B, img string) int {
	cli := testbed.Docker(b)
	ctx := context.Background()
	id := sv.containers[img]
	logs, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := io.ReadAll(logs)
	logs.Close()
	if m := regexp.MustCompile(`→ (\d+) php-fpm workers`).FindSubmatch(raw); m != nil {
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	top, err := cli.ContainerTop(ctx, id, nil)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, p := range top.Processes {
		if strings.Contains(strings.Join(p, " "), "php-fpm: pool") {
			n++
		}
	}
	return n
}

func (sv *serving) stopAll(b *testing.B) {
	cli := testbed.Docker(b)
	for img, id := range sv.containers {
		if err := cli.ContainerRemove(context.Background(), id, container.RemoveOptions{Force: true}); err != nil {
			b.Errorf("removing %s's container: %v", img, err)
		}
	}
	sv.containers = nil
}
