package build_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/mount"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
	"github.com/phpbuild/phpbuild/internal/voltequiv"
	"github.com/phpbuild/phpbuild/runtimes"
	"github.com/phpbuild/phpbuild/testbed"
)

// TestPhalconShop builds testdata/apps/phalcon-shop, a Phalcon 5 app shaped
// like the ones teams ship (service providers, a custom auth service used
// in the layout, Volt options set in code, an ACL plugin, forms with CSRF
// tokens, models on MariaDB, sessions, a CLI task), on real Phalcon, across
// a sequence of commits, and runs each image read-only against a real
// MariaDB: every page logged out and logged in, no template compiled at
// run time, and the precompiled templates byte-identical to Phalcon's own.
func TestPhalconShop(t *testing.T) {
	rt, _ := buildtest.PhalconRuntimes(t)
	db := testbed.MariaDB(t)
	ctx := ctxT(t)
	dir := gitApp(t, "phalcon-shop")
	repo := testRepo(t, "shop")
	env := append(db.Env(), "APP_NAME=Phalcon Shop")

	shopBuild := func(t *testing.T, want []string) string {
		t.Helper()
		var rec recorder
		res, err := push(ctx, dir, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
		if err != nil {
			t.Fatalf("build: %v", err)
		}
		if got := rec.built(); !slices.Equal(got, want) {
			t.Errorf("built %q, want %q", got, want)
		}
		return repo.Digest(res.Digest).String()
	}

	t.Run("the plan reads Volt's options and services from the app's PHP", func(t *testing.T) {
		p, err := build.PlanDir(ctx, dir, build.WithRuntimeRepo(rt))
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		for _, o := range p.App.Volt.Options {
			opts[o.Name] = fmt.Sprint(o.Value) + " @ " + o.Source
		}
		for k, want := range map[string]*regexp.Regexp{
			"path":      regexp.MustCompile(`^/app/cache/volt/ @ app/Providers/ViewProvider\.php:\d+$`),
			"separator": regexp.MustCompile(`^_ @ app/Providers/ViewProvider\.php:\d+$`),
			"extension": regexp.MustCompile(`^\.php @ Phalcon's default$`),
		} {
			if !want.MatchString(opts[k]) {
				t.Errorf("volt option %s = %q, want %s", k, opts[k], want)
			}
		}
		services := map[string]string{}
		for _, s := range p.App.Volt.Services {
			services[s.Name] = s.Source
		}
		for n, want := range map[string]string{"auth": "app/Providers/AuthProvider.php:", "session": "app/Providers/SessionProvider.php:",
			"config": "app/Providers/ConfigProvider.php:", "flash": `Phalcon\Di\FactoryDefault`, "security": `Phalcon\Di\FactoryDefault`} {
			if !strings.HasPrefix(services[n], want) {
				t.Errorf("service %s found at %q, want %s…", n, services[n], want)
			}
		}
		for _, notService := range []string{"form", "product", "products"} {
			if _, ok := services[notService]; ok {
				t.Errorf("%s is a view variable, not a service; the plan lists it at %s", notService, services[notService])
			}
		}
	})

	t.Run("commit 1: everything built, every page right, nothing compiled at run time", func(t *testing.T) {
		ref := shopBuild(t, []string{"vendor", "autoload", "volt", "config", "app"})
		c, base := startShop(t, ref, env)
		if out, code := c.Exec(t, "launcher", "exec", "php", "app/cli.php", "migrate"); code != 0 {
			t.Fatalf("php app/cli.php migrate: exit %d\n%s", code, out)
		}
		if out, code := c.Exec(t, "launcher", "exec", "php", "app/cli.php", "main"); code != 0 || !strings.Contains(out, "phalcon-shop cli ok") {
			t.Errorf("php app/cli.php main: exit %d %q", code, out)
		}
		checkPrecompiled(t, c, base, "Latest products")
		voltequiv.Check(t, voltequiv.Options{Image: ref, Env: env, Visit: func(t testing.TB, base string) { checkShop(t, base, "Latest products") }})
	})

	t.Run("commit 2: a PHP-only change reuses the volt layer, and its templates stay fresh", func(t *testing.T) {
		write(t, dir, "app/Controllers/IndexController.php",
			strings.Replace(readFile(t, dir+"/app/Controllers/IndexController.php"), "class IndexController", "// v2: a PHP-only change\nclass IndexController", 1))
		commit(t, dir, "php only", "2026-01-03T00:00:00Z")
		ref := shopBuild(t, []string{"app"})
		c, base := startShop(t, ref, env)
		checkPrecompiled(t, c, base, "Latest products")
		voltequiv.Check(t, voltequiv.Options{Image: ref, Env: env, Visit: func(t testing.TB, base string) { checkShop(t, base, "Latest products") }})
	})

	t.Run("commit 3: a template-only change rebuilds only the volt layer", func(t *testing.T) {
		write(t, dir, "app/views/index/index.volt", strings.Replace(readFile(t, dir+"/app/views/index/index.volt"), "Latest products", "Newest products", 1))
		commit(t, dir, "template only", "2026-01-04T00:00:00Z")
		ref := shopBuild(t, []string{"volt"})
		c, base := startShop(t, ref, env)
		checkPrecompiled(t, c, base, "Newest products")
	})

	t.Run("commit 4: a project.toml Volt change rebuilds only the volt layer", func(t *testing.T) {
		write(t, dir, "project.toml", readFile(t, dir+"/project.toml")+"\n[volt]\n# A service only templates will use.\nservices = [\"cart\"]\n")
		commit(t, dir, "volt services", "2026-01-05T00:00:00Z")
		ref := shopBuild(t, []string{"volt"})
		_, base := startShop(t, ref, env)
		checkShop(t, base, "Newest products")
	})
}

// startShop runs the shop read-only, as a release does: a tmpfs on each
// writable dir its dev.phpbuild.writable label names, and the compiled
// templates inside one (cache/volt) kept as built in a read-only volume.
// It waits for the health route and checks what the app may write.
func startShop(t *testing.T, ref string, env []string) (*testbed.Container, string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	var w runtimes.Writable
	if err := json.Unmarshal([]byte(cf.Config.Labels[runtimes.LabelWritable]), &w); err != nil {
		t.Fatalf("the %s label: %v", runtimes.LabelWritable, err)
	}
	if want := (runtimes.Writable{Dirs: []string{"/app/cache"}, Kept: []string{"/app/cache/volt"}}); !cmp.Equal(w, want) {
		t.Errorf("the %s label: %+v, want %+v", runtimes.LabelWritable, w, want)
	}
	spec := testbed.ContainerSpec{Image: ref, Env: env, ReadOnly: true, Tmpfs: map[string]string{"/tmp": "uid=1000,gid=1000"}}
	for _, d := range w.Dirs {
		spec.Tmpfs[d] = "uid=1000,gid=1000,mode=0755"
	}
	cli := testbed.Docker(t)
	for _, k := range w.Kept {
		vol := fmt.Sprintf("shop-kept-%d", time.Now().UnixNano())
		spec.Mounts = append(spec.Mounts, mount.Mount{Type: mount.TypeVolume, Source: vol, Target: k, ReadOnly: true})
		t.Cleanup(func() { cli.VolumeRemove(context.Background(), vol, true) })
	}
	spec.HostPort, spec.ContainerPort = testbed.FreePort(t), 8080
	c := testbed.StartContainer(t, spec)
	base := fmt.Sprintf("http://127.0.0.1:%d", spec.HostPort)
	c.WaitHealthy(t, base, 60*time.Second)
	probe := `for d in /app/app /app/vendor /app/cache/volt /app/cache /tmp; do if touch "$d/probe" 2>/dev/null; then echo "$d rw"; else echo "$d ro"; fi; done`
	if out, _ := c.Exec(t, "sh", "-c", probe); out != "/app/app ro\n/app/vendor ro\n/app/cache/volt ro\n/app/cache rw\n/tmp rw\n" {
		t.Errorf("what the shop may write:\n%s", out)
	}
	return c, base
}

// checkPrecompiled walks the shop and checks that no template was
// compiled at run time meanwhile: the precompiled ones served every page.
func checkPrecompiled(t *testing.T, c *testbed.Container, base, homeHeading string) {
	t.Helper()
	before := compiledList(t, c)
	checkShop(t, base, homeHeading)
	if after := compiledList(t, c); after != before {
		t.Errorf("templates were compiled at run time:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// compiledList is the compiled templates with their times, as Phalcon's
// stat check sees them.
func compiledList(t *testing.T, c *testbed.Container) string {
	t.Helper()
	out, code := c.Exec(t, "sh", "-c", "cd /app/cache/volt && ls -la --time-style=+%s . | sort")
	if code != 0 {
		t.Fatalf("listing compiled templates: %d\n%s", code, out)
	}
	return out
}

// brokenPage is text that never belongs in a page: PHP's own errors, and
// Volt's when it compiles at run time on a read-only filesystem.
var brokenPage = regexp.MustCompile(`Fatal error|Warning:|Notice:|Deprecated:|Undefined variable|can't be written|Something went wrong`)

// checkShop walks the shop as a visitor, then as the demo user: every page
// renders through Volt with the app's services.
func checkShop(t testing.TB, base, homeHeading string) {
	t.Helper()
	client := voltequiv.NewClient(t)
	do := func(method, path string, form url.Values) page {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = client.PostForm(base+path, form)
		} else {
			resp, err = client.Get(base + path)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		p := page{resp.StatusCode, string(b), resp.Header}
		if m := brokenPage.FindString(p.body); m != "" {
			t.Errorf("%s %s: the page says %q:\n%s", method, path, m, p.body)
		}
		return p
	}
	expect := func(method, path string, form url.Values, status int, texts ...string) page {
		t.Helper()
		p := do(method, path, form)
		if p.status != status {
			t.Errorf("%s %s = %d, want %d:\n%s", method, path, p.status, status, p.body)
		}
		for _, s := range texts {
			if !strings.Contains(p.body, s) {
				t.Errorf("%s %s lacks %q:\n%s", method, path, s, p.body)
			}
		}
		return p
	}

	// Logged out.
	expect("GET", "/", nil, 200, "<h1>"+homeHeading+"</h1>", `class="index-index"`, "Log in", "PHALCON SHOP", "shop")
	expect("GET", "/products", nil, 200, "<h1>Products</h1>", `class="products-index"`)
	expect("GET", "/products/new", nil, 401, "<h1>Please log in</h1>")
	expect("GET", "/no/such/page", nil, 404, "<h1>Page not found</h1>")
	login := expect("GET", "/session/login", nil, 200, "<h1>Log in</h1>")

	// Logging in takes the CSRF token of the form, in the session cookie's
	// session.
	form := url.Values{"email": {"demo@example.com"}, "password": {"demo-password"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(login.body, -1) {
		form.Set(m[1], m[2])
	}
	if p := expect("POST", "/session/login", form, 302); !strings.HasSuffix(p.header.Get("Location"), "products") {
		t.Errorf("login redirects to %q, want products", p.header.Get("Location"))
	}
	expect("GET", "/products", nil, 200, "Demo User", "Log out", "Welcome back")
	newForm := expect("GET", "/products/new", nil, 200, "<h1>New product</h1>")
	name := fmt.Sprintf("Widget %d", time.Now().UnixNano())
	add := url.Values{"name": {name}, "price": {"12.5"}}
	for _, m := range hiddenInput.FindAllStringSubmatch(newForm.body, -1) {
		add.Set(m[1], m[2])
	}
	expect("POST", "/products/new", add, 302)
	list := expect("GET", "/products", nil, 200, name, "12.50")
	if id := productLink.FindStringSubmatch(list.body); id != nil {
		expect("GET", id[1], nil, 200)
	} else {
		t.Errorf("GET /products links to no product page:\n%s", list.body)
	}
	expect("GET", "/session/logout", nil, 302)
	expect("GET", "/", nil, 200, "Log in")
}

var (
	hiddenInput = regexp.MustCompile(`<input type="hidden"[^>]*?name="([^"]+)"[^>]*?value="([^"]*)"`)
	productLink = regexp.MustCompile(`href="(/products/[0-9]+)"`)
)
