<?php

declare(strict_types=1);

namespace Dotenv\Exception;

use Throwable;

/**
 * Implemented by every exception this library throws.
 */
interface ExceptionInterface extends Throwable
{
}
