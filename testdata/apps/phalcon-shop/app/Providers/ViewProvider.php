<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\View;
use Phalcon\Mvc\View\Engine\Volt as VoltEngine;

/**
 * "view": Volt templates from app/views/, compiled to cache/volt/.
 *
 * Templates reach other services through the container: config, auth,
 * session, flash, flashSession, assets, dispatcher, security, url.
 */
final class ViewProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('view', function (): View {
            $config = $this->getShared('config');

            $view = new View();
            $view->setViewsDir($config->application->viewsDir);
            $view->registerEngines([
                '.volt' => function (View $view) use ($config): VoltEngine {
                    $volt = new VoltEngine($view, $this);
                    // Options first: getCompiler() hands them to the compiler
                    // it creates.
                    $volt->setOptions([
                        'path'      => $config->application->cacheDir . 'volt/',
                        'separator' => '_',
                    ]);

                    $compiler = $volt->getCompiler();

                    // A PHP function by name: strrev('pohs') in a template
                    // compiles to strrev('pohs').
                    $compiler->addFunction('strrev', 'strrev');

                    // A static method by name: asset_version('img/logo.svg').
                    $compiler->addFunction('asset_version', '\App\Library\AssetVersion::of');

                    // A closure returning PHP code: {{ amount|money }}.
                    $compiler->addFilter('money', function (string $resolvedArgs, ?array $exprArgs): string {
                        return 'number_format((float) ' . $resolvedArgs . ', 2)';
                    });

                    return $volt;
                },
            ]);

            return $view;
        });
    }
}
