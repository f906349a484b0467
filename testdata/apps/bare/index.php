<?php
// The smallest app phpbuild serves: no composer, one front controller.
header('Content-Type: text/plain');
echo "bare app on PHP " . PHP_VERSION . "\n";
