package attest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
	packageurl "github.com/package-url/packageurl-go"
)

// Properties phpbuild sets on SBOM components.
const (
	// PropertyBuildOnly marks a component the build used that the image
	// does not contain (the npm packages of the assets step).
	PropertyBuildOnly = "dev.phpbuild:build-only"
	// PropertySource names the layer or image part a component comes from:
	// run-image, php, composer, npm.
	PropertySource = "dev.phpbuild:source"
)

// DebPackage is one installed Debian package, as dpkg-query lists it.
type DebPackage struct {
	Name, Version, Arch string
	// Source and SourceVersion are the source package, when it differs.
	Source, SourceVersion string
}

// Extension is one PHP extension of a runtime. Compiled ones carry the
// source they were compiled from.
type Extension struct {
	Name, Version string
	// Location and SHA256 are the compiled source's; empty for packaged
	// extensions.
	Location, SHA256 string
}

// Runtime is what a run image holds, as `phpbuild runtime build` recorded
// it.
type Runtime struct {
	// Distro is "debian-12": os-release's ID and VERSION_ID.
	Distro     string
	Packages   []DebPackage
	PHP        string
	Extensions []Extension
}

// RuntimeSBOM is the CycloneDX JSON document of a run image: one component
// per Debian package, PHP, and each extension. The same facts give the
// same bytes.
func RuntimeSBOM(rt Runtime) ([]byte, error) {
	bom := newBOM(&cdx.Component{Type: cdx.ComponentTypeContainer, Name: "phpbuild run image", Version: "php-" + rt.PHP})
	var cs []cdx.Component
	for _, p := range rt.Packages {
		q := packageurl.Qualifiers{{Key: "arch", Value: p.Arch}}
		if rt.Distro != "" {
			q = append(q, packageurl.Qualifier{Key: "distro", Value: rt.Distro})
		}
		ns := "debian"
		if d, _, ok := strings.Cut(rt.Distro, "-"); ok {
			ns = d
		}
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, Name: p.Name, Version: p.Version,
			PackageURL: packageurl.NewPackageURL(packageurl.TypeDebian, ns, p.Name, p.Version, q, "").ToString(),
			Properties: &[]cdx.Property{{Name: PropertySource, Value: "run-image"}}}
		if p.Source != "" && (p.Source != p.Name || p.SourceVersion != p.Version) {
			src := p.Source
			if p.SourceVersion != "" && p.SourceVersion != p.Version {
				src += "@" + p.SourceVersion
			}
			*c.Properties = append(*c.Properties, cdx.Property{Name: "dev.phpbuild:deb-source", Value: src})
		}
		cs = append(cs, c)
	}
	if rt.PHP != "" {
		cs = append(cs, cdx.Component{Type: cdx.ComponentTypePlatform, Name: "php", Version: rt.PHP,
			PackageURL: packageurl.NewPackageURL(packageurl.TypeGeneric, "", "php", rt.PHP, nil, "").ToString(),
			Properties: &[]cdx.Property{{Name: PropertySource, Value: "php"}}})
	}
	for _, e := range rt.Extensions {
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, Group: "php-ext", Name: e.Name, Version: e.Version,
			PackageURL: packageurl.NewPackageURL(packageurl.TypeGeneric, "php-ext", e.Name, e.Version, nil, "").ToString(),
			Properties: &[]cdx.Property{{Name: PropertySource, Value: "php"}}}
		if e.SHA256 != "" {
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: e.SHA256}}
			c.Properties = &[]cdx.Property{{Name: PropertySource, Value: "php"}, {Name: "dev.phpbuild:compiled", Value: "true"}}
		}
		if e.Location != "" {
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: e.Location}}
		}
		cs = append(cs, c)
	}
	bom.Components = &cs
	return encode(bom)
}

// App is what an app image's SBOM is made from.
type App struct {
	// Name is the app's name (composer.json's), and Version a version
	// for it; neither is required, and a version that changes with every
	// commit makes every commit's SBOM a new blob.
	Name, Version string
	// Runtime is the run image's SBOM (RuntimeSBOM); nil for a runtime
	// recorded before phpbuild recorded them. Others are the other
	// platforms' run images' SBOMs, for an image index: their components
	// are listed too, once each.
	Runtime []byte
	Others  [][]byte
	// ComposerLock is composer.lock; Dev says whether packages-dev ship.
	ComposerLock []byte
	Dev          bool
	// NodeLock is the assets step's package-lock.json, when it has one.
	NodeLock []byte
}

// SBOMFormat changes whenever AppSBOM's output for the same App does: a
// build carries an earlier image's SBOM when the key of its inputs, this
// included, is the same (see the build package's AnnotationSBOM).
const SBOMFormat = "cyclonedx-1.7/1"

