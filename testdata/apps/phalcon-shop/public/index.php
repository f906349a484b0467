<?php

declare(strict_types=1);

use Dotenv\Dotenv;
use Phalcon\Di\FactoryDefault;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Http\ResponseInterface;
use Phalcon\Mvc\Application;

define('BASE_PATH', dirname(__DIR__));
define('APP_PATH', BASE_PATH . '/app');

require BASE_PATH . '/vendor/autoload.php';

// .env is for development; in the container the environment is set already
// and always wins (immutable loading).
Dotenv::createImmutable(BASE_PATH)->safeLoad();

$outputLevel = ob_get_level();

try {
    $di = new FactoryDefault();

    /** @var list<class-string<ServiceProviderInterface>> $providers */
    $providers = require APP_PATH . '/config/providers.php';
    foreach ($providers as $class) {
        $di->register(new $class());
    }

    $application = new Application($di);
    $response = $application->handle($_SERVER['REQUEST_URI'] ?? '/');

    if ($response instanceof ResponseInterface) {
        $response->send();
    }
} catch (Throwable $e) {
    error_log(sprintf(
        'phalcon-shop: %s: %s in %s:%d',
        $e::class,
        $e->getMessage(),
        $e->getFile(),
        $e->getLine(),
    ));

    // Drop whatever the view had rendered before it failed.
    while (ob_get_level() > $outputLevel) {
        ob_end_clean();
    }

    if (!headers_sent()) {
        http_response_code(500);
        header('Content-Type: text/html; charset=utf-8');
    }
    echo <<<'HTML'
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Server error</title></head>
        <body data-page="error-500"><h1>Something went wrong</h1><p>The error has been logged. Please try again later.</p></body>
        </html>

        HTML;
}
