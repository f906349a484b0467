package attest

import (
	"encoding/json"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/common"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
)

// BuildType names phpbuild's build in provenance: what externalParameters
// and byproducts mean.
const BuildType = "https://phpbuild.dev/build/v1"

// statementType is in-toto's ITE-6 v1 statement.
const statementType = "https://in-toto.io/Statement/v1"

// Build is what a provenance statement says of one build.
type Build struct {
	// Image is the image's name (repo, no tag) and Digest its manifest
	// digest: the statement's subject.
	Image  string
	Digest v1.Hash
	// Commit is the git commit's SHA, Remote its origin URL (no
	// credentials), Dir the app's path in the repository ("." at the top).
	Commit, Remote, Dir string
	Version             string // the image's semver tag
	Tags                []string
	// Builder is phpbuild's version.
	Builder string
	// Runtime names the runtime's images by role (run, build, composer,
	// cli) as repo@digest.
	Runtime map[string]string
	// Layers are every layer the build added: name, key, digest and
	// whether it was reused from an earlier image.
	Layers []Layer
	// Parameters are the build's options as the user set them.
	Parameters map[string]string
}

// Layer is one app layer in provenance.
type Layer struct {
	Name, Key, Digest string
	Reused            bool
}

type statement struct {
	Type          string                    `json:"_type"`
	Subject       []subject                 `json:"subject"`
	PredicateType string                    `json:"predicateType"`
	Predicate     slsa1.ProvenancePredicate `json:"predicate"`
}

type subject struct {
	Name   string           `json:"name"`
	Digest common.DigestSet `json:"digest"`
}

// Provenance is the in-toto statement, with a SLSA v1 provenance
// predicate, of b. It holds no clock time, so the same build gives the
// same bytes.
func Provenance(b Build) ([]byte, error) {
	source := "git+" + b.Remote
	if b.Remote == "" {
		source = "git"
	}
	deps := []slsa1.ResourceDescriptor{{URI: source + "@" + b.Commit, Digest: common.DigestSet{"gitCommit": b.Commit}, Name: "source"}}
	roles := make([]string, 0, len(b.Runtime))
	for r := range b.Runtime {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		ref := b.Runtime[r]
		rd := slsa1.ResourceDescriptor{URI: "oci://" + ref, Name: "runtime " + r}
		if i := strings.LastIndex(ref, "@"); i >= 0 {
			if h, err := v1.NewHash(ref[i+1:]); err == nil {
				rd.Digest = common.DigestSet{h.Algorithm: h.Hex}
			}
		}
		deps = append(deps, rd)
	}
	var products []slsa1.ResourceDescriptor
	for _, l := range b.Layers {
		rd := slsa1.ResourceDescriptor{Name: "layer " + l.Name, Annotations: map[string]interface{}{"key": l.Key, "reused": l.Reused}}
		if h, err := v1.NewHash(l.Digest); err == nil {
			rd.Digest = common.DigestSet{h.Algorithm: h.Hex}
		}
		products = append(products, rd)
	}
	params := map[string]interface{}{"source": source, "commit": b.Commit, "path": b.Dir, "version": b.Version, "tags": b.Tags}
	if len(b.Parameters) > 0 {
		params["options"] = b.Parameters
	}
	st := statement{
		Type:          statementType,
		Subject:       []subject{{Name: b.Image, Digest: common.DigestSet{b.Digest.Algorithm: b.Digest.Hex}}},
		PredicateType: slsa1.PredicateSLSAProvenance,
		Predicate: slsa1.ProvenancePredicate{
			BuildDefinition: slsa1.ProvenanceBuildDefinition{BuildType: BuildType, ExternalParameters: params, ResolvedDependencies: deps},
			RunDetails: slsa1.ProvenanceRunDetails{
				Builder:    slsa1.Builder{ID: "https://phpbuild.dev/phpbuild", Version: map[string]string{"phpbuild": b.Builder}},
				Byproducts: products,
			},
		},
	}
	return json.MarshalIndent(st, "", "  ")
}
