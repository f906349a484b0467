<?php

declare(strict_types=1);

namespace App\Providers;

use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;
use Phalcon\Mvc\Url;

/**
 * "url": builds links from the configured base URI (Volt's url() uses it).
 */
final class UrlProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('url', function (): Url {
            $url = new Url();
            $url->setBaseUri($this->getShared('config')->application->baseUri);

            return $url;
        });
    }
}
