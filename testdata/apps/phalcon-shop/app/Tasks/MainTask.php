<?php

declare(strict_types=1);

namespace App\Tasks;

use Phalcon\Cli\Task;

/**
 * php app/cli.php [main] — checks that the console boots.
 */
final class MainTask extends Task
{
    public function mainAction(): void
    {
        echo 'phalcon-shop cli ok', PHP_EOL;
    }
}
