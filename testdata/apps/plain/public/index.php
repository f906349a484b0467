<?php

require __DIR__ . '/../vendor/autoload.php';

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
switch ($path) {
    case '/slow':
        // Holds a request open, so tests can stop the container mid-request.
        usleep(max(0, min(10000, (int) ($_GET['ms'] ?? 1000))) * 1000);
        echo "slow done\n";
        return;
    case '/write':
        // var/cache is declared writable; the code is not.
        $cache = @file_put_contents(dirname(__DIR__) . '/var/cache/probe.txt', 'ok') !== false;
        $code = @file_put_contents(__DIR__ . '/probe.php', '<?php') !== false;
        echo 'cache ' . ($cache ? 'writable' : 'read-only') . ', code ' . ($code ? 'writable' : 'read-only') . "\n";
        return;
}
echo (new App\Page())->render($path);
