<?php

declare(strict_types=1);

namespace Dotenv;

use Dotenv\Exception\InvalidFileException;
use Dotenv\Exception\InvalidPathException;

/**
 * Loads a .env file into $_ENV, $_SERVER and getenv() without overwriting
 * anything already set.
 *
 *     Dotenv::createImmutable(__DIR__)->safeLoad();
 */
final class Dotenv
{
    /**
     * @param list<string> $paths
     */
    private function __construct(
        private readonly array $paths,
        private readonly string $name,
        private readonly Environment $environment,
    ) {
    }

    /**
     * @param string|list<string> $paths directories to look in; the first readable file wins
     */
    public static function createImmutable(string|array $paths, string $name = '.env'): self
    {
        return new self(array_values((array) $paths), $name, new Environment());
    }

    /**
     * Parses dotenv text without touching the environment. ${VAR} resolves
     * against the variables defined earlier in the same text.
     *
     * @return array<string, string>
     *
     * @throws InvalidFileException
     */
    public static function parse(string $content): array
    {
        $values = [];
        foreach ((new Parser())->parse($content) as $entry) {
            $values[$entry->name] = $entry->resolve(static fn (string $var): ?string => $values[$var] ?? null);
        }

        return $values;
    }

    /**
     * Loads the file. Returns the variables it set (those already defined
     * elsewhere are left alone and not returned).
     *
     * @return array<string, string>
     *
     * @throws InvalidPathException when no file can be read
     * @throws InvalidFileException when the file is not valid dotenv syntax
     */
    public function load(): array
    {
        $loaded = [];
        foreach ((new Parser())->parse($this->read()) as $entry) {
            $value = $entry->resolve($this->environment->get(...));
            if ($this->environment->set($entry->name, $value)) {
                $loaded[$entry->name] = $value;
            }
        }

        return $loaded;
    }

    /**
     * Like load(), but a missing file is not an error: it returns [].
     *
     * @return array<string, string>
     *
     * @throws InvalidFileException when the file is not valid dotenv syntax
     */
    public function safeLoad(): array
    {
        try {
            return $this->load();
        } catch (InvalidPathException) {
            return [];
        }
    }

    private function read(): string
    {
        $tried = [];
        foreach ($this->paths as $path) {
            $file = rtrim($path, '/\\') . DIRECTORY_SEPARATOR . $this->name;
            $tried[] = $file;
            if (!is_file($file) || !is_readable($file)) {
                continue;
            }
            $content = @file_get_contents($file);
            if ($content !== false) {
                return $content;
            }
        }

        throw new InvalidPathException(sprintf(
            'Unable to read any of the environment file(s) at [%s].',
            implode(', ', $tried),
        ));
    }
}
