<?php

namespace App\Controllers;

use Phalcon\Mvc\Controller;

class IndexController extends Controller
{
    public function indexAction()
    {
        $this->view->greeting = getenv('GREETING_NAME') ?: 'phalcon';
        $this->view->phalconVersion = (new \Phalcon\Support\Version())->get();
    }
}
