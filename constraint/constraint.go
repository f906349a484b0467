package constraint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ErrDevBranch is returned for dev-branch constraints (dev-master, 1.x-dev):
// a platform package such as php or ext-redis is a binary with a version, never
// a branch, so there is nothing such a constraint could select.
var ErrDevBranch = errors.New("dev branch is not a version")

// devBranchError names the offending branch while still matching ErrDevBranch.
type devBranchError struct{ branch string }

func (e *devBranchError) Error() string {
	return fmt.Sprintf("dev branch %q is not a version; platform packages need a version constraint", e.branch)
}

func (e *devBranchError) Is(target error) bool { return target == ErrDevBranch }

// Constraint is one composer constraint string, parsed.
//
// Composer and Masterminds disagree on ~, hyphen ranges, bare versions and
// pre-release ordering, so the composer syntax is translated into plain
// Masterminds comparisons against fully written versions, where the two agree.
// Pre-release stabilities are renumbered (dev=0, alpha=1, beta=2, RC=3) so that
// Masterminds orders them the way composer does.
type Constraint struct {
	raw string
	// anyOf holds the || alternatives; each is a list of bounds that must all hold.
	// An alternative without bounds (from *) admits every version.
	anyOf [][]bound
}

// bound is one Masterminds comparison; at keeps its version for AllowsMinor.
type bound struct {
	at    *semver.Version
	check *semver.Constraints
}

// ParseConstraint parses composer constraint syntax.
func Parse(s string) (*Constraint, error) {
	anyOf, err := parseAlternatives(s)
	if err != nil {
		return nil, fmt.Errorf("parsing constraint %q: %w", s, err)
	}
	return &Constraint{raw: s, anyOf: anyOf}, nil
}

// Check reports whether version v satisfies the constraint.
//
// Pre-release versions match as in composer (8.4.0-RC1 satisfies ^8.3); callers
// that want releases only filter them out first. A pre-release that composer
// could not name (anything but dev, alpha, beta, RC and their short forms)
// satisfies nothing.
func (c *Constraint) Check(v *semver.Version) bool {
	if v == nil {
		return false
	}
	if v.Prerelease() != "" {
		pre, _, err := parseStability(v.Prerelease())
		if err != nil {
			return false
		}
		v = semver.New(v.Major(), v.Minor(), v.Patch(), pre, "") // "stable" leaves a release
	}
	return c.check(v)
}

// check takes a version whose pre-release is already renumbered.
func (c *Constraint) check(v *semver.Version) bool {
	for _, all := range c.anyOf {
		ok := true
		for _, b := range all {
			if !b.check.Check(v) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// maxPatch bounds the patch releases AllowsMinor considers; PHP's patch
// numbers have stayed far below it (8.1 ended in the low 30s).
const maxPatch = 99

// AllowsMinor reports whether some version X.Y.p (p = 0..99, release versions
// only) satisfies the constraint; it answers "could PHP X.Y satisfy this" when
// only the minor is known. Patch releases above 99 are not considered.
func (c *Constraint) AllowsMinor(major, minor uint64) bool {
	// Within X.Y a bound can only change its answer at its own patch number, so
	// checking 0 and each such patch and the one after covers every stretch of
	// 0..99 without trying all hundred.
	if c.check(semver.New(major, minor, 0, "", "")) {
		return true
	}
	for _, all := range c.anyOf {
		for _, b := range all {
			if b.at.Major() != major || b.at.Minor() != minor || b.at.Patch() > maxPatch {
				continue
			}
			for _, p := range []uint64{b.at.Patch(), b.at.Patch() + 1} {
				if p > 0 && p <= maxPatch && c.check(semver.New(major, minor, p, "", "")) {
					return true
				}
			}
		}
	}
	return false
}

// String returns the constraint as the user wrote it.
func (c *Constraint) String() string {
	return c.raw
}

// parseAlternatives splits on | and || (composer accepts both), which bind
// weaker than the AND separators.
func parseAlternatives(s string) ([][]bound, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty constraint")
	}
	var parts []string
	for rest := s; ; {
		i := strings.IndexByte(rest, '|')
		if i < 0 {
			parts = append(parts, rest)
			break
		}
		parts = append(parts, rest[:i])
		rest = strings.TrimPrefix(rest[i+1:], "|")
	}
	anyOf := make([][]bound, 0, len(parts))
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, errors.New(`empty alternative around "|"`)
		}
		all, err := parseAll(p)
		if err != nil {
			return nil, err
		}
		anyOf = append(anyOf, all)
	}
	return anyOf, nil
}

// field is one whitespace-separated word of an AND list, with the
// comma-separated segment it came from: an operator joins the next word
// (">= 8.1") and a hyphen range spans three words only inside one segment.
type field struct {
	text string
	seg  int
}

