<?php

declare(strict_types=1);

namespace Dotenv;

/**
 * The process environment as seen by PHP: $_ENV, $_SERVER and getenv().
 *
 * Immutable: a variable that was set before loading (by the shell, the
 * container, the web server) is never overwritten. A variable this object
 * set itself may be set again, so the last assignment in a file wins.
 *
 * @internal
 */
final class Environment
{
    /** @var array<string, true> */
    private array $loaded = [];

    public function get(string $name): ?string
    {
        foreach ([$_ENV, $_SERVER] as $source) {
            if (array_key_exists($name, $source) && is_scalar($source[$name])) {
                return (string) $source[$name];
            }
        }
        $value = getenv($name);

        return $value === false ? null : $value;
    }

    public function set(string $name, string $value): bool
    {
        if ($this->isExternallyDefined($name)) {
            return false;
        }

        $_ENV[$name] = $value;
        $_SERVER[$name] = $value;
        if (function_exists('putenv')) {
            putenv($name . '=' . $value);
        }
        $this->loaded[$name] = true;

        return true;
    }

    private function isExternallyDefined(string $name): bool
    {
        if (isset($this->loaded[$name])) {
            return false;
        }

        return array_key_exists($name, $_ENV)
            || array_key_exists($name, $_SERVER)
            || getenv($name) !== false;
    }
}
