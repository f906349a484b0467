package phalcon_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/phalcon"
)

// writeApp writes files (app-relative path → content) under a temporary
// dir and returns it with the sorted file list, as detect would give it.
func writeApp(t testing.TB, files map[string]string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var list []string
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		list = append(list, rel)
	}
	sort.Strings(list)
	return dir, list
}

// The phalcon devtools "simple" project: constants in public/index.php,
// a Config in app/config/config.php, services in app/config/services.php
// whose closures reach the config through $this, the DI.
var devtools = map[string]string{
	"public/index.php": `
<?php
use Phalcon\Di\FactoryDefault;
use Phalcon\Mvc\Application;

error_reporting(E_ALL);

define('BASE_PATH', dirname(__DIR__));
define('APP_PATH', BASE_PATH . '/app');

try {
    $di = new FactoryDefault();

    include APP_PATH . '/config/services.php';

    $config = $di->getConfig();

    include APP_PATH . '/config/loader.php';

    $application = new Application($di);

    echo $application->handle($_SERVER['REQUEST_URI'])->getContent();
} catch (\Exception $e) {
    echo $e->getMessage() . '<br>';
}
`,
	"app/config/config.php": `
<?php
/*
 * Modified: prepend directory path of current file, because of this file own different ENV under between Apache and command line.
 */
defined('BASE_PATH') || define('BASE_PATH', getenv('BASE_PATH') ?: realpath(dirname(__FILE__) . '/../..'));
defined('APP_PATH') || define('APP_PATH', BASE_PATH . '/app');

return new \Phalcon\Config\Config([
    'database' => [
        'adapter'     => 'Mysql',
        'host'        => 'localhost',
        'username'    => 'root',
        'password'    => '',
        'dbname'      => 'test',
        'charset'     => 'utf8',
    ],
    'application' => [
        'appDir'         => APP_PATH . '/',
        'controllersDir' => APP_PATH . '/controllers/',
        'viewsDir'       => APP_PATH . '/views/',
        'cacheDir'       => BASE_PATH . '/cache/',
        'baseUri'        => '/',
    ]
]);
`,
	"app/config/loader.php": `
<?php

$loader = new \Phalcon\Autoload\Loader();
$loader->setDirectories([$config->application->controllersDir])->register();
`,
	"app/config/services.php": `
<?php
declare(strict_types=1);

use Phalcon\Html\Escaper;
use Phalcon\Flash\Direct as Flash;
use Phalcon\Mvc\View;
use Phalcon\Mvc\View\Engine\Php as PhpEngine;
use Phalcon\Mvc\View\Engine\Volt as VoltEngine;
use Phalcon\Session\Adapter\Stream as SessionAdapter;
use Phalcon\Session\Manager as SessionManager;

/**
 * Shared configuration service
 */
$di->setShared('config', function () {
    return include APP_PATH . "/config/config.php";
});

/**
 * Setting up the view component
 */
$di->setShared('view', function () {
    $config = $this->getConfig();

    $view = new View();
    $view->setDI($this);
    $view->setViewsDir($config->application->viewsDir);

    $view->registerEngines([
        '.volt' => function ($view) {
            $config = $this->getConfig();

            $volt = new VoltEngine($view, $this);

            $volt->setOptions([
                'path' => $config->application->cacheDir,
                'separator' => '_'
            ]);

            return $volt;
        },
        '.phtml' => PhpEngine::class
    ]);

    return $view;
});

/**
 * Register the session flash service with the Twitter Bootstrap classes
 */
$di->set('flash', function () {
    $escaper = new Escaper();
    $flash = new Flash($escaper);
    $flash->setImplicitFlush(false);
    $flash->setCssClasses([
        'error'   => 'alert alert-danger',
        'success' => 'alert alert-success',
    ]);

    return $flash;
});

/**
 * Start the session the first time some component request the session service
 */
$di->setShared('session', function () {
    $session = new SessionManager();
    $files = new SessionAdapter([
        'savePath' => sys_get_temp_dir(),
    ]);
    $session->setAdapter($files);
    $session->start();

    return $session;
});
`,
	"app/controllers/SessionController.php": `
<?php
declare(strict_types=1);

class SessionController extends \Phalcon\Mvc\Controller
{
    public function startAction()
    {
        // Sessions and responses have set methods too; they register nothing.
        $this->session->set('auth', ['id' => 1]);
        $this->response->setHeader('X-Frame-Options', 'deny');
        $this->view->setOptions(['path' => '/tmp/not-volt/']);
    }
}
`,
}

