package phalcon_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/phalcon"
)

func TestCompiledFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		o       phalcon.VoltOptions
		extends bool
		want    string
	}{
		{"a compiled dir", phalcon.VoltOptions{Path: "/app/cache/volt/", Separator: "_", Extension: ".php"}, false, "/app/cache/volt/_app_app_views_index_index.volt.php"},
		{"extends mode", phalcon.VoltOptions{Path: "/app/cache/volt/", Separator: "_", Extension: ".php"}, true, "/app/cache/volt/_app_app_views_index_index.volt_e_.php"},
		{"Phalcon's defaults, lower-cased", phalcon.VoltOptions{Path: "/app/cache/", Separator: "%%", Extension: ".php"}, false, "/app/cache/%%app%%app%%views%%index%%index.volt.php"},
		{"no trailing slash: a name prefix", phalcon.VoltOptions{Path: "/app/cache/volt", Separator: "_", Extension: ".compiled"}, false, "/app/cache/volt_app_app_views_index_index.volt.compiled"},
		{"prefix", phalcon.VoltOptions{Path: "/app/cache/", Separator: "_", Extension: ".php", Prefix: "v1"}, false, "/app/cache/v1_app_app_views_index_index.volt.php"},
		{"next to the template", phalcon.VoltOptions{Separator: "%%", Extension: ".php"}, false, "/app/app/views/Index/Index.volt.php"},
		{"a relative path as php-fpm resolves it", phalcon.VoltOptions{Path: "/app/public/../cache/", Separator: "_", Extension: ".php"}, false, "/app/cache/_app_app_views_index_index.volt.php"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := "/app/app/views/index/index.volt"
			if tc.o.Path == "" {
				tmpl = "/app/app/views/Index/Index.volt"
			} else if tc.name == "Phalcon's defaults, lower-cased" {
				tmpl = "/app/app/views/Index/Index.volt"
			}
			if got := phalcon.CompiledFile(tc.o, tmpl, tc.extends); got != tc.want {
				t.Errorf("CompiledFile = %q, want %q", got, tc.want)
			}
		})
	}
}

