<?php
// phpbuild's built-in health route. It runs through nginx and php-fpm but
// not the app, so a 200 means both servers and PHP work. An app that sets
// [build] health_path in project.toml answers its own route instead.
header('Content-Type: application/json');
header('Cache-Control: no-store');
http_response_code(200);
echo json_encode(['status' => 'ok', 'php' => PHP_VERSION]), "\n";
