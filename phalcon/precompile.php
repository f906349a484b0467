<?php
use Phalcon\Mvc\View\Engine\Volt\Compiler;

$cfg = json_decode(file_get_contents('{{.Dir}}/{{.Config}}'), true);
// {% extends %} and {% include %} resolve against the view's dirs, as
// they do at run time; the app's views root is among these.
$view = new \Phalcon\Mvc\View();
$view->setViewsDir($cfg['viewsDirs']);
$di = $cfg['factoryDefault'] ? new \Phalcon\Di\FactoryDefault() : new \Phalcon\Di\Di();
foreach ($cfg['services'] as $name) {
    if (!$di->has($name)) {
        // Only the name matters to the compiler; nothing is resolved.
        $di->set($name, static function () use ($name) {
            throw new \LogicException("phpbuild's Volt precompiler knows only the name of the $name service");
        });
    }
}
$view->setDI($di);
$compiler = new Compiler($view);
$compiler->setDI($di);
$options = ['separator' => $cfg['separator'], 'extension' => $cfg['extension'], 'prefix' => $cfg['prefix'], 'stat' => true, 'always' => false];
if ($cfg['autoescape'] ?? false) {
    $options['autoescape'] = true;
}
if ($cfg['path'] !== '') {
    $options['path'] = $cfg['path'];
    $dir = str_ends_with($cfg['path'], '/') ? $cfg['path'] : dirname($cfg['path']);
    if (!is_dir($dir) && !mkdir($dir, 0755, true)) {
        fwrite(STDERR, "phpbuild: cannot create " . $dir . "\n");
        exit(1);
    }
}
$compiler->setOptions($options);
// The functions and filters the app's PHP adds, as it wrote them.
(static function (Compiler $compiler) {
    require '{{.Dir}}/{{.Extensions}}';
})($compiler);
if ($cfg['bootstrap'] !== '') {
    $configure = (static function (Compiler $compiler, string $file) {
        return require $file;
    })($compiler, $cfg['bootstrap']);
    if (is_callable($configure)) {
        $configure($compiler);
    }
}
foreach ($cfg['templates'] as $t) {
    try {
        // A compiler names its loop variables after the first template it
        // compiles; at run time that is the page's own template, compiled
        // first in its request. A pristine copy per template does the same.
        (clone $compiler)->compile($t);
    } catch (\Throwable $e) {
        $line = 0;
        $msg = $e->getMessage();
        if (preg_match('/ on line (\d+)/', $msg, $m)) {
            $line = (int) $m[1];
        }
        fwrite(STDERR, "{{.ErrorMarker}}\t" . $t . "\t" . $line . "\t" . str_replace(["\n", "\t"], ' ', $msg) . "\n");
        exit(4);
    }
}
printf("compiled %d templates\n", count($cfg['templates']));
