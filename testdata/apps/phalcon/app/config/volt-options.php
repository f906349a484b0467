<?php

// Compiled templates live in compiled/volt/, precompiled at build time.
return [
    'path'      => dirname(__DIR__, 2) . '/compiled/volt/',
    'separator' => '_',
    'extension' => '.php',
    'stat'      => true,
];
