// Package testbed hands tests the addresses of the real services `make testbed` runs on this
// machine (a registry, buildkitd and dockerd), and decides whether a test that needs one, when it
// is down, fails (in CI) or skips loudly (on a developer's machine). Its own tests prove that each
// service really works.
package testbed
