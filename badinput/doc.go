// Package badinput owns the error type for input the user must fix: a file,
// and where known the line or field in it. The CLI maps it to exit code 2, so
// every package reports a malformed composer.json, composer.lock or
// project.toml the same way.
package badinput