// Vökuró: service providers with DiInterface parameters, a property naming
// the service, config through path(), array-access and magic setters.
var vokuro = map[string]string{
	"public/index.php": `
<?php
declare(strict_types=1);

use Vokuro\Application as VokuroApplication;

error_reporting(E_ALL);
$rootPath = dirname(__DIR__);

try {
    require_once $rootPath . '/vendor/autoload.php';

    /**
     * Load .env configurations
     */
    Dotenv\Dotenv::createImmutable($rootPath)->load();

    /**
     * Run Vökuró!
     */
    echo (new VokuroApplication($rootPath))->run();
} catch (Exception $e) {
    echo $e->getMessage(), '<br>';
}
`,
	"src/Application.php": `
<?php
declare(strict_types=1);

namespace Vokuro;

use Phalcon\Di\DiInterface;
use Phalcon\Di\FactoryDefault;
use Phalcon\Mvc\Application as MvcApplication;

class Application
{
    protected DiInterface $di;

    public function __construct(protected string $rootPath)
    {
        $this->di = new FactoryDefault();
        $this->di->offsetSet('rootPath', function () {
            return $this->rootPath;
        });
        $this->di['flash'] = function () {
            return new \Phalcon\Flash\Session();
        };
        $this->di->setAuth(new Plugins\Auth\Auth());
        $this->di->setShared($this->serviceName(), function () {});
    }
}
`,
	"configs/config.php": `
<?php
/*
 * This file is part of the Vökuró.
 */
return [
    'application' => [
        'baseUri'         => getenv('APP_BASE_URI'),
        'viewsDir'        => BASE_PATH . '/themes/vokuro/',
        'cacheDir'        => BASE_PATH . '/var/cache/',
        'sessionSavePath' => BASE_PATH . '/var/cache/session/',
    ],
    'logger' => [
        'path'     => BASE_PATH . '/var/logs/',
        'format'   => '%date% [%type%] %message%',
    ],
];
`,
	"src/bootstrap.php": `
<?php
if (!defined('BASE_PATH')) {
    define('BASE_PATH', dirname(__DIR__));
}
`,
	"src/Providers/ViewProvider.php": `
<?php

/**
 * This file is part of the Vökuró.
 */

declare(strict_types=1);

namespace Vokuro\Providers;

use Phalcon\Config\Config;
use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\View;
use Phalcon\Mvc\View\Engine\Volt;

class ViewProvider implements ServiceProviderInterface
{
    /**
     * @var string
     */
    protected $providerName = 'view';

    /**
     * @param DiInterface $di
     */
    public function register(DiInterface $di): void
    {
        /** @var Config $config */
        $config = $di->getShared('config');
        /** @var string $viewsDir */
        $viewsDir = $config->path('application.viewsDir');
        /** @var string $cacheDir */
        $cacheDir = $config->path('application.cacheDir');

        $di->setShared($this->providerName, function () use ($viewsDir, $cacheDir, $di) {
            $view = new View();
            $view->setViewsDir($viewsDir);
            $view->registerEngines([
                '.volt' => function (View $view) use ($cacheDir, $di) {
                    $volt = new Volt($view, $di);
                    $volt->setOptions([
                        'path'      => $cacheDir . 'volt/',
                        'separator' => '_',
                    ]);

                    return $volt;
                },
            ]);

            return $view;
        });
    }
}
`,
	"src/Providers/SessionProvider.php": `
<?php
declare(strict_types=1);

namespace Vokuro\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Session\Adapter\Stream as SessionAdapter;
use Phalcon\Session\Manager as SessionManager;

class SessionProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $savePath = $di->getShared('config')->path('application.sessionSavePath');
        $di->setShared('session', function () use ($savePath) {
            $session = new SessionManager();
            $session->setAdapter(new SessionAdapter(['savePath' => $savePath]));
            $session->start();

            return $session;
        });
    }
}
`,
	"src/Plugins/Auth/Auth.php": `
<?php
declare(strict_types=1);

namespace Vokuro\Plugins\Auth;

use Phalcon\Di\Injectable;

class Auth extends Injectable
{
    public function check(array $credentials)
    {
        $session = $this->session;
        $session->set('auth-identity', ['id' => 1]);
        $this->session->set('auth-identity', ['id' => 1]);
        $this->cookies->set('RMU', 'x', time() + 3600);
    }
}
`,
}

