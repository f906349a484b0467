<?php

declare(strict_types=1);

namespace App\Plugins;

use Phalcon\Di\Injectable;
use Phalcon\Events\Event;
use Phalcon\Mvc\Dispatcher;
use Phalcon\Mvc\Dispatcher\Exception as DispatcherException;
use Throwable;

/**
 * A missing controller or action is a 404, not a 500. Every other exception
 * goes on to the front controller's error page.
 */
final class NotFoundPlugin extends Injectable
{
    private const NOT_FOUND_CODES = [
        DispatcherException::EXCEPTION_HANDLER_NOT_FOUND,
        DispatcherException::EXCEPTION_ACTION_NOT_FOUND,
    ];

    public function beforeException(Event $event, Dispatcher $dispatcher, Throwable $exception): bool
    {
        if ($exception instanceof DispatcherException
            && in_array($exception->getCode(), self::NOT_FOUND_CODES, true)
        ) {
            $dispatcher->forward(['controller' => 'errors', 'action' => 'show404']);

            return false;
        }

        return true;
    }
}
