<?php

declare(strict_types=1);

namespace App\Models;

use Phalcon\Filter\Validation;
use Phalcon\Filter\Validation\Validator\Callback;
use Phalcon\Filter\Validation\Validator\PresenceOf;
use Phalcon\Mvc\Model;

/**
 * Something the shop sells.
 */
class Products extends Model
{
    public ?int $id = null;

    public ?string $name = null;

    /** DECIMAL(10,2), kept as a string so no cent is lost to floats. */
    public ?string $price = null;

    public ?string $created_at = null;

    public function initialize(): void
    {
        $this->setSource('products');
    }

    public function beforeValidationOnCreate(): void
    {
        $this->created_at ??= date('Y-m-d H:i:s');
    }

    public function validation(): bool
    {
        $validator = new Validation();

        $validator->add('name', new PresenceOf([
            'message' => 'The name is required',
        ]));

        $validator->add('price', new Callback([
            'message'  => 'The price must be greater than zero',
            'callback' => function (Products $product): bool {
                return is_numeric($product->price) && (float) $product->price > 0;
            },
        ]));

        return $this->validate($validator);
    }
}
