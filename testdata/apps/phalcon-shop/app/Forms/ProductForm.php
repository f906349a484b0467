<?php

declare(strict_types=1);

namespace App\Forms;

use Phalcon\Filter\Validation\Validator\Numericality;
use Phalcon\Filter\Validation\Validator\PresenceOf;
use Phalcon\Filter\Validation\Validator\StringLength;
use Phalcon\Forms\Element\Numeric;
use Phalcon\Forms\Element\Text;

final class ProductForm extends FormBase
{
    public function initialize(): void
    {
        $name = new Text('name', ['maxlength' => 120]);
        $name->setLabel('Name');
        $name->setFilters(['striptags', 'trim']);
        $name->addValidators([
            new PresenceOf(['message' => 'The name is required']),
            new StringLength([
                'max'            => 120,
                'messageMaximum' => 'The name is too long (120 characters at most)',
            ]),
        ]);
        $this->add($name);

        $price = new Numeric('price', ['step' => '0.01', 'min' => '0.01']);
        $price->setLabel('Price (EUR)');
        $price->addValidators([
            new PresenceOf(['message' => 'The price is required']),
            new Numericality(['message' => 'The price must be a number']),
        ]);
        $this->add($price);

        $this->addCsrfElement();
    }
}
