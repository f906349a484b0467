package constraint

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
)

func TestConstraintCheck(t *testing.T) {
	for _, tc := range []struct {
		name       string
		constraint string
		match      []string
		noMatch    []string
	}{
		// ~ follows composer, not Masterminds: ~1.2 allows every 1.x from 1.2.
		{"tilde minor", "~1.2", []string{"1.2.0", "1.2.9", "1.9.0"}, []string{"1.1.9", "2.0.0", "2.0.0-RC1"}},
		{"tilde patch", "~1.2.3", []string{"1.2.3", "1.2.99"}, []string{"1.2.2", "1.3.0", "1.3.0-alpha1"}},
		{"tilde major", "~1", []string{"1.0.0", "1.9.9"}, []string{"0.9.9", "2.0.0"}},
		{"tilde php minor", "~8.3", []string{"8.3.0", "8.4.0", "8.9.1"}, []string{"8.2.9", "9.0.0"}},
		{"tilde php patch", "~8.3.0", []string{"8.3.0", "8.3.20"}, []string{"8.2.9", "8.4.0"}},
		{"tilde four parts moves the patch", "~1.2.3.0", []string{"1.2.3"}, []string{"1.2.4", "1.3.0"}},
		{"tilde v prefix", "~v1.2", []string{"1.5.0"}, []string{"2.0.0"}},
		{"tilde space", "~ 8.3", []string{"8.5.0"}, []string{"9.0.0"}},
		{"tilde pre-release", "~1.2.3-beta1", []string{"1.2.3-beta1", "1.2.3-RC1", "1.2.3", "1.2.9"}, []string{"1.2.3-alpha1", "1.3.0-RC1"}},

		{"caret", "^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"1.2.2", "2.0.0", "2.0.0-alpha1"}},
		{"caret zero major", "^0.3", []string{"0.3.0", "0.3.9"}, []string{"0.2.9", "0.4.0"}},
		{"caret zero minor", "^0.0.3", []string{"0.0.3"}, []string{"0.0.2", "0.0.4"}},
		{"caret zero zero", "^0.0", []string{"0.0.0", "0.0.9"}, []string{"0.1.0"}},
		{"caret zero", "^0", []string{"0.0.0", "0.9.0"}, []string{"1.0.0"}},
		{"caret major only", "^8", []string{"8.0.0", "8.4.1"}, []string{"7.4.33", "9.0.0"}},
		{"caret php", "^8.3", []string{"8.3.0", "8.4.0", "8.5.1"}, []string{"8.2.9", "9.0.0"}},
		{"caret phalcon", "^5.0", []string{"5.0.0", "5.18.0"}, []string{"4.1.2", "6.0.0"}},
		{"caret v prefix", "^v5.0", []string{"5.1.0"}, []string{"6.0.0"}},
		{"caret pre-release", "^5.0.0-beta1", []string{"5.0.0-beta1", "5.0.0-RC1", "5.0.0", "5.9.0"}, []string{"4.9.9", "5.0.0-alpha3", "6.0.0-alpha1"}},

		// A partial upper version stands for its whole series.
		{"hyphen partial", "1.0 - 2.0", []string{"1.0.0", "2.0.5"}, []string{"0.9.9", "2.1.0"}},
		{"hyphen full", "1.0.0 - 2.1.0", []string{"1.0.0", "2.1.0"}, []string{"2.1.1"}},
		{"hyphen majors", "1 - 2", []string{"1.0.0", "2.9.9"}, []string{"3.0.0"}},
		{"hyphen php", "8.1 - 8.3", []string{"8.1.0", "8.3.99"}, []string{"8.0.30", "8.4.0"}},
		{"hyphen pre-release start", "1.0.0-RC1 - 2.0", []string{"1.0.0-RC1", "1.0.0"}, []string{"1.0.0-beta1"}},
		{"hyphen in alternatives", "1.0 - 1.1 || 3.0 - 3.1", []string{"1.1.5", "3.1.2"}, []string{"2.0.0", "3.2.0"}},

		{"star", "*", []string{"0.0.0", "8.3.1", "1.0.0-alpha1"}, nil},
		{"x", "x", []string{"8.3.1"}, nil},
		{"star star", "*.*", []string{"8.3.1"}, nil},
		{"v star", "v*", []string{"8.3.1"}, nil},
		{"major star", "1.*", []string{"1.0.0", "1.99.0"}, []string{"0.9.0", "2.0.0"}},
		{"major x", "1.x", []string{"1.0.0", "1.99.0"}, []string{"2.0.0"}},
		{"minor star", "1.2.*", []string{"1.2.0", "1.2.9"}, []string{"1.1.9", "1.3.0"}},
		{"minor x", "1.2.x", []string{"1.2.0"}, []string{"1.3.0"}},
		{"major star star", "1.*.*", []string{"1.5.0"}, []string{"2.0.0"}},
		{"patch star", "1.2.3.*", []string{"1.2.3"}, []string{"1.2.4"}},
		{"zero star", "0.*", []string{"0.0.0", "0.5.0"}, []string{"1.0.0"}},
		{"php minor star", "8.2.*", []string{"8.2.0", "8.2.27"}, []string{"8.1.31", "8.3.0"}},
		{"wildcard alternatives", "5.9.*||5.10.*", []string{"5.9.3", "5.10.0"}, []string{"5.8.0", "5.11.0"}},

		{"greater", ">8.1", []string{"8.1.1"}, []string{"8.1.0"}},
		{"greater or equal", ">=8.1", []string{"8.1.0", "9.0.0"}, []string{"8.0.30"}},
		{"less excludes pre-releases of the bound", "<8.4", []string{"8.3.9"}, []string{"8.4.0", "8.4.0-RC1"}},
		{"less or equal", "<=8.4", []string{"8.4.0"}, []string{"8.4.1"}},
		{"not equal", "!=8.2.3", []string{"8.2.2", "8.2.4"}, []string{"8.2.3"}},
		{"not equal diamond", "<>8.2.3", []string{"8.2.2"}, []string{"8.2.3"}},
		{"not equal partial", "!= 8.2", []string{"8.2.1"}, []string{"8.2.0"}},
		{"equal", "=8.2.3", []string{"8.2.3"}, []string{"8.2.4"}},
		{"double equal", "==8.2.3", []string{"8.2.3"}, []string{"8.2.2"}},
		{"operator space", ">= 8.1", []string{"8.1.0"}, []string{"8.0.0"}},
		{"operator v prefix", ">=v8.1", []string{"8.1.0"}, []string{"8.0.0"}},

		// A bare version is exact: 8.2 is 8.2.0, not 8.2.*.
		{"exact minor", "8.2", []string{"8.2.0"}, []string{"8.2.1", "8.3.0"}},
		{"exact patch", "8.2.3", []string{"8.2.3"}, []string{"8.2.2", "8.2.4"}},
		{"exact major", "8", []string{"8.0.0"}, []string{"8.1.0"}},
		{"exact v prefix", "v8.1", []string{"8.1.0"}, []string{"8.1.1"}},
		{"exact build metadata", "8.1.0+build.7", []string{"8.1.0"}, []string{"8.1.1"}},

		{"and space", ">=8.1 <8.4", []string{"8.1.0", "8.3.9"}, []string{"8.0.9", "8.4.0"}},
		{"and comma", ">=8.1,<8.4", []string{"8.2.0"}, []string{"8.4.0"}},
		{"and comma space", ">=8.1, <8.4", []string{"8.2.0"}, []string{"8.0.0"}},
		{"and spaced operators", ">= 8.1 < 8.4", []string{"8.2.0"}, []string{"8.4.0"}},
		{"and not equal", ">=8.0 !=8.0.1", []string{"8.0.0", "8.0.2"}, []string{"8.0.1"}},
		{"or", ">=7.4 || ^8.0", []string{"7.4.0", "8.3.0", "9.0.0"}, []string{"7.3.33"}},
		{"or no spaces", "^7.4||^8.0", []string{"7.4.1", "8.2.0"}, []string{"7.3.0", "9.0.0"}},
		{"or single pipe", "^7.4 | ^8.0", []string{"7.4.1", "8.2.0"}, []string{"7.3.0", "9.0.0"}},
		{"or binds weaker than and", ">=7.0 <7.2 || >=8.0,<8.1", []string{"7.1.5", "8.0.5"}, []string{"7.2.0", "7.5.0", "8.1.0"}},

		// Stability flags are dropped: platform packages have no stability.
		{"star dev flag", "*@dev", []string{"8.3.1"}, nil},
		{"bare dev flag", "@dev", []string{"8.3.1"}, nil},
		{"stable flag", "^8.1@stable", []string{"8.1.0"}, []string{"9.0.0"}},
		{"flag per version", ">=8.1@dev <8.4@beta", []string{"8.3.0"}, []string{"8.4.0"}},
		{"upper-case flag", "^5.0@RC", []string{"5.1.0"}, []string{"6.0.0"}},
		{"wildcard flag", "1.0.*@dev", []string{"1.0.5"}, []string{"1.1.0"}},

		{"four parts exact", "5.0.0.0", []string{"5.0.0"}, []string{"5.0.1"}},
		{"four parts range", ">=5.0.0.0 <6.0.0.0", []string{"5.4.0"}, []string{"6.0.0"}},
		{"four parts caret", "^5.0.0.0", []string{"5.4.0"}, []string{"6.0.0"}},

		{"pre-release no separator", ">=5.0.0RC1", []string{"5.0.0-RC1", "5.0.0-RC2", "5.0.0"}, []string{"5.0.0-beta9"}},
		{"pre-release dotted", "5.0.0-alpha.2", []string{"5.0.0-alpha.2", "5.0.0-alpha2"}, []string{"5.0.0-alpha.3", "5.0.0"}},
		{"pre-release release satisfies", ">=5.0.0-beta1", []string{"5.0.0", "5.0.0-beta1", "5.0.0-RC1"}, []string{"4.9.9", "5.0.0-alpha1"}},
		{"pre-release short form", ">=1.0.0b2", []string{"1.0.0-beta2", "1.0.0-beta3", "1.0.0-rc1"}, []string{"1.0.0-beta1", "1.0.0-a9"}},
		{"php dev build", ">=8.4.0-dev", []string{"8.4.0-dev", "8.4.0-alpha1", "8.4.0"}, []string{"8.3.9"}},
		{"explicit stable", ">=8.1.0-stable", []string{"8.1.0"}, []string{"8.1.0-RC1"}},
		{"pre-release versions match like composer", "^8.3", []string{"8.3.0-RC1", "8.4.0-RC1"}, []string{"9.0.0-RC1", "8.3.5-foo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.constraint)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.constraint, err)
			}
			if got := c.String(); got != tc.constraint {
				t.Errorf("String() = %q, want %q", got, tc.constraint)
			}
			for _, v := range tc.match {
				if !c.Check(semver.MustParse(v)) {
					t.Errorf("%q does not allow %s, want allowed", tc.constraint, v)
				}
			}
			for _, v := range tc.noMatch {
				if c.Check(semver.MustParse(v)) {
					t.Errorf("%q allows %s, want refused", tc.constraint, v)
				}
			}
		})
	}
}

