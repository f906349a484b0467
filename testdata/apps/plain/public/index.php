<?php

require __DIR__ . '/../vendor/autoload.php';

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
if ($path === '/health') {
    header('Content-Type: text/plain');
    echo "ok\n";
    return;
}
echo (new App\Page())->render($path);
