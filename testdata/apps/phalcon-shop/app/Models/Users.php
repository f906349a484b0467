<?php

declare(strict_types=1);

namespace App\Models;

use Phalcon\Mvc\Model;

/**
 * Back-office staff who may sign in.
 */
class Users extends Model
{
    public ?int $id = null;

    public ?string $name = null;

    public ?string $email = null;

    /** password_hash() output, never the password itself. */
    public ?string $password_hash = null;

    public ?string $created_at = null;

    public function initialize(): void
    {
        $this->setSource('users');
    }

    public function beforeValidationOnCreate(): void
    {
        $this->created_at ??= date('Y-m-d H:i:s');
    }
}