func TestConstraintAllowsMinor(t *testing.T) {
	type minor [2]uint64
	for _, tc := range []struct {
		name       string
		constraint string
		allowed    []minor
		refused    []minor
	}{
		{"range", ">=8.1 <8.4", []minor{{8, 1}, {8, 2}, {8, 3}}, []minor{{8, 0}, {8, 4}}},
		{"caret", "^8.3", []minor{{8, 3}, {8, 4}, {8, 5}}, []minor{{8, 2}, {9, 0}}},
		{"tilde patch", "~8.3.0", []minor{{8, 3}}, []minor{{8, 2}, {8, 4}}},
		{"tilde minor", "~8.3", []minor{{8, 3}, {8, 4}, {8, 9}}, []minor{{8, 2}, {9, 0}}},
		{"minor wildcard", "8.2.*", []minor{{8, 2}}, []minor{{8, 1}, {8, 3}}},
		{"or", ">=7.4 || ^8.0", []minor{{7, 4}, {8, 0}, {8, 4}, {9, 0}}, []minor{{7, 3}}},
		{"phalcon", "^5.0", []minor{{5, 0}, {5, 18}}, []minor{{4, 1}, {6, 0}}},
		{"wildcard alternatives", "5.9.*||5.10.*", []minor{{5, 9}, {5, 10}}, []minor{{5, 8}, {5, 11}}},
		{"exact patch", "8.2.5", []minor{{8, 2}}, []minor{{8, 3}}},
		{"late patch", ">=8.2.50 <8.3", []minor{{8, 2}}, []minor{{8, 3}}},
		{"patch beyond 99", ">8.2.99 <8.3", nil, []minor{{8, 2}, {8, 3}}},
		{"gap between patches", ">8.2.5 <8.2.7", []minor{{8, 2}}, []minor{{8, 1}, {8, 3}}},
		{"not equal", "!=8.2.0", []minor{{8, 2}}, nil},
		{"empty", ">=8.2.0 <8.2.1 !=8.2.0", nil, []minor{{8, 2}}},
		{"below", "<8.2.0", []minor{{8, 1}}, []minor{{8, 2}}},
		{"any", "*", []minor{{5, 6}, {8, 4}}, nil},
		{"pre-release bound", "^8.4.0-RC1", []minor{{8, 4}, {8, 5}}, []minor{{8, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.constraint)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.constraint, err)
			}
			for _, m := range tc.allowed {
				if !c.AllowsMinor(m[0], m[1]) {
					t.Errorf("%q.AllowsMinor(%d, %d) = false, want true", tc.constraint, m[0], m[1])
				}
			}
			for _, m := range tc.refused {
				if c.AllowsMinor(m[0], m[1]) {
					t.Errorf("%q.AllowsMinor(%d, %d) = true, want false", tc.constraint, m[0], m[1])
				}
			}
		})
	}
}