// INVO: the root path as a service (realpath('..') from public/), read by
// the Volt provider through offsetGet.
var invo = map[string]string{
	"public/index.php": `
<?php
declare(strict_types=1);

use Phalcon\Di\FactoryDefault;
use Phalcon\Mvc\Application;

try {
    $rootPath = realpath('..');
    require_once $rootPath . '/vendor/autoload.php';

    $di = new FactoryDefault();
    $di->offsetSet('rootPath', function () use ($rootPath) {
        return $rootPath;
    });

    $providers = include_once $rootPath . '/config/providers.php';
    foreach ($providers as $provider) {
        $di->register(new $provider());
    }

    (new Application($di))
        ->handle($_SERVER['REQUEST_URI'])
        ->send();
} catch (Exception $e) {
    echo $e->getMessage() . '<br>';
}
`,
	"config/providers.php": `
<?php
declare(strict_types=1);

return [
    Invo\Providers\VoltProvider::class,
];
`,
	"src/Providers/VoltProvider.php": `
<?php
declare(strict_types=1);

namespace Invo\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\View\Engine\Volt as VoltEngine;

final class VoltProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $view = $di->getShared('view');

        $di->setShared('volt', function () use ($view, $di) {
            $volt = new VoltEngine($view, $di);
            $volt->setOptions([
                'path' => $di->offsetGet('rootPath') . '/var/cache/volt/',
            ]);

            $compiler = $volt->getCompiler();
            $compiler->addFunction('is_a', 'is_a');

            return $volt;
        });
    }
}
`,
}

