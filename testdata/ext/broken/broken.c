/* broken: a PECL-style extension that does not compile, for the error path. */
#include "php.h"

PHP_FUNCTION(broken)
{
	this_is_not_c(;
}
