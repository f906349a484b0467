<?php

declare(strict_types=1);

/*
 * Application configuration. Everything that differs between machines comes
 * from the environment (the container's env, or .env in development).
 */

use Phalcon\Config\Config;

$env = static function (string $name, string $default = ''): string {
    $value = $_ENV[$name] ?? getenv($name);

    return is_string($value) && $value !== '' ? $value : $default;
};

return new Config([
    'database' => [
        'adapter'  => 'Mysql',
        'host'     => $env('DB_HOST', '127.0.0.1'),
        'port'     => (int) $env('DB_PORT', '3306'),
        'username' => $env('DB_USERNAME', 'shop'),
        'password' => $env('DB_PASSWORD'),
        'dbname'   => $env('DB_NAME', 'shop'),
        'charset'  => 'utf8mb4',
    ],
    'application' => [
        'appDir'         => APP_PATH . '/',
        'controllersDir' => APP_PATH . '/Controllers/',
        'modelsDir'      => APP_PATH . '/Models/',
        'viewsDir'       => APP_PATH . '/views/',
        'cacheDir'       => BASE_PATH . '/cache/',
        'baseUri'        => '/',
    ],
    'app' => [
        'name' => $env('APP_NAME', 'Phalcon Shop'),
    ],
]);
