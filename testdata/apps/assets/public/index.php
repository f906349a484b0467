<?php

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
if ($path === '/health') {
    header('Content-Type: text/plain');
    echo "ok\n";
    return;
}
$manifest = json_decode((string) @file_get_contents(__DIR__ . '/build/manifest.json'), true) ?: [];
$css = htmlspecialchars($manifest['app.css'] ?? '');
$js = htmlspecialchars($manifest['app.js'] ?? '');
echo "<!doctype html><link rel=\"stylesheet\" href=\"$css\"><script src=\"$js\"></script><h1>assets app</h1>\n";
