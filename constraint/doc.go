// Package constraint owns composer's version constraint grammar (^, ~,
// hyphen and x ranges, "||", stability flags), translated into plain
// comparisons on semver versions, for the platform packages (php, ext-*)
// a runtime is picked by.
package constraint