// parseAll parses one alternative: constraints separated by commas or spaces.
func parseAll(s string) ([]bound, error) {
	var fields []field
	for i, seg := range strings.Split(s, ",") {
		words := strings.Fields(seg)
		if len(words) == 0 {
			return nil, errors.New("empty constraint around a comma")
		}
		for _, w := range words {
			fields = append(fields, field{text: w, seg: i})
		}
	}
	bounds := []bound{}
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch f.text {
		case "as":
			return nil, errors.New(`"as" aliases are not supported for platform packages`)
		case "-":
			return nil, errors.New("hyphen range needs a plain version on each side")
		}
		op, text, err := splitOperator(f.text)
		if err != nil {
			return nil, err
		}
		if text == "" && op != "" {
			if i+1 >= len(fields) || fields[i+1].seg != f.seg {
				return nil, fmt.Errorf("missing version after %q", op)
			}
			i++
			text = fields[i].text
		}
		var bs []bound
		if op == "" && i+2 < len(fields) && fields[i+1].text == "-" &&
			fields[i+1].seg == f.seg && fields[i+2].seg == f.seg {
			bs, err = hyphenRange(text, fields[i+2].text)
			i += 2
		} else {
			bs, err = translate(op, text)
		}
		if err != nil {
			return nil, err
		}
		bounds = append(bounds, bs...)
	}
	return bounds, nil
}

// operators in match order: two-character ones before their prefixes.
var operators = []string{"<>", "!=", ">=", "<=", "==", "~>", "=>", "=<", ">", "<", "=", "^", "~"}

func splitOperator(s string) (op, rest string, err error) {
	for _, o := range operators {
		if strings.HasPrefix(s, o) {
			op, rest = o, s[len(o):]
			break
		}
	}
	switch op {
	case "~>":
		return "", "", errors.New(`operator "~>" is not composer syntax; use "~"`)
	case "=>":
		return "", "", errors.New(`operator "=>" is not composer syntax; use ">="`)
	case "=<":
		return "", "", errors.New(`operator "=<" is not composer syntax; use "<="`)
	case "<>":
		op = "!="
	case "==":
		op = "="
	}
	if op == "" {
		rest = s
	}
	return op, rest, nil
}

// translate turns one composer operator and version into Masterminds bounds.
func translate(op, text string) ([]bound, error) {
	text, err := stripFlag(text)
	if err != nil {
		return nil, err
	}
	if text == "" {
		if op != "" {
			return nil, fmt.Errorf("missing version after %q", op)
		}
		return nil, nil // a bare "@dev" is composer's "*@dev"
	}
	if op == "" {
		if all, nums, ok := parseWildcard(text); ok {
			if all {
				return nil, nil
			}
			return xRange(text, nums)
		}
	}
	v, err := parseVersionText(text)
	if err != nil {
		if op != "" && strings.ContainsAny(text, "xX*") {
			if _, _, ok := parseWildcard(text); ok {
				return nil, fmt.Errorf("wildcard %q cannot follow operator %q", text, op)
			}
		}
		return nil, err
	}
	switch op {
	case "", "=", "!=", ">", "<=":
		if op == "" {
			op = "=" // composer reads a bare 8.2 as exactly 8.2.0, not 8.2.*
		}
		b, err := newBound(op, v.nums, v.pre)
		return []bound{b}, err
	case ">=", "<":
		// Composer starts an unqualified >= or < at the version's dev
		// pre-release, so <8.4 also excludes 8.4.0-RC1.
		b, err := newBound(op, v.nums, v.lowPre())
		return []bound{b}, err
	case "~":
		// ~1.2 moves the last written part but one: the minor of ~1.2.3,
		// the patch of ~1.2.3.0, the major of ~1 and ~1.2.
		return between(text, v, max(1, v.parts-1))
	case "^":
		// ^ keeps the left-most non-zero part among major, minor and patch.
		pos := 3
		switch {
		case v.nums[0] != 0 || v.parts == 1:
			pos = 1
		case v.nums[1] != 0 || v.parts == 2:
			pos = 2
		}
		return between(text, v, pos)
	}
	return nil, fmt.Errorf("unknown operator %q", op)
}

// between is >= v (from its dev pre-release) and < v with part pos raised.
func between(text string, v version, pos int) ([]bound, error) {
	low, err := newBound(">=", v.nums, v.lowPre())
	if err != nil {
		return nil, err
	}
	next, err := raise(text, v.nums, pos)
	if err != nil {
		return nil, err
	}
	high, err := newBound("<", next, devPre)
	if err != nil {
		return nil, err
	}
	return []bound{low, high}, nil
}

