<?php

declare(strict_types=1);

namespace Dotenv;

/**
 * One NAME=value assignment, its value kept as literal text and ${VAR}
 * references until it is resolved.
 *
 * @internal
 */
final class Entry
{
    /**
     * @param list<array{0: 'lit'|'var', 1: string}> $parts
     */
    public function __construct(
        public readonly string $name,
        private readonly array $parts,
    ) {
    }

    /**
     * @param callable(string): ?string $lookup the value of a variable, null when unset
     */
    public function resolve(callable $lookup): string
    {
        $value = '';
        foreach ($this->parts as [$kind, $text]) {
            $value .= $kind === 'var' ? ($lookup($text) ?? '') : $text;
        }

        return $value;
    }
}
