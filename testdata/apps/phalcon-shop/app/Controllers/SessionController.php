<?php

declare(strict_types=1);

namespace App\Controllers;

use App\Forms\LoginForm;
use Phalcon\Http\ResponseInterface;

final class SessionController extends ControllerBase
{
    /**
     * GET /session/login shows the form; POST signs in.
     */
    public function loginAction(): ?ResponseInterface
    {
        if (!$this->request->isPost() && $this->auth->isLoggedIn()) {
            return $this->response->redirect('products');
        }

        $form = new LoginForm();

        if ($this->request->isPost()) {
            if (!$this->security->checkToken()) {
                $this->flash->error('The form expired, please send it again');
            } elseif (!$form->isValid($this->request->getPost())) {
                $this->flashErrors($form->getMessages());
            } elseif ($this->auth->check(
                (string) $this->request->getPost('email'),
                (string) $this->request->getPost('password'),
            )) {
                $this->flashSession->success(sprintf('Welcome back, %s!', $this->auth->getName()));

                return $this->response->redirect('products');
            } else {
                $this->flash->error('Wrong email or password');
            }

            $form->clear(['password']);
        }

        $this->view->setVar('form', $form);

        return null;
    }

    /**
     * GET /session/logout
     */
    public function logoutAction(): ResponseInterface
    {
        $this->auth->logout();
        $this->flashSession->notice('You are signed out');

        return $this->response->redirect('');
    }
}
