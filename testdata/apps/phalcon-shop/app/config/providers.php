<?php

declare(strict_types=1);

/*
 * The services of the web application, registered in this order by
 * public/index.php. Each class implements Phalcon\Di\ServiceProviderInterface.
 */

use App\Providers;

return [
    Providers\ConfigProvider::class,
    Providers\RouterProvider::class,
    Providers\UrlProvider::class,
    Providers\DbProvider::class,
    Providers\SessionProvider::class,
    Providers\FlashProvider::class,
    Providers\AuthProvider::class,
    Providers\DispatcherProvider::class,
    Providers\AssetsProvider::class,
    Providers\ViewProvider::class,
];
