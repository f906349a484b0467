<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Session\Adapter\Stream;
use Phalcon\Session\Manager;

/**
 * "session": files in PHP's session.save_path (the system temp dir when it
 * is not set), started as soon as something asks for the service.
 */
final class SessionProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('session', function (): Manager {
            $savePath = session_save_path();
            if ($savePath === false || $savePath === '') {
                $savePath = sys_get_temp_dir();
            }

            $session = new Manager();
            $session->setAdapter(new Stream(['savePath' => $savePath]));
            $session->start();

            return $session;
        });
    }
}
