package layers

import (
	"fmt"
	"strings"

	"github.com/moby/patternmatcher"
)

// Selector chooses files by gitignore-style patterns, the syntax of
// [io.buildpacks] include/exclude: a pattern without a slash matches a name
// at any depth, one with a slash is anchored at the app root, a trailing
// slash matches a directory and everything under it, "**" spans dirs, and
// "!" re-includes. moby/patternmatcher (dockerignore's matcher) does the
// matching once patterns are rewritten to its anchored form.
type Selector struct {
	pm *patternmatcher.PatternMatcher
}

// NewSelector compiles patterns; an empty list selects nothing.
func NewSelector(patterns []string) (*Selector, error) {
	var out []string
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		p = strings.TrimSuffix(p, "/")
		if strings.HasPrefix(p, "/") {
			p = strings.TrimPrefix(p, "/")
		} else if !strings.Contains(p, "/") {
			p = "**/" + p
		}
		if p == "" || p == "**/" {
			return nil, fmt.Errorf("pattern %q selects nothing", p)
		}
		if neg {
			p = "!" + p
		}
		out = append(out, p)
	}
	pm, err := patternmatcher.New(out)
	if err != nil {
		return nil, fmt.Errorf("compiling patterns: %w", err)
	}
	return &Selector{pm: pm}, nil
}

// Match reports whether the slash-separated app-relative path rel, or a dir
// above it, is selected.
func (s *Selector) Match(rel string) bool {
	if s == nil || len(s.pm.Patterns()) == 0 {
		return false
	}
	ok, _ := s.pm.MatchesOrParentMatches(rel)
	return ok
}
