<?php

namespace App\Controllers;

use Phalcon\Mvc\Controller;

class HealthController extends Controller
{
    public function indexAction()
    {
        $this->view->disable();
        $this->response->setContentType('text/plain');
        $this->response->setContent("ok\n");
        return $this->response;
    }
}
