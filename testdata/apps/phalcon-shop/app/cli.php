<?php

declare(strict_types=1);

/*
 * The console: php app/cli.php TASK [ACTION] [PARAMS...]
 *
 *     php app/cli.php            prints "phalcon-shop cli ok" (MainTask)
 *     php app/cli.php migrate    creates and seeds the tables (MigrateTask)
 */

use App\Providers\ConfigProvider;
use App\Providers\DbProvider;
use Dotenv\Dotenv;
use Phalcon\Cli\Console;
use Phalcon\Cli\Dispatcher;
use Phalcon\Di\FactoryDefault\Cli as CliFactoryDefault;

define('BASE_PATH', dirname(__DIR__));
define('APP_PATH', BASE_PATH . '/app');

require BASE_PATH . '/vendor/autoload.php';

Dotenv::createImmutable(BASE_PATH)->safeLoad();

$di = new CliFactoryDefault();
$di->register(new ConfigProvider());
$di->register(new DbProvider());
$di->setShared('dispatcher', function (): Dispatcher {
    $dispatcher = new Dispatcher();
    $dispatcher->setDefaultNamespace('App\Tasks');

    return $dispatcher;
});

$arguments = ['task' => 'main', 'action' => 'main', 'params' => []];
foreach (array_slice($argv, 1) as $position => $argument) {
    match ($position) {
        0 => $arguments['task'] = $argument,
        1 => $arguments['action'] = $argument,
        default => $arguments['params'][] = $argument,
    };
}

try {
    (new Console($di))->handle($arguments);
} catch (Throwable $e) {
    fwrite(STDERR, sprintf('%s: %s%s', $e::class, $e->getMessage(), PHP_EOL));
    exit(1);
}
