<?php

declare(strict_types=1);

namespace App\Library;

/**
 * Cache-busting versions for files under public/.
 *
 * Volt calls it through the "asset_version" function registered in
 * App\Providers\ViewProvider:
 *
 *     <img src="{{ url('img/logo.svg') }}?v={{ asset_version('img/logo.svg') }}">
 */
final class AssetVersion
{
    /** @var array<string, string> */
    private static array $versions = [];

    /**
     * Eight hex digits that change when the file's content does, or "0" when
     * the file does not exist.
     */
    public static function of(string $path): string
    {
        $file = BASE_PATH . '/public/' . ltrim($path, '/');

        return self::$versions[$file] ??= is_file($file)
            ? (string) hash_file('crc32b', $file)
            : '0';
    }
}
