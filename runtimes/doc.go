// Package runtimes owns the catalog of PHP minors and Phalcon versions and the
// resolution of an app's composer constraints against it: which PHP, which
// Phalcon and which extensions its runtime image has.
package runtimes
