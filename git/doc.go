// Package git reads the git state a build is made from: the commit, its
// time, the files git would check out, whether the work tree is dirty, and
// the version its tags give. It runs the git CLI with the user's config
// and environment kept out.
package git