// TestConstraintAllowsMinorMatchesCheck holds AllowsMinor's shortcut to the
// plain definition: some release X.Y.0 to X.Y.99 passes Check.
func TestConstraintAllowsMinorMatchesCheck(t *testing.T) {
	for _, s := range []string{
		">=8.1 <8.4", "~8.3.0", "!=8.2.0 8.2.*", ">8.2.3 <=8.2.4", "8.2.98 || 8.2.99",
		">=8.2.0 <8.2.1 !=8.2.0", "^0.0.3", "1.0 - 8.2", "8.2.0 - 8.2.3 !=8.2.1", ">8.2.100",
	} {
		t.Run(s, func(t *testing.T) {
			c, err := Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			for major := uint64(0); major <= 9; major++ {
				for minor := uint64(0); minor <= 9; minor++ {
					want := false
					for p := uint64(0); p <= 99 && !want; p++ {
						want = c.Check(semver.New(major, minor, p, "", ""))
					}
					if got := c.AllowsMinor(major, minor); got != want {
						t.Errorf("AllowsMinor(%d, %d) = %v, want %v", major, minor, got, want)
					}
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		constraint string
		is         error // ErrDevBranch or nil
		wantMsg    string
	}{
		{"empty", "", nil, "empty constraint"},
		{"whitespace", "  \t ", nil, "empty constraint"},
		{"operator only", ">=", nil, `missing version after ">="`},
		{"operator then comma", ">=, 8.1", nil, `missing version after ">="`},
		{"double caret", "^^1", nil, `invalid version "^1"`},
		{"five parts", "1.2.3.4.5", nil, "more than four parts"},
		{"word", "foo", nil, `invalid version "foo"`},
		{"non-zero fourth part", "5.0.0.1", nil, `version "5.0.0.1" has a non-zero fourth part`},
		{"non-zero fourth part in range", ">=5.0.0.2", nil, "non-zero fourth part"},
		{"dev master", "dev-master", ErrDevBranch, `dev branch "dev-master" is not a version; platform packages need a version constraint`},
		{"dev feature", "dev-feature", ErrDevBranch, `dev branch "dev-feature"`},
		{"dev with ref", "dev-main#abc123", ErrDevBranch, `dev branch "dev-main"`},
		{"dev with operator", ">=dev-master", ErrDevBranch, `dev branch "dev-master"`},
		{"dev in alternative", "^8.1 || dev-master", ErrDevBranch, `dev branch "dev-master"`},
		{"branch alias", "1.x-dev", ErrDevBranch, `dev branch "1.x-dev"`},
		{"minor branch alias", "2.1.x-dev", ErrDevBranch, `dev branch "2.1.x-dev"`},
		{"caret branch alias", "^1.x-dev", ErrDevBranch, `dev branch "1.x-dev"`},
		{"named branch suffix", "feature-dev", ErrDevBranch, `dev branch "feature-dev"`},
		{"master", "master", ErrDevBranch, `dev branch "master"`},
		{"alias", "1.0 as 2.0", nil, `"as" aliases are not supported`},
		{"ruby tilde", "~>1.2", nil, `operator "~>" is not composer syntax`},
		{"reversed operator", "=>1.2", nil, `operator "=>" is not composer syntax`},
		{"wildcard after operator", ">=1.*", nil, `wildcard "1.*" cannot follow operator ">="`},
		{"wildcard in middle", "1.*.3", nil, `invalid version "1.*.3"`},
		{"wildcard in hyphen range", "1.* - 2.0", nil, "cannot be part of a hyphen range"},
		{"empty alternative", "^8.1 ||", nil, "empty alternative"},
		{"triple pipe", "^8.1 ||| ^9", nil, "empty alternative"},
		{"double comma", ">=8.1,,<8.4", nil, "empty constraint around a comma"},
		{"trailing comma", ">=8.1,", nil, "empty constraint around a comma"},
		{"dangling hyphen", "1.0 -", nil, "hyphen range"},
		{"leading hyphen", "- 1.0", nil, "hyphen range"},
		{"hyphen with operator", ">=1.0 - 2.0", nil, "hyphen range"},
		{"unknown flag", "1.0@foo", nil, `unknown stability flag "@foo"`},
		{"patch level", "1.0.0-p1", nil, `patch-level suffix "p1" is not supported`},
		{"stability then dev", "1.0.0-beta1-dev", nil, "stability followed by -dev"},
		{"numeric pre-release", "1.0.0-1", nil, `invalid version "1.0.0-1"`},
		{"unknown stability", "1.0.0-gamma", nil, `invalid stability "gamma"`},
		{"trailing dot", "8.", nil, `invalid version "8."`},
		{"trailing dash", "8.1-", nil, `invalid version "8.1-"`},
		{"huge number", "99999999999999999999", nil, "is too large"},
		{"caret overflow", "^18446744073709551615", nil, "is too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.constraint)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error", tc.constraint, c)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if tc.is == nil && errors.Is(err, ErrDevBranch) {
				t.Errorf("error %q is ErrDevBranch, want another error", err)
			}
			prefix := "parsing constraint " + strconv.Quote(tc.constraint) + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("error = %q, want prefix %q and %q", msg, prefix, tc.wantMsg)
			}
		})
	}
}

func TestConstraintCheckNil(t *testing.T) {
	c, err := Parse("*")
	if err != nil {
		t.Fatal(err)
	}
	if c.Check(nil) {
		t.Error("Check(nil) = true, want false")
	}
}

func TestConstraintConcurrentUse(t *testing.T) {
	c, err := Parse(">=7.4 <8.0 || ^8.1 !=8.1.3")
	if err != nil {
		t.Fatal(err)
	}
	versions := []*semver.Version{
		semver.MustParse("7.4.0"), semver.MustParse("8.0.0"), semver.MustParse("8.1.3"),
		semver.MustParse("8.2.0-RC1"), semver.MustParse("8.3.7"),
	}
	want := []bool{true, false, false, true, true}
	var wg sync.WaitGroup
	results := make([][]bool, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				got := make([]bool, len(versions))
				for i, v := range versions {
					got[i] = c.Check(v)
				}
				c.AllowsMinor(8, 1)
				results[g] = got
			}
		}()
	}
	wg.Wait()
	for g, got := range results {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("goroutine %d (-want +got):\n%s", g, diff)
		}
	}
}

