<?php
// One smoke check's request. `phpbuild release` runs this with `php -n -r`
// inside the new container, as `launcher health` runs there: the run image
// has PHP but no curl, and -n keeps the app's extensions and php.ini out.
// It asks nginx for one page as a client would and prints the raw HTTP
// response, cut at PHPBUILD_SMOKE_MAX bytes; phpbuild judges it. Nothing
// is followed: a redirect is the answer.
$port = getenv('PORT') ?: '8080';
$deadline = microtime(true) + (float) getenv('PHPBUILD_SMOKE_TIMEOUT');
$max = (int) getenv('PHPBUILD_SMOKE_MAX');
$host = getenv('PHPBUILD_SMOKE_HOST') ?: "127.0.0.1:$port";
$s = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $error, max(0.001, $deadline - microtime(true)));
if ($s === false) {
    fwrite(STDERR, "connecting to 127.0.0.1:$port: $error\n");
    exit(3);
}
fwrite($s, 'GET ' . getenv('PHPBUILD_SMOKE_PATH') . " HTTP/1.1\r\nHost: $host\r\nUser-Agent: phpbuild-smoke\r\nAccept: */*\r\nConnection: close\r\n\r\n");
while ($max > 0 && !feof($s)) {
    $left = $deadline - microtime(true);
    if ($left > 0) {
        stream_set_timeout($s, (int) $left, (int) (fmod($left, 1) * 1e6));
        $chunk = fread($s, min(65536, $max));
    }
    if ($left <= 0 || stream_get_meta_data($s)['timed_out']) {
        fwrite(STDERR, "timed out\n");
        exit(4);
    }
    if ($chunk === false) {
        break;
    }
    echo $chunk;
    $max -= strlen($chunk);
}
