// Package phalcon owns Phalcon-specific knowledge that is not version
// resolution (the catalog in runtimes has the PHP matrix): how the app sets
// Volt's compiler up, and precompiling its templates the same way (the
// script Phalcon's compiler runs in, and the errors it reports).
package phalcon