// AppSBOM is the CycloneDX JSON document of an app image: the runtime's
// components, then every composer package that ships, then the npm
// packages the assets step used (scope excluded, PropertyBuildOnly).
// Components are sorted by purl, so the same inputs give the same bytes.
func AppSBOM(a App) ([]byte, error) {
	meta := &cdx.Component{Type: cdx.ComponentTypeContainer, Name: a.Name, Version: a.Version}
	if meta.Name == "" {
		meta.Name = "app"
	}
	bom := newBOM(meta)
	cs, err := runtimeComponents(append([][]byte{a.Runtime}, a.Others...))
	if err != nil {
		return nil, err
	}
	if len(a.ComposerLock) > 0 {
		got, err := composerComponents(a.ComposerLock, a.Dev)
		if err != nil {
			return nil, fmt.Errorf("composer.lock: %w", err)
		}
		cs = append(cs, got...)
	}
	if len(a.NodeLock) > 0 {
		got, err := npmComponents(a.NodeLock)
		if err != nil {
			return nil, fmt.Errorf("package-lock.json: %w", err)
		}
		cs = append(cs, got...)
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].PackageURL < cs[j].PackageURL })
	bom.Components = &cs
	return encode(bom)
}

// Rebased is the SBOM of an image moved onto another runtime: app's
// components that do not come from the runtime (composer, npm), with the
// new runtime's (each platform's run image's, each component once), in
// AppSBOM's order.
func Rebased(app []byte, runtimes ...[]byte) ([]byte, error) {
	var old cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(app), cdx.BOMFileFormatJSON).Decode(&old); err != nil {
		return nil, fmt.Errorf("reading the image's SBOM: %w", err)
	}
	cs, err := runtimeComponents(runtimes)
	if err != nil {
		return nil, err
	}
	if old.Components != nil {
		for _, c := range *old.Components {
			switch source(c) {
			case "run-image", "php":
			default:
				cs = append(cs, c)
			}
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].PackageURL < cs[j].PackageURL })
	meta := &cdx.Component{Type: cdx.ComponentTypeContainer, Name: "app"}
	if old.Metadata != nil && old.Metadata.Component != nil {
		meta = old.Metadata.Component
	}
	bom := newBOM(meta)
	bom.Components = &cs
	return encode(bom)
}

// runtimeComponents are the components of the runtime SBOMs docs (nil
// ones skipped), each purl once: the platforms' run images share their
// architecture-independent packages and PHP.
func runtimeComponents(docs [][]byte) ([]cdx.Component, error) {
	var cs []cdx.Component
	seen := map[string]bool{}
	for _, doc := range docs {
		if len(doc) == 0 {
			continue
		}
		var rt cdx.BOM
		if err := cdx.NewBOMDecoder(bytes.NewReader(doc), cdx.BOMFileFormatJSON).Decode(&rt); err != nil {
			return nil, fmt.Errorf("reading the runtime's SBOM: %w", err)
		}
		if rt.Components == nil {
			continue
		}
		for _, c := range *rt.Components {
			if !seen[c.PackageURL] {
				seen[c.PackageURL] = true
				cs = append(cs, c)
			}
		}
	}
	return cs, nil
}

func source(c cdx.Component) string {
	if c.Properties == nil {
		return ""
	}
	for _, p := range *c.Properties {
		if p.Name == PropertySource {
			return p.Value
		}
	}
	return ""
}

func newBOM(subject *cdx.Component) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Component: subject,
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "phpbuild"}}},
	}
	return bom
}

func encode(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	if err := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).Encode(bom); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// lockPackage is what the SBOM reads of a composer.lock package.
type lockPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
	Source  *lockSource     `json:"source"`
	Dist    *lockSource     `json:"dist"`
}

type lockSource struct {
	Type      string `json:"type"`
	URL       string `json:"url"`
	Reference string `json:"reference"`
	Shasum    string `json:"shasum"`
}

