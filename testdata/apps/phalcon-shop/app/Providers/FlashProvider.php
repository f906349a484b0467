<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Flash\Direct;
use Phalcon\Flash\Session as FlashSession;

/**
 * "flash" (messages for this response) and "flashSession" (messages that
 * survive a redirect), both styled like Bootstrap alerts. The layout prints
 * them with flash.output() and flashSession.output().
 */
final class FlashProvider implements ServiceProviderInterface
{
    private const CSS_CLASSES = [
        'error'   => 'alert alert-danger',
        'notice'  => 'alert alert-info',
        'success' => 'alert alert-success',
        'warning' => 'alert alert-warning',
    ];

    public function register(DiInterface $di): void
    {
        $cssClasses = self::CSS_CLASSES;

        $di->setShared('flash', function () use ($cssClasses): Direct {
            $flash = new Direct($this->getShared('escaper'));
            $flash->setCssClasses($cssClasses);
            // Keep the messages until the layout prints them instead of
            // echoing them from the controller, before the page.
            $flash->setImplicitFlush(false);

            return $flash;
        });

        $di->setShared('flashSession', function () use ($cssClasses): FlashSession {
            $flash = new FlashSession($this->getShared('escaper'), $this->getShared('session'));
            $flash->setCssClasses($cssClasses);

            return $flash;
        });
    }
}
