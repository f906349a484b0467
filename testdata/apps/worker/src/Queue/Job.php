<?php

declare(strict_types=1);

namespace App\Queue;

final class Job
{
    public function __construct(
        public readonly string $id,
        public readonly int $millis,
    ) {
    }

    public static function fromJson(string $json): self
    {
        $data = json_decode($json, true, 8, JSON_THROW_ON_ERROR);

        return new self((string) $data['id'], (int) ($data['millis'] ?? 0));
    }

    public function toJson(): string
    {
        return json_encode(['id' => $this->id, 'millis' => $this->millis], JSON_THROW_ON_ERROR);
    }
}