// xRange translates 1.*, 1.2.x and 1.2.3.*.
func xRange(text string, nums []uint64) ([]bound, error) {
	var low [3]uint64
	copy(low[:], nums)
	next, err := raise(text, low, len(nums))
	if err != nil {
		return nil, err
	}
	high, err := newBound("<", next, devPre)
	if err != nil {
		return nil, err
	}
	if low == [3]uint64{} {
		return []bound{high}, nil
	}
	lowBound, err := newBound(">=", low, devPre)
	if err != nil {
		return nil, err
	}
	return []bound{lowBound, high}, nil
}

// hyphenRange translates "from - to": a partial upper version (2 or 2.1)
// stands for its whole series, a full one (2.1.0) is inclusive.
func hyphenRange(fromText, toText string) ([]bound, error) {
	var vs [2]version
	for i, t := range []string{fromText, toText} {
		t, err := stripFlag(t)
		if err != nil {
			return nil, err
		}
		if t == "" || t == "-" {
			return nil, errors.New("hyphen range needs a plain version on each side")
		}
		if _, _, ok := parseWildcard(t); ok {
			return nil, fmt.Errorf("wildcard %q cannot be part of a hyphen range", t)
		}
		if vs[i], err = parseVersionText(t); err != nil {
			return nil, err
		}
	}
	from, to := vs[0], vs[1]
	low, err := newBound(">=", from.nums, from.lowPre())
	if err != nil {
		return nil, err
	}
	if to.parts >= 3 || to.stability {
		high, err := newBound("<=", to.nums, to.pre)
		return []bound{low, high}, err
	}
	next, err := raise(toText, to.nums, to.parts)
	if err != nil {
		return nil, err
	}
	high, err := newBound("<", next, devPre)
	return []bound{low, high}, err
}

// raise adds one to part pos (1 = major) and zeroes the parts after it.
func raise(text string, nums [3]uint64, pos int) ([3]uint64, error) {
	i := pos - 1
	if nums[i] == ^uint64(0) {
		return nums, fmt.Errorf("version %q is too large", text)
	}
	nums[i]++
	for j := i + 1; j < len(nums); j++ {
		nums[j] = 0
	}
	return nums, nil
}

func newBound(op string, nums [3]uint64, pre string) (bound, error) {
	at := semver.New(nums[0], nums[1], nums[2], pre, "")
	check, err := semver.NewConstraint(op + at.String())
	if err != nil {
		return bound{}, fmt.Errorf("translating %s%s: %w", op, at, err)
	}
	// Pre-releases are already ordered the composer way; Masterminds' own
	// rule of hiding them unless asked for does not apply.
	check.IncludePrerelease = true
	return bound{at: at, check: check}, nil
}

// stabilityFlags may end a constraint; composer uses them to allow unstable
// packages, which platform packages do not have, so they are dropped.
var stabilityFlags = []string{"stable", "rc", "beta", "alpha", "dev"}

func stripFlag(s string) (string, error) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, nil
	}
	flag := strings.ToLower(s[i+1:])
	for _, f := range stabilityFlags {
		if flag == f {
			return s[:i], nil
		}
	}
	return "", fmt.Errorf("unknown stability flag %q in %q", "@"+s[i+1:], s)
}

// parseWildcard recognises *, x, 1.*, 1.2.x and 1.2.3.*: numbers, then one
// or more wildcard parts. all is set when there are no numbers at all.
func parseWildcard(s string) (all bool, nums []uint64, ok bool) {
	s = trimV(s)
	parts := strings.Split(s, ".")
	wild := 0
	for _, p := range parts {
		switch {
		case p == "*" || p == "x" || p == "X":
			wild++
		case wild > 0 || len(nums) == 3 || !isDigits(p):
			return false, nil, false
		default:
			n, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return false, nil, false
			}
			nums = append(nums, n)
		}
	}
	if wild == 0 {
		return false, nil, false
	}
	return len(nums) == 0, nums, true
}

// version is a composer version reduced to what platform packages use.
type version struct {
	nums  [3]uint64
	parts int    // numeric parts written, 1 to 4; ~ depends on it
	pre   string // renumbered pre-release, "" for a release
	// stability is set when a stability suffix was written, even -stable;
	// composer then takes the version as is instead of its dev pre-release.
	stability bool
}

// devPre is the renumbered dev stability, the lowest pre-release.
const devPre = "0"

// lowPre is where an unqualified lower bound starts: at the dev pre-release.
func (v version) lowPre() string {
	if v.stability {
		return v.pre
	}
	return devPre
}

