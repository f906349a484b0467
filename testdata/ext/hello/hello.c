/* hello: one PHP function, hello_phpbuild(string $name): string. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "php.h"
#include "ext/standard/info.h"
#include "php_hello.h"

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_hello_phpbuild, 0, 1, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, name, IS_STRING, 0)
ZEND_END_ARG_INFO()

PHP_FUNCTION(hello_phpbuild)
{
	zend_string *name;

	ZEND_PARSE_PARAMETERS_START(1, 1)
		Z_PARAM_STR(name)
	ZEND_PARSE_PARAMETERS_END();

	RETURN_STR(strpprintf(0, "hello %s, from a compiled extension", ZSTR_VAL(name)));
}

PHP_MINFO_FUNCTION(hello)
{
	php_info_print_table_start();
	php_info_print_table_row(2, "hello support", "enabled");
	php_info_print_table_row(2, "Version", PHP_HELLO_VERSION);
	php_info_print_table_end();
}

static const zend_function_entry hello_functions[] = {
	PHP_FE(hello_phpbuild, arginfo_hello_phpbuild)
	PHP_FE_END
};

zend_module_entry hello_module_entry = {
	STANDARD_MODULE_HEADER,
	"hello",
	hello_functions,
	NULL,
	NULL,
	NULL,
	NULL,
	PHP_MINFO(hello),
	PHP_HELLO_VERSION,
	STANDARD_MODULE_PROPERTIES
};

#ifdef COMPILE_DL_HELLO
ZEND_GET_MODULE(hello)
#endif
