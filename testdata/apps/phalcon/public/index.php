<?php

use Phalcon\Autoload\Loader;
use Phalcon\Di\FactoryDefault;
use Phalcon\Mvc\Application;
use Phalcon\Mvc\View;
use Phalcon\Mvc\View\Engine\Volt;

define('APP_PATH', dirname(__DIR__) . '/app');

$loader = new Loader();
$loader->setNamespaces(['App\Controllers' => APP_PATH . '/controllers/']);
$loader->register();

$di = new FactoryDefault();
$di->setShared('view', function () use ($di) {
    $view = new View();
    $view->setViewsDir(APP_PATH . '/views/');
    $view->registerEngines([
        '.volt' => function ($view) use ($di) {
            $volt = new Volt($view, $di);
            $volt->setOptions(require APP_PATH . '/config/volt-options.php');
            $compiler = $volt->getCompiler();
            require APP_PATH . '/config/volt.php';
            return $volt;
        },
    ]);
    return $view;
});
$di->get('router')->setDefaultNamespace('App\Controllers');

$application = new Application($di);
$response = $application->handle(parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/');
$response->send();