// readVolt detects the app made of files and reads its Volt setup.
func readVolt(t *testing.T, files map[string]string) *phalcon.Volt {
	t.Helper()
	dir, _ := writeApp(t, files)
	app, err := detect.Detect(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := phalcon.ReadVolt(app, "/app")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const viewProvider = `<?php
namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\View;
use Phalcon\Mvc\View\Engine\Volt as VoltEngine;
use App\Library\Money;

final class ViewProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('view', function () {
            $view = new View();
            $view->registerEngines(['.volt' => function ($view) {
                $volt = new VoltEngine($view, $this);
                $volt->setOptions(['path' => BASE_PATH . '/cache/volt/', 'separator' => '_']);
                $compiler = $volt->getCompiler();
                $compiler->addFunction('strrev', 'strrev');
                $compiler->addFilter('money', function ($resolvedArgs, $exprArgs) {
                    return Money::class . '::format(' . $resolvedArgs . ')';
                });
                $compiler->addFilter('bound', function ($args) { return $this->helper($args); });
                $prefix = 'x';
                $compiler->addFunction('pre', fn ($args) => $prefix . $args);
                $volt->getCompiler()->addFunction('twice', static fn ($args) => $args . ' . ' . $args,);
                return $volt;
            }]);
            return $view;
        });
        $di->setShared('auth', fn () => new \App\Library\Auth());
    }
}
`

var shop = map[string]string{
	"composer.json":                   `{"require": {"ext-phalcon": "^5.0"}}`,
	"public/index.php":                "<?php\ndefine('BASE_PATH', dirname(__DIR__));\n$di = new \\Phalcon\\Di\\FactoryDefault();\n",
	"app/Providers/ViewProvider.php":  viewProvider,
	"app/views/index/index.volt":      "{{ auth.name }}\n",
	"app/Controllers/IndexController": "not php\n",
}

func TestReadVoltFromTheAppsPHP(t *testing.T) {
	v := readVolt(t, shop)
	if diff := cmp.Diff(phalcon.VoltOptions{Path: "/app/cache/volt/", Separator: "_", Extension: ".php"}, v.Options); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	for k, want := range map[string]string{"path": "app/Providers/ViewProvider.php:18", "separator": "app/Providers/ViewProvider.php:18", "extension": "Phalcon's default"} {
		if v.Sources[k] != want {
			t.Errorf("source of %s = %q, want %q", k, v.Sources[k], want)
		}
	}
	if !v.FactoryDefault {
		t.Error("the app makes a FactoryDefault; the compiler's container must start from one")
	}
	names := map[string]string{}
	for _, s := range v.Services {
		names[s.Name] = s.Source
	}
	if names["auth"] != "app/Providers/ViewProvider.php:32" || names["view"] == "" || names["flash"] != `Phalcon\Di\FactoryDefault` {
		t.Errorf("services = %v", v.Services)
	}
	if got, want := v.Names(), []string{"auth", "view"}; !cmp.Equal(got, want) {
		t.Errorf("Names() = %q, want %q (FactoryDefault's own come from the real class)", got, want)
	}
	var exts []string
	for _, e := range v.Extensions {
		exts = append(exts, e.Kind+" "+e.Name+" @ "+e.At)
	}
	if diff := cmp.Diff([]string{
		"function strrev @ app/Providers/ViewProvider.php:20",
		"filter money @ app/Providers/ViewProvider.php:21",
		"function twice @ app/Providers/ViewProvider.php:27",
	}, exts); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
	money := v.Extensions[1].Code
	for _, want := range []string{"namespace App\\Providers {", "use App\\Library\\Money as money;", "$compiler->addFilter('money', function ($resolvedArgs, $exprArgs) {"} {
		if !strings.Contains(money, want) {
			t.Errorf("money's code lacks %q:\n%s", want, money)
		}
	}
	if strings.Contains(v.Extensions[2].Code, ",)") {
		t.Errorf("a trailing comma of the call stayed in the definition:\n%s", v.Extensions[2].Code)
	}
	warned := strings.Join(v.Warnings, "\n")
	for _, want := range []string{"ViewProvider.php:24: the Volt filter bound is defined by a closure that uses $this",
		"ViewProvider.php:26: the Volt function pre is defined by an arrow function that uses variables of its surroundings"} {
		if !strings.Contains(warned, want) {
			t.Errorf("warnings lack %q:\n%s", want, warned)
		}
	}
}

func TestReadVoltProjectTomlWins(t *testing.T) {
	files := map[string]string{}
	for k, v := range shop {
		files[k] = v
	}
	files["project.toml"] = "[volt]\npath = \"var/volt\"\nextension = \".compiled\"\nservices = [\"cart\"]\nignore_services = [\"view\", \"flash\"]\n"
	v := readVolt(t, files)
	if diff := cmp.Diff(phalcon.VoltOptions{Path: "/app/var/volt/", Separator: "_", Extension: ".compiled"}, v.Options); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
	if v.Sources["path"] != "project.toml volt.path" || v.Sources["separator"] != "app/Providers/ViewProvider.php:18" {
		t.Errorf("sources = %v", v.Sources)
	}
	// Removing a FactoryDefault name means the precompiler cannot start
	// from the real class: it lists every name instead.
	names := v.Names()
	if v.FactoryDefault || !contains(names, "cart") || !contains(names, "security") || contains(names, "flash") || contains(names, "view") {
		t.Errorf("FactoryDefault %v, names %q", v.FactoryDefault, names)
	}
	if diff := cmp.Diff([]string{"flash", "view"}, v.Ignored); diff != "" {
		t.Errorf("ignored (-want +got):\n%s", diff)
	}
}

func TestReadVoltWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, provider string
		want           string
		outside        bool
	}{
		{name: "an expression phpbuild cannot read", provider: "$volt->setOptions(['path' => sys_get_temp_dir() . '/volt/']);",
			want: "app/View.php:4: Volt's path option is set by an expression phpbuild cannot read; set volt.path in project.toml"},
		{name: "a path outside the app", provider: "$volt->setOptions(['path' => '/tmp/volt/']);",
			want: "is outside the app (/app): templates are not precompiled", outside: true},
		{name: "always", provider: "$volt->setOptions(['path' => '../cache/', 'always' => true]);",
			want: "app/View.php:4 sets Volt's always option"},
		{name: "two values", provider: "$volt->setOptions(['separator' => '_']);\n$other = new \\Phalcon\\Mvc\\View\\Engine\\Volt($view, $di);\n$other->setOption('separator', '-');",
			want: "sets Volt's separator to \"_\", app/View.php:6 to \"-\"; precompiling with the first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := readVolt(t, map[string]string{
				"public/index.php":           "<?php\n",
				"app/View.php":               "<?php\n$view = new \\Phalcon\\Mvc\\View();\n$volt = new \\Phalcon\\Mvc\\View\\Engine\\Volt($view, $di);\n" + tc.provider + "\n",
				"app/views/index/index.volt": "hi\n",
			})
			if w := strings.Join(v.Warnings, "\n"); !strings.Contains(w, tc.want) {
				t.Errorf("warnings lack %q:\n%s", tc.want, w)
			}
			if v.Outside != tc.outside {
				t.Errorf("Outside = %v", v.Outside)
			}
		})
	}
	t.Run("a relative path resolves against the front controller's dir", func(t *testing.T) {
		v := readVolt(t, map[string]string{
			"public/index.php":           "<?php\n$volt = new \\Phalcon\\Mvc\\View\\Engine\\Volt($view, $di);\n$volt->setOptions(['path' => '../cache/']);\n",
			"app/views/index/index.volt": "hi\n",
		})
		if v.Options.Path != "/app/public/../cache/" || v.Outside {
			t.Errorf("path = %q (outside %v), want /app/public/../cache/", v.Options.Path, v.Outside)
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
