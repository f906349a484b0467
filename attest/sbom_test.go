package attest

import (
	"bytes"
	"strings"
	"testing"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"
)

// A composer.lock as composer 2 writes it: a package from Packagist with
// source and dist, a path package, a dual license, a dev package.
const composerLock = `{
    "content-hash": "0d9c1f0c",
    "packages": [
        {
            "name": "vlucas/phpdotenv",
            "version": "v5.6.1",
            "source": {"type": "git", "url": "https://git.example/vlucas/phpdotenv.git", "reference": "a59a13791077fe3d44f90e7133eb68e7d22eaff2"},
            "dist": {"type": "zip", "url": "https://dist.example/vlucas/phpdotenv/zipball/a59a13791077fe3d44f90e7133eb68e7d22eaff2", "reference": "a59a13791077fe3d44f90e7133eb68e7d22eaff2", "shasum": ""},
            "require": {"php": "^7.2.5 || ^8.0"},
            "type": "library",
            "license": ["BSD-3-Clause"]
        },
        {
            "name": "acme/greeter",
            "version": "1.0.0",
            "dist": {"type": "path", "url": "packages/greeter", "reference": "c7aab2f78f5e920d580dcbe2638da77b12869777"},
            "type": "library",
            "license": ["(LGPL-2.1-only or GPL-3.0-or-later)"]
        },
        {
            "name": "acme/internal",
            "version": "dev-main",
            "dist": {"type": "path", "url": "packages/internal", "reference": "0000000000000000000000000000000000000001"},
            "license": ["proprietary"]
        }
    ],
    "packages-dev": [
        {"name": "phpunit/phpunit", "version": "10.5.0", "license": ["BSD-3-Clause"]}
    ]
}`

// A package-lock.json v3 with a scoped package, a nested copy, a dev
// package and a workspace link.
const packageLock = `{
  "name": "shop-assets",
  "lockfileVersion": 3,
  "packages": {
    "": {"name": "shop-assets", "devDependencies": {"vite": "^5.0.0"}},
    "node_modules/@esbuild/linux-x64": {"version": "0.19.12", "resolved": "https://npm.example/@esbuild/linux-x64/-/linux-x64-0.19.12.tgz", "integrity": "sha512-abc", "dev": true, "license": "MIT"},
    "node_modules/vite": {"version": "5.0.12", "resolved": "https://npm.example/vite/-/vite-5.0.12.tgz", "integrity": "sha512-def", "dev": true, "license": "MIT"},
    "node_modules/vite/node_modules/rollup": {"version": "4.9.6", "dev": true, "license": "MIT"},
    "node_modules/shared": {"resolved": "packages/shared", "link": true},
    "packages/shared": {"version": "1.0.0"}
  }
}`

const dpkg = "base-files\t12.4+deb12u10\tamd64\tbase-files\t12.4+deb12u10\n" +
	"libc6:amd64\t2.36-9+deb12u9\tamd64\tglibc\t2.36-9+deb12u9\n" +
	"nginx\t1.22.1-9+deb12u1\tamd64\tnginx\t1.22.1-9+deb12u1\n" +
	"php8.2-fpm\t8.2.29-1~deb12u1\tamd64\tphp8.2\t8.2.29-1~deb12u1\n"

func testRuntime(t *testing.T) Runtime {
	t.Helper()
	pkgs, err := ParseDpkg(dpkg)
	if err != nil {
		t.Fatal(err)
	}
	return Runtime{Distro: "debian-12", Packages: pkgs, PHP: "8.2.29", Extensions: []Extension{
		{Name: "opcache", Version: "8.2.29"},
		{Name: "phalcon", Version: "5.18.1", Location: "https://pecl.example/get/phalcon-5.18.1.tgz", SHA256: strings.Repeat("ab", 32)},
	}}
}

func decode(t *testing.T, b []byte) map[string]cdx.Component {
	t.Helper()
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(b), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		t.Fatalf("decoding: %v\n%s", err, b)
	}
	if bom.SpecVersion != cdx.SpecVersion1_7 || bom.Metadata == nil || bom.Metadata.Timestamp != "" || bom.SerialNumber != "" {
		t.Errorf("spec %v, metadata %+v, serial %q: want 1.7, no time, no serial (same inputs, same bytes)", bom.SpecVersion, bom.Metadata, bom.SerialNumber)
	}
	out := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		out[c.PackageURL] = c
	}
	return out
}

