// Package phalcon owns Phalcon-specific knowledge that is not version
// resolution (the catalog in runtimes has the PHP matrix): Volt's compiler
// options and their defaults, and, later, precompiling templates with them.
package phalcon
