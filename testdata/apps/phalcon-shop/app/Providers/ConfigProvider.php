<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Config\Config;
use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;

/**
 * "config": app/config/config.php. Shared by the web app and the CLI.
 */
final class ConfigProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('config', function (): Config {
            return require APP_PATH . '/config/config.php';
        });
    }
}
