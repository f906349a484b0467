<?php

declare(strict_types=1);

namespace App;

/**
 * The app's settings, from the environment the release gives every process:
 * php-fpm, the worker and the scheduled jobs read the same snapshot.
 */
final class Config
{
    public function __construct(
        public readonly string $release,
        public readonly string $dataDir,
        public readonly int $tickMillis,
    ) {
    }

    public static function fromEnv(): self
    {
        $env = static fn (string $k, string $default): string => (string) ($_ENV[$k] ?? getenv($k) ?: $default);

        return new self(
            $env('APP_RELEASE', 'unreleased'),
            rtrim($env('DATA_DIR', dirname(__DIR__) . '/storage'), '/'),
            (int) $env('TICK_MS', '800'),
        );
    }
}