func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{
		"", "*", "^8.1", "~8.3.0", ">=8.1 <8.4", ">=7.4 || ^8.0", "5.9.*||5.10.*", "1.0 - 2.0",
		"*@dev", "dev-master", "1.x-dev", "1.0 as 2.0", "^5.0.0-beta1", ">=5.0.0RC1", "5.0.0.0",
		"1.2.3.4.5", "^^1", ">=", "v8.1@stable", ">= 8.1, < 8.4 | 9.*", "^18446744073709551615",
	} {
		f.Add(s)
	}
	versions := []*semver.Version{
		semver.MustParse("0.0.0"), semver.MustParse("8.1.0"), semver.MustParse("8.4.0-RC1"),
		semver.MustParse("5.0.0-beta.1"), semver.New(^uint64(0), ^uint64(0), ^uint64(0), "", ""),
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parsing constraint ") {
				t.Errorf("error %q lacks the parsing constraint prefix", err)
			}
			return
		}
		if c.String() != s {
			t.Errorf("String() = %q, want %q", c.String(), s)
		}
		for _, v := range versions {
			c.Check(v)
		}
		c.AllowsMinor(8, 3)
		c.AllowsMinor(^uint64(0), ^uint64(0))
	})
}

func BenchmarkConstraintCheck(b *testing.B) {
	c, err := Parse(">=7.4 <8.0 || ^8.1 !=8.1.3")
	if err != nil {
		b.Fatal(err)
	}
	v := semver.MustParse("8.3.7")
	for b.Loop() {
		c.Check(v)
	}
}

func BenchmarkConstraintAllowsMinor(b *testing.B) {
	c, err := Parse(">=7.4 <8.0 || ^8.1 !=8.1.3")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c.AllowsMinor(8, 0)
	}
}
