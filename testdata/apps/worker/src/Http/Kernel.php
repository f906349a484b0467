<?php

declare(strict_types=1);

namespace App\Http;

use App\Config;
use App\Queue\FileQueue;
use App\Queue\Job;

/** The web side: a status page and an endpoint that queues jobs. */
final class Kernel
{
    public function __construct(private readonly Config $config)
    {
    }

    /** @param array<string, mixed> $query */
    public function handle(string $method, string $path, array $query): Response
    {
        $queue = new FileQueue($this->config->dataDir . '/queue');

        return match ([$method, $path]) {
            ['GET', '/'] => new Response(200, "worker app, release {$this->config->release}\n"),
            ['GET', '/health'] => new Response(200, "ok\n"),
            ['POST', '/jobs'] => $this->enqueue($queue, (string) ($query['id'] ?? bin2hex(random_bytes(4))), (int) ($query['millis'] ?? 0)),
            ['GET', '/jobs'] => Response::json(['release' => $this->config->release] + $queue->states()),
            ['GET', '/jobs/results'] => Response::json($queue->results()),
            ['GET', '/schedule'] => new Response(200, (string) @file_get_contents($this->config->dataDir . '/schedule.log')),
            ['GET', '/migrations'] => new Response(200, (string) @file_get_contents($this->config->dataDir . '/migrations.log')),
            default => new Response(404, "not found: $path\n"),
        };
    }

    private function enqueue(FileQueue $queue, string $id, int $millis): Response
    {
        $queue->push(new Job($id, $millis));

        return Response::json(['queued' => $id], 202);
    }
}