func TestAppSBOM(t *testing.T) {
	rt, err := RuntimeSBOM(testRuntime(t))
	if err != nil {
		t.Fatal(err)
	}
	in := App{Name: "registry.example/team/shop", Runtime: rt, ComposerLock: []byte(composerLock), NodeLock: []byte(packageLock)}
	b, err := AppSBOM(in)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := AppSBOM(in)
	if !bytes.Equal(b, again) {
		t.Error("the same inputs gave different bytes")
	}
	cs := decode(t, b)
	var purls []string
	for p := range cs {
		purls = append(purls, p)
	}
	want := []string{
		"pkg:composer/acme/greeter@1.0.0",
		"pkg:composer/acme/internal@dev-main",
		"pkg:composer/vlucas/phpdotenv@v5.6.1",
		"pkg:deb/debian/base-files@12.4+deb12u10?arch=amd64&distro=debian-12",
		"pkg:deb/debian/libc6@2.36-9+deb12u9?arch=amd64&distro=debian-12",
		"pkg:deb/debian/nginx@1.22.1-9+deb12u1?arch=amd64&distro=debian-12",
		"pkg:deb/debian/php8.2-fpm@8.2.29-1~deb12u1?arch=amd64&distro=debian-12",
		"pkg:generic/php-ext/opcache@8.2.29",
		"pkg:generic/php-ext/phalcon@5.18.1",
		"pkg:generic/php@8.2.29",
		"pkg:npm/%40esbuild/linux-x64@0.19.12",
		"pkg:npm/rollup@4.9.6",
		"pkg:npm/vite@5.0.12",
	}
	if diff := cmp.Diff(want, sorted(purls)); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if c := cs["pkg:composer/vlucas/phpdotenv@v5.6.1"]; c.Licenses == nil || (*c.Licenses)[0].License.ID != "BSD-3-Clause" || c.ExternalReferences == nil ||
		!strings.Contains((*c.ExternalReferences)[0].Comment, "a59a13791077fe3d44f90e7133eb68e7d22eaff2") {
		t.Errorf("phpdotenv: %+v; want its SPDX license and its source reference", c)
	}
	if c := cs["pkg:composer/acme/greeter@1.0.0"]; c.Licenses == nil || (*c.Licenses)[0].Expression != "(LGPL-2.1-only OR GPL-3.0-or-later)" {
		t.Errorf("greeter's licenses: %+v; want an SPDX expression", c.Licenses)
	}
	if c := cs["pkg:composer/acme/internal@dev-main"]; c.Licenses == nil || (*c.Licenses)[0].License.Name != "proprietary" {
		t.Errorf("internal's licenses: %+v; want the name proprietary", c.Licenses)
	}
	if c := cs["pkg:generic/php-ext/phalcon@5.18.1"]; c.Hashes == nil || (*c.Hashes)[0].Value != strings.Repeat("ab", 32) {
		t.Errorf("phalcon: %+v; want its source's sha256", c)
	}
	for p, c := range cs {
		npm := strings.HasPrefix(p, "pkg:npm/")
		if npm != (c.Scope == cdx.ScopeExcluded) {
			t.Errorf("%s: scope %q; only npm packages are excluded (build time only)", p, c.Scope)
		}
	}
	if strings.Contains(string(b), "phpunit") {
		t.Error("a packages-dev package is listed; composer install --no-dev does not ship it")
	}
	in.Dev = true
	withDev, _ := AppSBOM(in)
	if !strings.Contains(string(withDev), "pkg:composer/phpunit/phpunit@10.5.0") {
		t.Error("Dev: phpunit is not listed")
	}
}

func TestAppSBOMWithoutRuntime(t *testing.T) {
	b, err := AppSBOM(App{ComposerLock: []byte(composerLock)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(decode(t, b)); n != 3 {
		t.Errorf("%d components, want the 3 composer packages", n)
	}
	if _, err := AppSBOM(App{ComposerLock: []byte(`{"packages": 1}`)}); err == nil || !strings.HasPrefix(err.Error(), "composer.lock: ") {
		t.Errorf("a broken composer.lock: %v, want an error naming it", err)
	}
}

func TestNPMLockfileV1(t *testing.T) {
	cs, err := npmComponents([]byte(`{"lockfileVersion": 1, "dependencies": {
		"left-pad": {"version": "1.3.0", "resolved": "https://npm.example/left-pad/-/left-pad-1.3.0.tgz", "dev": true},
		"@babel/core": {"version": "7.1.0", "dependencies": {"debug": {"version": "3.2.6"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.PackageURL)
	}
	if diff := cmp.Diff([]string{"pkg:npm/%40babel/core@7.1.0", "pkg:npm/debug@3.2.6", "pkg:npm/left-pad@1.3.0"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseDpkg(t *testing.T) {
	pkgs, err := ParseDpkg(dpkg)
	if err != nil {
		t.Fatal(err)
	}
	if got := pkgs[1]; got != (DebPackage{Name: "libc6", Version: "2.36-9+deb12u9", Arch: "amd64", Source: "glibc", SourceVersion: "2.36-9+deb12u9"}) {
		t.Errorf("libc6: %+v", got)
	}
	if _, err := ParseDpkg("ok\t1\tall\n\nbroken-line\n"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("a broken line: %v, want its number", err)
	}
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestIsReferrersTag(t *testing.T) {
	for tag, want := range map[string]bool{
		"sha256-" + strings.Repeat("a1", 32):       true,
		"sha256-" + strings.Repeat("a1", 31):       false,
		"sha256-" + strings.Repeat("A1", 32):       false,
		"1.0.0":                                    false,
		"0123456789abcdef0123456789abcdef01234567": false,
	} {
		if got := IsReferrersTag(tag); got != want {
			t.Errorf("IsReferrersTag(%q) = %v, want %v", tag, got, want)
		}
	}
}
