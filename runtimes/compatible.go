package runtimes

import (
	"fmt"
	"slices"
	"strings"
)

// IncompatibleError is a runtime an image cannot be rebased onto: what an
// app image's layers depend on differs (the PHP minor, the Phalcon
// version, the extension set), so it needs a build.
type IncompatibleError struct {
	From, To Entry
	Changes  []string
}

func (e *IncompatibleError) Error() string {
	return fmt.Sprintf("the runtime %s changes %s: that needs `phpbuild build` (compiled Volt and extension ABIs depend on them), not a rebase",
		shortDigest(e.To.Run), strings.Join(e.Changes, ", "))
}

// Compatible reports whether an app image built on from can move onto
// to without a build: the same PHP minor, Phalcon version and extensions.
func Compatible(from, to Entry) error {
	var changes []string
	if from.PHPMinor != to.PHPMinor {
		changes = append(changes, fmt.Sprintf("PHP %s to %s", from.PHPMinor, to.PHPMinor))
	}
	if from.Phalcon != to.Phalcon {
		changes = append(changes, fmt.Sprintf("Phalcon %s to %s", orNone(from.Phalcon), orNone(to.Phalcon)))
	}
	if !slices.Equal(from.Extensions, to.Extensions) {
		var added, removed []string
		for _, x := range to.Extensions {
			if !slices.Contains(from.Extensions, x) {
				added = append(added, "+"+x)
			}
		}
		for _, x := range from.Extensions {
			if !slices.Contains(to.Extensions, x) {
				removed = append(removed, "-"+x)
			}
		}
		changes = append(changes, "the extensions ("+strings.Join(append(added, removed...), " ")+")")
	}
	if len(changes) > 0 {
		return &IncompatibleError{From: from, To: to, Changes: changes}
	}
	return nil
}

// Newer returns the newest entry built after from that from's images can
// move onto (see Compatible), and false when there is none.
func Newer(from Entry, entries []Entry) (Entry, bool) {
	var best Entry
	found := false
	for _, e := range entries {
		if e.Run == from.Run || e.Built <= from.Built || Compatible(from, e) != nil {
			continue
		}
		if !found || e.Built > best.Built {
			best, found = e, true
		}
	}
	return best, found
}

// ByRun returns the entry whose run image is digest.
func ByRun(entries []Entry, digest string) (Entry, bool) {
	for _, e := range entries {
		if e.Run == digest {
			return e, true
		}
	}
	return Entry{}, false
}

// Pick returns the entry whose key or run image digest is want, or whose
// digest's first 12 hex digits are.
func Pick(entries []Entry, want string) (Entry, bool) {
	for _, e := range entries {
		if e.Key == want || e.Run == want || shortDigest(e.Run) == want || shortDigest(e.Key) == want {
			return e, true
		}
	}
	return Entry{}, false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}
