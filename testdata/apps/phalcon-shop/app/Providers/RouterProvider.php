<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\Router;

/**
 * "router": explicit routes only (no /:controller/:action defaults).
 */
final class RouterProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('router', function (): Router {
            $router = new Router(false);
            $router->removeExtraSlashes(true);

            $router->addGet('/', ['controller' => 'index', 'action' => 'index'])
                ->setName('home');

            $router->add('/session/login', ['controller' => 'session', 'action' => 'login'])
                ->via(['GET', 'POST'])
                ->setName('login');
            $router->addGet('/session/logout', ['controller' => 'session', 'action' => 'logout'])
                ->setName('logout');

            $router->addGet('/products', ['controller' => 'products', 'action' => 'index'])
                ->setName('products');
            $router->addGet('/products/new', ['controller' => 'products', 'action' => 'new'])
                ->setName('products-new');
            $router->addPost('/products/new', ['controller' => 'products', 'action' => 'create']);
            $router->addGet('/products/{id:[0-9]+}', ['controller' => 'products', 'action' => 'show'])
                ->setName('product');

            $router->add('/health', ['controller' => 'health', 'action' => 'index'])
                ->via(['GET', 'HEAD']);

            $router->notFound(['controller' => 'errors', 'action' => 'show404']);

            return $router;
        });
    }
}
