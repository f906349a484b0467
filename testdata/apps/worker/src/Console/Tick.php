<?php

declare(strict_types=1);

namespace App\Console;

use App\Config;

/**
 * The scheduled job: records each run with its release, and a run that
 * finds another one still going (the scheduler ran it twice at once).
 */
final class Tick
{
    public function __construct(private readonly Config $config)
    {
    }

    public function run(): int
    {
        $log = $this->config->dataDir . '/schedule.log';
        $lock = fopen($this->config->dataDir . '/schedule.lock', 'c');
        if (!flock($lock, LOCK_EX | LOCK_NB)) {
            file_put_contents($log, sprintf("overlap %s %.3f\n", $this->config->release, microtime(true)), FILE_APPEND | LOCK_EX);

            return 1;
        }
        file_put_contents($log, sprintf("start %s %.3f\n", $this->config->release, microtime(true)), FILE_APPEND | LOCK_EX);
        usleep($this->config->tickMillis * 1000);
        file_put_contents($log, sprintf("end %s %.3f\n", $this->config->release, microtime(true)), FILE_APPEND | LOCK_EX);
        echo "tick by {$this->config->release}\n";
        flock($lock, LOCK_UN);

        return 0;
    }
}
