<?php

declare(strict_types=1);

namespace Dotenv\Exception;

use InvalidArgumentException;

/**
 * None of the candidate files could be read.
 */
final class InvalidPathException extends InvalidArgumentException implements ExceptionInterface
{
}
