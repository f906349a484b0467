//go:build !linux

package main

// becomeSubreaper is a no-op off Linux: images run Linux, this only keeps
// the package building on developers' machines.
func becomeSubreaper() error { return nil }
