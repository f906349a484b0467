<?php

declare(strict_types=1);

namespace App\Queue;

use App\Config;

/**
 * The queue consumer: claims jobs one at a time and, on SIGTERM, finishes
 * the job in hand before it exits, as a deploy asks it to.
 */
final class Worker
{
    private bool $stopping = false;

    public function __construct(
        private readonly FileQueue $queue,
        private readonly Config $config,
        private readonly string $readyFile = '/tmp/worker.ready',
    ) {
    }

    public function run(): int
    {
        pcntl_async_signals(true);
        foreach ([SIGTERM, SIGINT, SIGQUIT] as $sig) {
            pcntl_signal($sig, function (int $sig): void {
                fwrite(STDERR, "worker: signal $sig, stopping after the current job\n");
                $this->stopping = true;
            });
        }
        $name = gethostname() . '-' . getmypid();
        if (!$this->queue->writable()) {
            fwrite(STDERR, "worker $name: the queue in {$this->config->dataDir} is not writable; check DATA_DIR\n");

            return 1;
        }
        touch($this->readyFile);
        fwrite(STDERR, "worker $name: ready (release {$this->config->release})\n");
        while (!$this->stopping) {
            $claimed = $this->queue->claim($name);
            if ($claimed === null) {
                usleep(100_000);
                continue;
            }
            [$job, $held] = $claimed;
            $started = microtime(true);
            $this->work($job);
            $this->queue->complete($job, $held, [
                'id' => $job->id,
                'worker' => $name,
                'release' => $this->config->release,
                'started' => $started,
                'finished' => microtime(true),
                'stopping' => $this->stopping,
            ]);
            fwrite(STDERR, "worker $name: done {$job->id}\n");
        }
        @unlink($this->readyFile);

        return 0;
    }

    /** A job of millis < 0 runs until the worker is asked to stop, then one more second: a long job a deploy interrupts. */
    private function work(Job $job): void
    {
        if ($job->millis >= 0) {
            usleep($job->millis * 1000);

            return;
        }
        while (!$this->stopping) {
            usleep(50_000);
        }
        usleep(1_000_000);
    }
}
