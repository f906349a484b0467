<?php

declare(strict_types=1);

namespace App\Providers;

use App\Library\Auth;
use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;

/**
 * "auth": the signed-in user (App\Library\Auth). The container injects
 * itself, since Auth is injection-aware.
 */
final class AuthProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('auth', Auth::class);
    }
}
