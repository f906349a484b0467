// Package envlist edits KEY=VALUE environment lists, as image configs and
// exec calls hold them.
package envlist

import "strings"

// Set returns env with each KEY=VALUE of over set, keeping env's order and
// appending new keys; keys for which keep reports true stay as env has
// them (keep may be nil).
func Set(env, over []string, keep func(key string) bool) []string {
	out := append([]string{}, env...)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		if keep != nil && keep(k) {
			continue
		}
		replaced := false
		for i, e := range out {
			if ek, _, _ := strings.Cut(e, "="); ek == k {
				out[i], replaced = kv, true
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}
