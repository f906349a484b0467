<?php

declare(strict_types=1);

namespace App\Controllers;

use Phalcon\Messages\MessageInterface;
use Phalcon\Mvc\Controller;

/**
 * @property \App\Library\Auth      $auth
 * @property \Phalcon\Flash\Direct  $flash
 * @property \Phalcon\Flash\Session $flashSession
 */
abstract class ControllerBase extends Controller
{
    /**
     * Shows each validation message as an error on this page.
     *
     * @param iterable<MessageInterface> $messages
     */
    protected function flashErrors(iterable $messages): void
    {
        foreach ($messages as $message) {
            $this->flash->error($message->getMessage());
        }
    }

    /**
     * Ends the request on the 404 page, keeping the URL.
     */
    protected function notFound(): void
    {
        $this->dispatcher->forward(['controller' => 'errors', 'action' => 'show404']);
    }
}
