<?php

declare(strict_types=1);

namespace App\Queue;

/**
 * A queue of files on a shared volume. A worker claims a job by renaming it
 * out of queued/: rename is atomic, so two workers never take the same job,
 * and a job is done once its result is in done/.
 */
final class FileQueue
{
    public function __construct(private readonly string $dir)
    {
        foreach (['queued', 'running', 'done'] as $d) {
            if (!is_dir("$dir/$d")) {
                @mkdir("$dir/$d", 0775, true);
            }
        }
    }

    /** Whether this process can take and finish jobs: a worker checks it at boot. */
    public function writable(): bool
    {
        return is_dir("{$this->dir}/queued") && is_writable("{$this->dir}/queued") && is_writable("{$this->dir}/done");
    }

    public function push(Job $job): void
    {
        $tmp = "{$this->dir}/queued/.{$job->id}.tmp";
        file_put_contents($tmp, $job->toJson());
        rename($tmp, "{$this->dir}/queued/{$job->id}.json");
    }

    /** @return array{0: Job, 1: string}|null the job and where it is held */
    public function claim(string $worker): ?array
    {
        $files = glob("{$this->dir}/queued/*.json") ?: [];
        sort($files);
        foreach ($files as $file) {
            $held = "{$this->dir}/running/" . basename($file, '.json') . ".$worker.json";
            if (@rename($file, $held)) {
                return [Job::fromJson((string) file_get_contents($held)), $held];
            }
        }

        return null;
    }

    /** @param array<string, mixed> $result */
    public function complete(Job $job, string $held, array $result): void
    {
        $done = "{$this->dir}/done/{$job->id}.json";
        if (file_exists($done)) {
            $result['error'] = 'done twice';
        }
        file_put_contents($done, json_encode($result, JSON_THROW_ON_ERROR), FILE_APPEND);
        unlink($held);
    }

    /** @return array<string, list<string>> job ids by state */
    public function states(): array
    {
        $ids = static fn (string $glob): array => array_map(static fn ($f) => basename($f, '.json'), glob($glob) ?: []);

        return [
            'queued' => $ids("{$this->dir}/queued/*.json"),
            'running' => $ids("{$this->dir}/running/*.json"),
            'done' => $ids("{$this->dir}/done/*.json"),
        ];
    }

    /** @return list<array<string, mixed>> */
    public function results(): array
    {
        $out = [];
        foreach (glob("{$this->dir}/done/*.json") ?: [] as $f) {
            $out[] = json_decode((string) file_get_contents($f), true) ?? ['id' => basename($f, '.json'), 'error' => 'unreadable: ' . file_get_contents($f)];
        }

        return $out;
    }
}
