<?php

declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

use App\Config;
use App\Console\Kernel;

exit((new Kernel(Config::fromEnv()))->run($argv));
