<?php

declare(strict_types=1);

namespace App\Forms;

use Phalcon\Filter\Validation\Validator\Email;
use Phalcon\Filter\Validation\Validator\PresenceOf;
use Phalcon\Forms\Element\Password;
use Phalcon\Forms\Element\Text;

final class LoginForm extends FormBase
{
    public function initialize(): void
    {
        $email = new Text('email', [
            'placeholder'  => 'you@example.com',
            'autocomplete' => 'username',
        ]);
        $email->setLabel('Email');
        $email->setFilters(['trim', 'lower']);
        $email->addValidators([
            new PresenceOf(['message' => 'The email is required']),
            new Email(['message' => 'The email is not valid']),
        ]);
        $this->add($email);

        $password = new Password('password', ['autocomplete' => 'current-password']);
        $password->setLabel('Password');
        $password->addValidator(new PresenceOf(['message' => 'The password is required']));
        $this->add($password);

        $this->addCsrfElement();
    }
}
