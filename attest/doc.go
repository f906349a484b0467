// Package attest owns what phpbuild says about an image besides the image:
// its CycloneDX SBOM (the runtime's Debian packages, PHP and its
// extensions, the composer packages that ship, the npm packages the assets
// step used) and its SLSA provenance, both attached to the image as OCI
// referrers and read back from them.
package attest
