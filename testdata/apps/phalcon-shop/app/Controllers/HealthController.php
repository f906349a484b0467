<?php

declare(strict_types=1);

namespace App\Controllers;

use Phalcon\Http\ResponseInterface;

/**
 * GET /health for the load balancer and phpbuild's release checks: no view,
 * no session, no database.
 */
final class HealthController extends ControllerBase
{
    public function indexAction(): ResponseInterface
    {
        $this->view->disable();

        return $this->response
            ->setStatusCode(200)
            ->setJsonContent(['status' => 'ok']);
    }
}