func TestScan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  *phalcon.Scanned
	}{
		{
			name:  "devtools project",
			files: devtools,
			want: &phalcon.Scanned{
				Container:   "FactoryDefault",
				ContainerAt: "public/index.php:11",
				Services: []phalcon.Found{
					{Name: "config", At: "app/config/services.php:15"},
					{Name: "flash", At: "app/config/services.php:51"},
					{Name: "session", At: "app/config/services.php:66"},
					{Name: "view", At: "app/config/services.php:22"},
				},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/cache/", At: "app/config/services.php:36"},
					{Key: "separator", Value: "_", At: "app/config/services.php:37"},
				},
				Unread: []phalcon.Found{},
			},
		},
		{
			name:  "Vökuró providers",
			files: vokuro,
			want: &phalcon.Scanned{
				Container:   "FactoryDefault",
				ContainerAt: "src/Application.php:16",
				Services: []phalcon.Found{
					{Name: "auth", At: "src/Application.php:23"},
					{Name: "flash", At: "src/Application.php:20"},
					{Name: "rootPath", At: "src/Application.php:17"},
					{Name: "session", At: "src/Providers/SessionProvider.php:16"},
					{Name: "view", At: "src/Providers/ViewProvider.php:36"},
				},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/var/cache/volt/", At: "src/Providers/ViewProvider.php:43"},
					{Key: "separator", Value: "_", At: "src/Providers/ViewProvider.php:44"},
				},
				Unread: []phalcon.Found{},
			},
		},
		{
			name:  "INVO root path service",
			files: invo,
			want: &phalcon.Scanned{
				Container:   "FactoryDefault",
				ContainerAt: "public/index.php:11",
				Services: []phalcon.Found{
					{Name: "rootPath", At: "public/index.php:12"},
					{Name: "volt", At: "src/Providers/VoltProvider.php:16"},
				},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/var/cache/volt/", At: "src/Providers/VoltProvider.php:19"},
				},
				Unread: []phalcon.Found{},
			},
		},
		{
			name: "declarations that PHP never runs",
			files: map[string]string{
				"public/index.php": `
<html>
<body>
$di->set('inHtml', 1); $volt->setOptions(['path' => '/html/']);
<?php
// $di->set('inLineComment', 1);
# $di->set('inHashComment', 1);
/* $di->set('inBlockComment', 1); */
/** $di->set('inDocComment', 1); */
$a = '$di->set(\'inSingleQuotes\', 1);';
$b = "$di->set('inDoubleQuotes', 1); {$di->set('inInterpolation', 1)}";
$c = <<<EOT
$di->set('inHeredoc', 1);
EOT;
$d = <<<'EOT'
$volt->setOptions(['path' => '/nowdoc/']);
EOT;
?>
$di->set('afterCloseTag', 1);
<?php $di->set('real', function () {}); ?>
</body>
</html>
`,
				// A file PHP would refuse is skipped whole.
				"app/broken.php": "<?php\n$di->set('broken', 1);\n$s = 'unterminated;\n",
			},
			want: &phalcon.Scanned{
				Services: []phalcon.Found{{Name: "real", At: "public/index.php:19"}},
				Options:  []phalcon.Option{},
				Unread:   []phalcon.Found{},
			},
		},
		{
			name: "receivers that are not a DI or a Volt engine",
			files: map[string]string{
				"app/library/Cart.php": `
<?php
namespace App\Library;

use Phalcon\Di\Injectable;
use Phalcon\Forms\Form;

class Cart extends Injectable
{
    public function add(string $sku, Form $form): void
    {
        $this->session->set('cart', [$sku]);
        $session = $this->getDI()->getShared('session');
        $session->set('cart', [$sku]);
        $this->cache->set('cart-' . $sku, 1);
        $this->response->setHeader('X-Cart', $sku);
        $form->setOption('path', '/forms/');
        $this->view->setOptions(['path' => '/views/']);
        $name = strtolower($sku);
        $this->getDI()->set($name, function () {});
        $this->getDI()->set('cart', function () {});
    }
}
`,
			},
			want: &phalcon.Scanned{
				Services: []phalcon.Found{{Name: "cart", At: "app/library/Cart.php:20"}},
				Options:  []phalcon.Option{},
				Unread:   []phalcon.Found{},
			},
		},
		{
			name: "values phpbuild cannot read and environment defaults",
			files: map[string]string{
				"public/index.php": `
<?php
use Phalcon\Di\Di;
use Phalcon\Mvc\View\Engine\Volt;
use Phalcon\Mvc\View\Engine\Volt\Compiler;

\define('APP_PATH', realpath(__DIR__ . '/../app'));

$di = new Di();
$di->set('volt', function ($view) {
    $volt = new Volt($view, $this);
    $volt->setOptions([
        'path'      => getenv('VOLT_PATH') ?: APP_PATH . '/cache/',
        'extension' => $_ENV['VOLT_EXT'] ?? '.compiled',
        'separator' => sprintf('%s', '_'),
        'always'    => getenv('APP_DEBUG'),
        'stat'      => FALSE,
        'prefix'    => "v-$view",
        'autoescape' => true,
    ]);
    return $volt;
});
$options = loadOptions();
$volt2 = new Volt($view, $di);
$volt2->setOptions($options);
$volt2->setOptions(['path' => function (string $templatePath) {
    return '/tmp/' . basename($templatePath);
}]);
$compiler = new Compiler();
$compiler->setOption('compileAlways', true);
$compiler->setOption('compiledPath', '../cache/volt/');
`,
			},
			want: &phalcon.Scanned{
				Container:   "Di",
				ContainerAt: "public/index.php:8",
				Services:    []phalcon.Found{{Name: "volt", At: "public/index.php:9"}},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/app/cache/", At: "public/index.php:12", AssumesUnset: []string{"VOLT_PATH"}},
					{Key: "extension", Value: ".compiled", At: "public/index.php:13", AssumesUnset: []string{"VOLT_EXT"}},
					{Key: "stat", Value: false, At: "public/index.php:16"},
					{Key: "always", Value: true, At: "public/index.php:29"},
					// Relative to public/, where php-fpm runs index.php, and not cleaned.
					{Key: "path", Value: "/app/public/../cache/volt/", At: "public/index.php:30"},
				},
				Unread: []phalcon.Found{
					{Name: "separator", At: "public/index.php:14"},
					{Name: "always", At: "public/index.php:15"},
					{Name: "prefix", At: "public/index.php:17"},
					{Name: "", At: "public/index.php:24"},
					{Name: "path", At: "public/index.php:25"},
				},
			},
		},
		{
			name: "config lookups",
			files: map[string]string{
				"app/config/config.php": `
<?php
use Phalcon\Config;

return new Config([
    'application' => [
        'cacheDir' => __DIR__ . '/../../var/',
        'volt'     => ['compiledPath' => realpath(__DIR__ . '/../../var') . '/volt/', 'compileAlways' => true],
    ],
]);
`,
				// Files under a config dir that return arrays merge into it.
				"app/config/local.php": `
<?php
return ['application' => ['cacheDir' => dirname(__DIR__, 2) . '/cache/']];
`,
				"app/Providers/A.php": `
<?php
namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Mvc\View\Engine\Volt as VoltEngine;

class A
{
    public function register(DiInterface $container): void
    {
        $v = new VoltEngine(null, $container);
        $v->setOptions(['path' => $container->getShared('config')->application->cacheDir . 'a/']);
        $v->setOptions(['path' => $container->getConfig()->get('application')->get('cacheDir') . 'b/']);
        $v->setOptions(['path' => $container['config']['application']['cacheDir'] . 'c/']);
        $v->setOptions(['path' => $container->get('config')->path('application/cacheDir', null, '/') . 'd/']);
        $v->setOptions($container->get('config')->application->volt->toArray());
        $v->setOptions(['path' => $container->get('config')->path('application.missing')]);
    }
}
`,
			},
			want: &phalcon.Scanned{
				Services: []phalcon.Found{},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/cache/a/", At: "app/Providers/A.php:12"},
					{Key: "path", Value: "/app/cache/b/", At: "app/Providers/A.php:13"},
					{Key: "path", Value: "/app/cache/c/", At: "app/Providers/A.php:14"},
					{Key: "path", Value: "/app/cache/d/", At: "app/Providers/A.php:15"},
					{Key: "path", Value: "/app/var/volt/", At: "app/config/config.php:7"},
					{Key: "always", Value: true, At: "app/config/config.php:7"},
				},
				Unread: []phalcon.Found{{Name: "path", At: "app/Providers/A.php:17"}},
			},
		},
		{
			name: "options from a required file and constants from another file",
			files: map[string]string{
				"app/bootstrap.php": `
<?php
namespace App;

const ROOT = __DIR__ . '/..';
`,
				"app/config/volt.php": `
<?php
return [
    'path'      => \App\ROOT . '/cache/volt/',
    'separator' => '%%',
    'stat'      => true,
];
`,
				"public/index.php": `
<?php
namespace App;

use Phalcon\Di\FactoryDefault\Cli;
use Phalcon\Mvc\View\Engine\Volt;

$di = new Cli();
$volt = new Volt($view, $di);
$volt->setOptions(require '../app/config/volt.php');
`,
			},
			want: &phalcon.Scanned{
				Services: []phalcon.Found{},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/app/../cache/volt/", At: "app/config/volt.php:3"},
					{Key: "separator", Value: "%%", At: "app/config/volt.php:4"},
					{Key: "stat", Value: true, At: "app/config/volt.php:5"},
				},
				Unread: []phalcon.Found{},
			},
		},
		{
			name: "static DI, injectables and a guarded config",
			files: map[string]string{
				"config/config.php": `
<?php
use Phalcon\Config\Config;

$local = __DIR__ . '/config.local.php';
if (is_file($local)) {
    return require $local;
}

return new Config([
    'volt' => ['path' => __DIR__ . '/../storage/volt/', 'prefix' => 'app_'],
]);
`,
				"app/Module.php": `
<?php
namespace App;

use Phalcon\Di\Di;
use Phalcon\Di\FactoryDefault as Container;
use Phalcon\Di\Injectable;
use Phalcon\Mvc\View\Engine\Volt\Compiler;

class Module extends Injectable
{
    public function boot($app): void
    {
        Di::getDefault()->setShared('logger', function () {});
        Container::getDefault()['cache'] = function () {};
        $app->getDI()->set('mailer', function () {});
        $compiler = new Compiler();
        $compiler->setOptions((array) $this->config->volt);
    }
}
`,
			},
			want: &phalcon.Scanned{
				Services: []phalcon.Found{
					{Name: "cache", At: "app/Module.php:14"},
					{Name: "logger", At: "app/Module.php:13"},
					{Name: "mailer", At: "app/Module.php:15"},
				},
				Options: []phalcon.Option{
					{Key: "path", Value: "/app/config/../storage/volt/", At: "config/config.php:10"},
					{Key: "prefix", Value: "app_", At: "config/config.php:10"},
				},
				Unread: []phalcon.Found{},
			},
		},
		{
			name: "a DI class of the app and loadFromPhp",
			files: map[string]string{
				"app/Services.php": `
<?php
use Phalcon\Di\FactoryDefault;

class Services extends FactoryDefault
{
    public function __construct()
    {
        parent::__construct();
        $this->setShared('elements', function () {
            return new Elements();
        });
        $this->loadFromPhp(__DIR__ . '/config/services.php');
        $this->loadFromYaml(__DIR__ . '/config/services.yml');
    }
}
`,
				"app/config/services.php": `
<?php
return [
    'dispatcher' => ['className' => 'Phalcon\Mvc\Dispatcher'],
    'url'        => ['className' => 'Phalcon\Mvc\Url', 'shared' => true],
];
`,
				"public/index.php": `
<?php
require __DIR__ . '/../app/Services.php';
$di = new Services();
$di->setAcl(new Acl());
$di->setShared('session', new Phalcon\Di\Service(function () {
    return new Session();
}, true));
`,
			},
			want: &phalcon.Scanned{
				Container:   "FactoryDefault",
				ContainerAt: "public/index.php:3",
				Services: []phalcon.Found{
					{Name: "acl", At: "public/index.php:4"},
					{Name: "dispatcher", At: "app/config/services.php:3"},
					{Name: "elements", At: "app/Services.php:9"},
					{Name: "session", At: "public/index.php:5"},
					{Name: "url", At: "app/config/services.php:4"},
				},
				Options: []phalcon.Option{},
				Unread:  []phalcon.Found{},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, files := writeApp(t, tc.files)
			got, err := phalcon.Scan(dir, files, "/app", "public")
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Scan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanReadsOnlyPHP(t *testing.T) {
	dir, files := writeApp(t, map[string]string{
		"app/views/index.volt": "{{ di.set('x') }}",
		"app/notes.txt":        "<?php $di->set('txt', 1);",
		"index.php":            "<?php $di->set('root', 1);",
	})
	// A listed file that is gone is never read unless it is PHP.
	files = append(files, "gone.txt")
	got, err := phalcon.Scan(dir, files, "/app", ".")
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	want := []phalcon.Found{{Name: "root", At: "index.php:1"}}
	if diff := cmp.Diff(want, got.Services); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
}

func TestScanUnreadableFile(t *testing.T) {
	dir, files := writeApp(t, map[string]string{"index.php": "<?php\n"})
	// A directory named like a PHP file cannot be read on any system, root
	// or not.
	if err := os.Mkdir(filepath.Join(dir, "odd.php"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := phalcon.Scan(dir, append(files, "odd.php"), "/app", "public")
	if !badinput.Is(err) {
		t.Fatalf("Scan: err = %v, want a badinput error", err)
	}
	if !strings.HasPrefix(err.Error(), "odd.php: reading: ") {
		t.Errorf("err = %q, want it to name odd.php", err)
	}
}

// FuzzScan checks that no PHP stops a scan: any front controller, next to
// a config and a provider it may reach, scans without error or panic.
func FuzzScan(f *testing.F) {
	for _, app := range []map[string]string{devtools, vokuro, invo} {
		for rel, src := range app {
			if strings.HasPrefix(rel, "public/") {
				f.Add([]byte(src))
			}
		}
	}
	f.Add([]byte("<?php $di = new FactoryDefault(); $di['x'] = fn() => $di->get('x'); $di->setX($di);"))
	f.Add([]byte("<?php define('A', A . B); define('B', A); $volt->setOptions(['path' => A, ...$volt]);"))
	f.Add([]byte("<?php $a = $a . $a; $volt->setOption('path', require __FILE__); return $a;"))
	dir, files := writeApp(f, map[string]string{
		"app/config/config.php":          devtools["app/config/config.php"],
		"app/config/services.php":        devtools["app/config/services.php"],
		"src/Providers/VoltProvider.php": invo["src/Providers/VoltProvider.php"],
		"public/index.php":               "",
	})
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(filepath.Join(dir, "public", "index.php"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := phalcon.Scan(dir, files, "/app", "public"); err != nil {
			t.Fatalf("Scan: %v", err)
		}
	})
}
