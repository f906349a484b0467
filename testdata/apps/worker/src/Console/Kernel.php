<?php

declare(strict_types=1);

namespace App\Console;

use App\Config;
use App\Queue\FileQueue;
use App\Queue\Job;
use App\Queue\Worker;

/** The app's console: php cli.php COMMAND [ARGS]. */
final class Kernel
{
    public function __construct(private readonly Config $config)
    {
    }

    /** @param list<string> $argv */
    public function run(array $argv): int
    {
        $command = $argv[1] ?? 'list';
        $queue = new FileQueue($this->config->dataDir . '/queue');

        return match ($command) {
            'queue:work' => (new Worker($queue, $this->config))->run(),
            'queue:push' => $this->push($queue, $argv[2] ?? bin2hex(random_bytes(4)), (int) ($argv[3] ?? 0)),
            'schedule:tick' => (new Tick($this->config))->run(),
            'migrate' => $this->migrate(),
            'env' => $this->env($argv[2] ?? 'APP_RELEASE'),
            'echo-stdin' => $this->echoStdin(),
            'fail' => (int) ($argv[2] ?? 1),
            default => $this->usage($command),
        };
    }

    private function push(FileQueue $queue, string $id, int $millis): int
    {
        $queue->push(new Job($id, $millis));
        echo "queued $id\n";

        return 0;
    }

    private function migrate(): int
    {
        file_put_contents($this->config->dataDir . '/migrations.log', "migrated by {$this->config->release}\n", FILE_APPEND | LOCK_EX);
        echo "migrations: up to date for {$this->config->release}\n";

        return 0;
    }

    private function env(string $key): int
    {
        echo $key, '=', $_ENV[$key] ?? getenv($key) ?: '', "\n";

        return 0;
    }

    private function echoStdin(): int
    {
        $in = stream_get_contents(STDIN);
        echo strtoupper((string) $in);

        return 0;
    }

    private function usage(string $command): int
    {
        fwrite(STDERR, "unknown command $command; commands: queue:work, queue:push ID MILLIS, schedule:tick, migrate, env KEY, echo-stdin, fail CODE\n");

        return 64;
    }
}
