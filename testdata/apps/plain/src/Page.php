<?php

namespace App;

use Greeter\Greeter;

final class Page
{
    public function render(string $path): string
    {
        $name = getenv('GREETING_NAME') ?: 'world';
        return '<h1>' . htmlspecialchars((new Greeter())->greet($name)) . '</h1>'
            . '<p>path: ' . htmlspecialchars($path) . '</p>';
    }
}