// parseVersionText parses one version, telling dev branches apart from typos.
func parseVersionText(text string) (version, error) {
	branch, _, _ := strings.Cut(text, "#") // composer allows dev-x#ref
	if hasPrefixFold(branch, "dev-") || branch == "master" || branch == "trunk" || branch == "default" {
		return version{}, &devBranchError{branch: branch}
	}
	v, err := parseVersion(text)
	if err == nil {
		return v, nil
	}
	// 1.x-dev, 2.1.x-dev and feature-dev are branches; 8.4.0-dev is a version.
	if n := len(branch) - 4; n > 0 && (hasPrefixFold(branch[n:], "-dev") || hasPrefixFold(branch[n:], ".dev")) {
		if _, perr := parseVersion(branch[:n]); perr != nil {
			return version{}, &devBranchError{branch: branch}
		}
	}
	return version{}, err
}

// parseVersion parses composer's classic version syntax: up to four numbers,
// an optional stability suffix (-beta1, RC2, .alpha.3, -dev) and build
// metadata, which is ignored.
func parseVersion(text string) (version, error) {
	s, meta, hasMeta := strings.Cut(text, "+")
	if hasMeta && meta == "" {
		return version{}, fmt.Errorf("invalid version %q", text)
	}
	s = trimV(s)
	var v version
	var fourth uint64
	for {
		n := 0
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		if n == 0 {
			return version{}, fmt.Errorf("invalid version %q", text)
		}
		if v.parts == 4 {
			return version{}, fmt.Errorf("version %q has more than four parts", text)
		}
		num, err := strconv.ParseUint(s[:n], 10, 64)
		if err != nil {
			return version{}, fmt.Errorf("version %q is too large", text)
		}
		if v.parts < 3 {
			v.nums[v.parts] = num
		} else {
			fourth = num
		}
		v.parts++
		s = s[n:]
		if len(s) < 2 || s[0] != '.' || !isDigit(s[1]) {
			break
		}
		s = s[1:]
	}
	if fourth != 0 {
		return version{}, fmt.Errorf("version %q has a non-zero fourth part; platform versions have three", text)
	}
	if s == "" {
		return v, nil
	}
	if s[0] == '.' || s[0] == '_' || s[0] == '-' {
		s = s[1:]
	}
	if s == "" || !isLetter(s[0]) {
		return version{}, fmt.Errorf("invalid version %q", text)
	}
	pre, stability, err := parseStability(s)
	if err != nil {
		return version{}, fmt.Errorf("version %q: %w", text, err)
	}
	v.pre, v.stability = pre, stability
	return v, nil
}

// stabilityRank renumbers composer stabilities so that semver's ordering of
// numeric identifiers matches composer's dev < alpha < beta < RC.
var stabilityRank = map[string]string{
	"alpha": "1", "a": "1",
	"beta": "2", "b": "2",
	"rc": "3",
}

// parseStability parses a suffix such as beta1, RC.2, alpha, dev or stable
// into a renumbered pre-release ("2.1", "3.2", "1", "0", ""). A suffix also
// written is reported by stability, so a written -stable counts.
func parseStability(s string) (pre string, stability bool, err error) {
	n := 0
	for n < len(s) && isLetter(s[n]) {
		n++
	}
	word := strings.ToLower(s[:n])
	rest := s[n:]
	switch word {
	case "dev":
		if rest != "" {
			return "", false, fmt.Errorf("invalid stability %q", s)
		}
		return devPre, true, nil
	case "stable":
		return "", true, nil
	case "patch", "pl", "p":
		return "", false, fmt.Errorf("patch-level suffix %q is not supported", s)
	}
	rank, ok := stabilityRank[word]
	if !ok {
		if base, isDev := strings.CutSuffix(word, "dev"); isDev && stabilityRank[base] != "" {
			return "", false, errors.New("a stability followed by -dev is not supported")
		}
		return "", false, fmt.Errorf("invalid stability %q", s)
	}
	var b strings.Builder
	b.WriteString(rank)
	for rest != "" {
		r := rest
		if r[0] == '.' || r[0] == '-' {
			r = r[1:]
		}
		d := 0
		for d < len(r) && isDigit(r[d]) {
			d++
		}
		if d == 0 {
			if strings.EqualFold(r, "dev") {
				return "", false, errors.New("a stability followed by -dev is not supported")
			}
			return "", false, fmt.Errorf("invalid stability %q", s)
		}
		num, err := strconv.ParseUint(r[:d], 10, 64)
		if err != nil {
			return "", false, fmt.Errorf("stability number in %q is too large", s)
		}
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(num, 10))
		rest = r[d:]
	}
	return b.String(), true, nil
}

func trimV(s string) string {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') {
		return s[1:]
	}
	return s
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
