<?php

declare(strict_types=1);

namespace App\Controllers;

final class ErrorsController extends ControllerBase
{
    public function show404Action(): void
    {
        $this->response->setStatusCode(404);
    }

    public function show401Action(): void
    {
        $this->response->setStatusCode(401);
    }
}