func composerComponents(lock []byte, dev bool) ([]cdx.Component, error) {
	var l struct {
		Packages    []lockPackage `json:"packages"`
		PackagesDev []lockPackage `json:"packages-dev"`
	}
	if err := json.Unmarshal(lock, &l); err != nil {
		return nil, err
	}
	pkgs := l.Packages
	if dev {
		pkgs = append(pkgs, l.PackagesDev...)
	}
	var cs []cdx.Component
	for _, p := range pkgs {
		vendor, name, ok := strings.Cut(p.Name, "/")
		if !ok {
			vendor, name = "", p.Name
		}
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, Group: vendor, Name: name, Version: p.Version,
			PackageURL: packageurl.NewPackageURL(packageurl.TypeComposer, vendor, name, p.Version, nil, "").ToString(),
			Properties: &[]cdx.Property{{Name: PropertySource, Value: "composer"}}}
		if ls := licenses(p.License); len(ls) > 0 {
			c.Licenses = &ls
		}
		var refs []cdx.ExternalReference
		if s := p.Source; s != nil && s.URL != "" {
			refs = append(refs, cdx.ExternalReference{Type: cdx.ERTypeVCS, URL: s.URL, Comment: strings.TrimSpace(s.Type + " reference " + s.Reference)})
		}
		if d := p.Dist; d != nil && d.URL != "" {
			r := cdx.ExternalReference{Type: cdx.ERTypeDistribution, URL: d.URL, Comment: strings.TrimSpace(d.Type + " reference " + d.Reference)}
			if len(d.Shasum) == 40 {
				r.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA1, Value: d.Shasum}}
			}
			refs = append(refs, r)
		}
		if len(refs) > 0 {
			c.ExternalReferences = &refs
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// spdxID is what an SPDX license identifier looks like; anything else is
// kept as a name.
var spdxID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.+-]*$`)

var spdxOperators = strings.NewReplacer(" or ", " OR ", " and ", " AND ", " with ", " WITH ")

// licenses reads composer's "license": a string or a list of them.
func licenses(raw json.RawMessage) cdx.Licenses {
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		var one string
		if json.Unmarshal(raw, &one) == nil && one != "" {
			names = []string{one}
		}
	}
	var out cdx.Licenses
	for _, n := range names {
		switch {
		case n == "":
		case strings.ContainsAny(n, "() "):
			// composer writes "(MIT or GPL-3.0-or-later)"; SPDX wants OR.
			out = append(out, cdx.LicenseChoice{Expression: spdxOperators.Replace(n)})
		case spdxID.MatchString(n) && n != "proprietary":
			out = append(out, cdx.LicenseChoice{License: &cdx.License{ID: n}})
		default:
			out = append(out, cdx.LicenseChoice{License: &cdx.License{Name: n}})
		}
	}
	return out
}

// npmComponents reads package-lock.json: lockfileVersion 2 and 3 list
// every installed package under "packages"; version 1 nests them under
// "dependencies".
func npmComponents(lock []byte) ([]cdx.Component, error) {
	type dep struct {
		Version      string          `json:"version"`
		Resolved     string          `json:"resolved"`
		Integrity    string          `json:"integrity"`
		License      json.RawMessage `json:"license"`
		Dev          bool            `json:"dev"`
		Link         bool            `json:"link"`
		Dependencies map[string]dep  `json:"dependencies"`
	}
	var l struct {
		Packages     map[string]dep `json:"packages"`
		Dependencies map[string]dep `json:"dependencies"`
	}
	if err := json.Unmarshal(lock, &l); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var cs []cdx.Component
	add := func(name string, d dep) {
		if name == "" || d.Version == "" || d.Link {
			return
		}
		ns := ""
		if strings.HasPrefix(name, "@") {
			ns, name, _ = strings.Cut(name, "/")
		}
		purl := packageurl.NewPackageURL(packageurl.TypeNPM, ns, name, d.Version, nil, "").ToString()
		if seen[purl] {
			return
		}
		seen[purl] = true
		c := cdx.Component{Type: cdx.ComponentTypeLibrary, Group: ns, Name: name, Version: d.Version, PackageURL: purl, Scope: cdx.ScopeExcluded,
			Properties: &[]cdx.Property{{Name: PropertyBuildOnly, Value: "true"}, {Name: PropertySource, Value: "npm"}}}
		if ls := licenses(d.License); len(ls) > 0 {
			c.Licenses = &ls
		}
		if d.Resolved != "" {
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeDistribution, URL: d.Resolved, Comment: d.Integrity}}
		}
		cs = append(cs, c)
	}
	if len(l.Packages) > 0 {
		for p, d := range l.Packages {
			i := strings.LastIndex(p, "node_modules/")
			if i < 0 {
				continue // the root package, or a workspace's own dir
			}
			add(p[i+len("node_modules/"):], d)
		}
	} else {
		var walk func(map[string]dep)
		walk = func(ds map[string]dep) {
			for n, d := range ds {
				add(n, d)
				walk(d.Dependencies)
			}
		}
		walk(l.Dependencies)
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].PackageURL < cs[j].PackageURL })
	return cs, nil
}

// ParseDpkg reads `dpkg-query -W -f '${binary:Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n'`.
func ParseDpkg(out string) ([]DebPackage, error) {
	var pkgs []DebPackage
	sc := bufio.NewScanner(strings.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 3 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("dpkg-query line %d: %q is not NAME, VERSION, ARCH", n, line)
		}
		name, _, _ := strings.Cut(f[0], ":") // binary:Package adds :arch for multi-arch packages
		p := DebPackage{Name: name, Version: f[1], Arch: f[2]}
		if len(f) >= 5 {
			p.Source, p.SourceVersion = f[3], f[4]
		}
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
	return pkgs, sc.Err()
}
