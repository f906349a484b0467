<?php

// Registers the app's custom Volt filters. It runs with $compiler in scope:
// public/index.php requires it when it makes the Volt engine, and phpbuild's
// precompiler does the same (project.toml volt.bootstrap), so templates
// compiled at build time match run time.

/** @var \Phalcon\Mvc\View\Engine\Volt\Compiler $compiler */
$compiler->addFilter('shout', function ($resolvedArgs) {
    return 'mb_strtoupper(' . $resolvedArgs . ') . "!"';
});
