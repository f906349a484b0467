package runtimes

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/semver/v3"

	"github.com/phpbuild/phpbuild/constraint"
	"github.com/phpbuild/phpbuild/project"
)

//go:embed catalog.toml
var defaultCatalog []byte

// Catalog is what runtimes can be built: PHP minors, their extensions, and
// Phalcon releases.
type Catalog struct {
	DefaultExtensions []string             `toml:"default_extensions"`
	Builtin           []string             `toml:"builtin"`
	PHP               []Minor              `toml:"php"`
	Extensions        map[string]Extension `toml:"extensions"`
	Phalcon           []PhalconLine        `toml:"phalcon"`
}

// Minor is one PHP minor and the base image whose apt sources ship it.
type Minor struct {
	Minor string `toml:"minor"`
	Suite string `toml:"suite"`
	Base  string `toml:"base"`
	// Version is the exact PHP version when a built runtime told us; the
	// catalog alone knows only the minor.
	Version   string   `toml:"version"`
	Missing   []string `toml:"missing"`
	AptSource string   `toml:"apt_source"`
	AptKey    string   `toml:"apt_key"`

	major, minor uint64
}

// Extension is the Debian package that ships an extension.
type Extension struct {
	Package string   `toml:"package"`
	Also    []string `toml:"also"`
	// PECL marks extensions outside php-src, which have their own versions.
	PECL bool `toml:"pecl"`
}

// PhalconLine is a run of Phalcon releases supporting the same PHP range.
type PhalconLine struct {
	Versions []string `toml:"versions"`
	PHP      string   `toml:"php"`
	Requires []string `toml:"requires"`

	php      *constraint.Constraint
	versions []*semver.Version
}

// DefaultCatalog returns the catalog embedded in phpbuild.
func DefaultCatalog() (*Catalog, error) {
	return ParseCatalog(defaultCatalog)
}

// ParseCatalog reads a catalog in the embedded catalog's format.
func ParseCatalog(data []byte) (*Catalog, error) {
	var c Catalog
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		return nil, fmt.Errorf("parsing catalog: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("parsing catalog: unknown key %s", u[0])
	}
	for i := range c.PHP {
		if err := c.PHP[i].parse(); err != nil {
			return nil, fmt.Errorf("parsing catalog: %w", err)
		}
	}
	for i := range c.Phalcon {
		l := &c.Phalcon[i]
		if l.php, err = constraint.Parse(l.PHP); err != nil {
			return nil, fmt.Errorf("parsing catalog: phalcon %v: %w", l.Versions, err)
		}
		for _, v := range l.Versions {
			sv, err := semver.StrictNewVersion(v)
			if err != nil {
				return nil, fmt.Errorf("parsing catalog: phalcon version %q: %w", v, err)
			}
			l.versions = append(l.versions, sv)
		}
	}
	c.sort()
	return &c, nil
}

func (m *Minor) parse() error {
	parts := strings.Split(m.Minor, ".")
	if len(parts) != 2 {
		return fmt.Errorf("php minor %q: want X.Y", m.Minor)
	}
	var err error
	if m.major, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return fmt.Errorf("php minor %q: want X.Y", m.Minor)
	}
	if m.minor, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return fmt.Errorf("php minor %q: want X.Y", m.Minor)
	}
	if m.Version != "" {
		v, err := semver.StrictNewVersion(m.Version)
		if err != nil || v.Major() != m.major || v.Minor() != m.minor {
			return fmt.Errorf("php %s: version %q is not an X.Y.Z of that minor", m.Minor, m.Version)
		}
	}
	return nil
}

// sort orders minors newest first, the order resolution tries them in.
func (c *Catalog) sort() {
	sort.SliceStable(c.PHP, func(i, j int) bool {
		a, b := c.PHP[i], c.PHP[j]
		if a.major != b.major {
			return a.major > b.major
		}
		return a.minor > b.minor
	})
}

// WithProject returns the catalog plus the PHP minors project.toml adds from
// extra apt sources. A minor the catalog has already is replaced: the
// project's apt source wins.
func (c *Catalog) WithProject(d *project.Descriptor) (*Catalog, error) {
	if len(d.PHP.Minors) == 0 {
		return c, nil
	}
	out := *c
	out.PHP = nil
	for _, m := range c.PHP {
		if _, replaced := d.PHP.Minors[m.Minor]; !replaced {
			out.PHP = append(out.PHP, m)
		}
	}
	for name, pm := range d.PHP.Minors {
		m := Minor{Minor: name, Base: pm.Base, AptSource: pm.AptSource, AptKey: pm.AptKey}
		if err := m.parse(); err != nil {
			return nil, err
		}
		out.PHP = append(out.PHP, m)
	}
	out.sort()
	return &out, nil
}

// Offers describes the catalog's PHP minors for error messages.
func (c *Catalog) Offers() string {
	var s []string
	for _, m := range c.PHP {
		s = append(s, m.Minor+" ("+m.Base+")")
	}
	return "PHP " + strings.Join(s, ", ")
}

// extensionProvided reports whether minor m can load extension ext from its
// Debian packages, and whether ext is compiled in.
func (c *Catalog) extensionProvided(m Minor, ext string) (ok, builtin bool) {
	for _, missing := range m.Missing {
		if missing == ext {
			return false, false
		}
	}
	for _, b := range c.Builtin {
		if b == ext {
			return true, true
		}
	}
	if _, ok := c.Extensions[ext]; ok {
		return true, false
	}
	for _, e := range c.Extensions {
		for _, also := range e.Also {
			if also == ext {
				return true, false
			}
		}
	}
	return false, false
}
