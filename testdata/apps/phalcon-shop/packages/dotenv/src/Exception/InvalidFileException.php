<?php

declare(strict_types=1);

namespace Dotenv\Exception;

use InvalidArgumentException;

/**
 * The file was read but its content is not valid dotenv syntax.
 */
final class InvalidFileException extends InvalidArgumentException implements ExceptionInterface
{
}
