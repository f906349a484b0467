<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Assets\Manager as AssetsManager;
use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;

/**
 * "assets": replaces FactoryDefault's manager with one that already holds the
 * site stylesheet, so the layout only calls assets.outputCss().
 */
final class AssetsProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('assets', function (): AssetsManager {
            $assets = new AssetsManager($this->getShared('tag'));
            $assets->setDI($this);
            $assets->addCss('css/app.css');

            return $assets;
        });
    }
}
