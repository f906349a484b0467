dnl A tiny PECL-style extension written for phpbuild's tests: it proves the
dnl from-source extension path (phpize, configure, make) end to end.
PHP_ARG_ENABLE([broken], [whether to enable the broken extension],
  [AS_HELP_STRING([--enable-broken], [Enable the broken extension])], [yes])

if test "$PHP_BROKEN" != "no"; then
  PHP_NEW_EXTENSION(broken, broken.c, $ext_shared)
fi
