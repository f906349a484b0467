<?php

declare(strict_types=1);

namespace App\Forms;

use Phalcon\Filter\Validation\Validator\Identical;
use Phalcon\Forms\Element\Hidden;
use Phalcon\Forms\Form;

/**
 * @property \Phalcon\Encryption\Security $security
 */
abstract class FormBase extends Form
{
    /**
     * The hidden "csrf" field. The template renders it with the current
     * token, form.render('csrf', ['value': security.getToken()]); on POST it
     * must equal the token the session held before this request.
     */
    protected function addCsrfElement(): void
    {
        $csrf = new Hidden('csrf');
        $csrf->addValidator(new Identical([
            'value'   => $this->security->getRequestToken(),
            'message' => 'The form expired, please send it again',
        ]));

        $this->add($csrf);
    }
}
