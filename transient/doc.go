// Package transient owns the one question every caller of a registry,
// buildkitd or a docker daemon asks of an error: may running the same
// command again later cure it? The answer is read from behaviour (a
// Temporary() bool method anywhere in the chain, as go-containerregistry's
// transport errors and the net package's have), so that no caller lists
// concrete error types; the CLI exits 75 (EX_TEMPFAIL) for it.
package transient
