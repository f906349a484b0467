<?php

use Phalcon\Mvc\View\Engine\Volt\Compiler;

// Registers the app's custom Volt filters; phpbuild's precompiler runs it too
// (project.toml volt.bootstrap), so compiled templates match run time.
function registerVoltExtensions(Compiler $compiler): void
{
    $compiler->addFilter('shout', function ($resolvedArgs) {
        return 'mb_strtoupper(' . $resolvedArgs . ') . "!"';
    });
}
