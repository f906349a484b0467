dnl A tiny PECL-style extension written for phpbuild's tests: it proves the
dnl from-source extension path (phpize, configure, make) end to end.
PHP_ARG_ENABLE([hello], [whether to enable the hello extension],
  [AS_HELP_STRING([--enable-hello], [Enable the hello extension])], [yes])

if test "$PHP_HELLO" != "no"; then
  PHP_NEW_EXTENSION(hello, hello.c, $ext_shared)
fi
