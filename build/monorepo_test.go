package build_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/build"
	"github.com/phpbuild/phpbuild/internal/buildtest"
)

// monorepoApp makes a git repository holding testdata/apps/plain as
// apps/shop, its greeter package moved to packages/greeter at the top and
// reached through a glob, plus files that are no input of the app. It
// returns the app dir.
func monorepoApp(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "mono")
	app := filepath.Join(root, "apps", "shop")
	plain := filepath.Join("..", "testdata", "apps", "plain")
	for _, c := range [][]string{
		{"mkdir", "-p", filepath.Join(root, "apps"), filepath.Join(root, "packages")},
		{"cp", "-a", plain, app},
		{"mv", filepath.Join(app, "packages", "greeter"), filepath.Join(root, "packages", "greeter")},
		{"rmdir", filepath.Join(app, "packages")},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	edit(t, app, "composer.json", `"url": "packages/greeter"`, `"url": "../../packages/*"`)
	edit(t, app, "composer.lock", `"url": "packages/greeter"`, `"url": "../../packages/greeter"`)
	write(t, root, "README.md", "# a monorepo\n")
	write(t, root, ".gitignore", ".env\n")
	write(t, app, ".env", "DB_PASSWORD="+buildtest.SecretValue+"\n")
	write(t, root, "packages/greeter/.env", "DB_PASSWORD="+buildtest.SecretValue+"\n")
	git(t, root, "init", "-q", "-b", "main")
	commit(t, root, "first", "2026-01-02T03:04:05Z")
	git(t, root, "tag", "v1.0.0")
	return app
}

func edit(t *testing.T, dir, rel, old, new string) {
	t.Helper()
	body := readFile(t, filepath.Join(dir, rel))
	if !strings.Contains(body, old) {
		t.Fatalf("%s has no %q", rel, old)
	}
	write(t, dir, rel, strings.Replace(body, old, new, 1))
}

// TestBuildMonorepo: a path repository outside the app dir, inside the git
// repository, is installed from the commit's files; the image runs the
// package's code, ships nothing from outside the app dir, and a change to
// the package, only to it, rebuilds vendor.
func TestBuildMonorepo(t *testing.T) {
	rt := testRuntimes(t)
	ctx := ctxT(t)
	app := monorepoApp(t)
	root := filepath.Dir(filepath.Dir(app))
	repo := testRepo(t, "monorepo")

	plan, err := build.PlanDir(ctx, app, build.WithRuntimeRepo(rt))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var rec recorder
	res, err := push(ctx, app, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if got, want := rec.built(), []string{"vendor", "autoload", "config", "app"}; !slices.Equal(got, want) {
		t.Errorf("first build built %q, want %q", got, want)
	}
	for _, l := range plan.Layers {
		for _, e := range res.Layers {
			if l.Name == e.Name && l.Key != e.Key {
				t.Errorf("%s key: plan %s, build %s", l.Name, l.Key, e.Key)
			}
		}
	}

	ctr, base := runImage(t, repo.Tag(res.SHA).String(), "var/cache")
	if p := get(t, base+"/hello"); p.status != 200 || !strings.Contains(p.body, "Hello, tester!") {
		t.Errorf("GET /hello = %d %q; want the greeter package's greeting", p.status, p.body)
	}
	out, code := ctr.Exec(t, "sh", "-c", `g=/app/vendor/phpbuild-testdata/greeter
for p in /repo /packages /app/packages $g/.env; do test -e $p && echo "present $p"; done
test -L $g && echo "symlinked $g"
test -f $g/src/Greeter.php || echo "missing $g/src/Greeter.php"
grep -rl "/repo/" /app/vendor; grep -rl `+buildtest.SecretValue+` /app; true`)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("inside the image (want nothing printed: the package mirrored into vendor/, nothing else from the repository, no build path, no secret):\n%s", out)
	}

	t.Run("a change elsewhere in the repository rebuilds nothing", func(t *testing.T) {
		write(t, root, "README.md", "# a monorepo, changed\n")
		write(t, root, "packages/notes.md", "not a package\n")
		commit(t, root, "docs", "2026-01-03T00:00:00Z")
		var rec recorder
		if _, err := push(ctx, app, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...); err != nil {
			t.Fatal(err)
		}
		if got := rec.built(); len(got) != 0 {
			t.Errorf("built %q, want every layer reused", got)
		}
	})

	t.Run("a change to the package rebuilds vendor with the new code", func(t *testing.T) {
		edit(t, root, "packages/greeter/src/Greeter.php", "Hello, %s!", "Howdy, %s!")
		commit(t, root, "greeter says howdy", "2026-01-04T00:00:00Z")
		var rec recorder
		res, err := push(ctx, app, repo, buildOpts(t, rt, build.WithLayerEvents(rec.add))...)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.built(); !slices.Equal(got, []string{"vendor", "autoload"}) {
			t.Errorf("built %q, want vendor and autoload", got)
		}
		_, base := runImage(t, repo.Tag(res.SHA).String(), "var/cache")
		if p := get(t, base+"/"); !strings.Contains(p.body, "Howdy, tester!") {
			t.Errorf("page after the package change = %q", p.body)
		}
	})

	t.Run("an uncommitted change to the package is refused", func(t *testing.T) {
		edit(t, root, "packages/greeter/src/Greeter.php", "Howdy, %s!", "Hi, %s!")
		_, err := build.Publish(ctx, app, build.NewRegistry(repo, nil), buildOpts(t, rt, build.WithTarget(repo))...)
		var bad *badinput.Error
		if !errors.As(err, &bad) || !strings.Contains(err.Error(), "packages/greeter/src/Greeter.php") || !strings.Contains(err.Error(), "--allow-dirty") {
			t.Fatalf("err = %v, want a bad-input error naming the changed package file", err)
		}
	})
}

// TestPlanMonorepoOutsideRepository: a path repository that leaves the git
// repository fails in one line naming composer.json and the field.
func TestPlanMonorepoOutsideRepository(t *testing.T) {
	app := monorepoApp(t)
	edit(t, app, "composer.json", `"url": "../../packages/*"`, `"url": "../../../elsewhere/greeter"`)
	_, err := build.PlanDir(ctxT(t), app)
	if err == nil {
		t.Fatal("plan succeeded")
	}
	msg := err.Error()
	want := filepath.Join(app, "composer.json") + ":"
	if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "repositories[0].url") || !strings.Contains(msg, "outside the git repository") || strings.Contains(msg, "\n") {
		t.Errorf("error %q; want one line starting %q naming repositories[0].url", msg, want)
	}
}
