package attest

import (
	"encoding/json"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	provenance "github.com/in-toto/attestation/go/predicates/provenance/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Build types: what externalParameters and byproducts mean. A rebase
// moved an image onto a newer runtime without a build.
const (
	BuildType  = "https://phpbuild.dev/build/v1"
	RebaseType = "https://phpbuild.dev/rebase/v1"
)

// predicateType is SLSA's provenance v1.
const predicateType = "https://slsa.dev/provenance/v1"

// Build is what a provenance statement says of one build.
type Build struct {
	// Image is the image's name (repo, no tag) and Digest its manifest
	// digest: the statement's subject.
	Image  string
	Digest v1.Hash
	// Commit is the git commit's SHA, Remote its origin URL (no
	// credentials).
	Commit, Remote string
	Version        string // the image's semver tag
	Tags           []string
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
	// RebasedFrom is the image this one was rebased from, repo@digest;
	// empty for a build.
	RebasedFrom string
}

// Layer is one app layer in provenance.
type Layer struct {
	Name, Key, Digest string
	Reused            bool
}

// Provenance is the in-toto v1 statement, with a SLSA v1 provenance
// predicate (in-toto's own Go types), of b. It holds no clock time, and
// its JSON is re-encoded with sorted keys (protojson's output varies on
// purpose), so the same build gives the same bytes.
func Provenance(b Build) ([]byte, error) {
	source := "git+" + b.Remote
	if b.Remote == "" {
		source = "git"
	}
	deps := []*ita1.ResourceDescriptor{{Uri: source + "@" + b.Commit, Digest: map[string]string{"gitCommit": b.Commit}, Name: "source"}}
	roles := make([]string, 0, len(b.Runtime))
	for r := range b.Runtime {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		deps = append(deps, imageDescriptor("runtime "+r, b.Runtime[r]))
	}
	var products []*ita1.ResourceDescriptor
	for _, l := range b.Layers {
		ann, err := structpb.NewStruct(map[string]any{"key": l.Key, "reused": l.Reused})
		if err != nil {
			return nil, err
		}
		rd := &ita1.ResourceDescriptor{Name: "layer " + l.Name, Annotations: ann}
		if h, err := v1.NewHash(l.Digest); err == nil {
			rd.Digest = map[string]string{h.Algorithm: h.Hex}
		}
		products = append(products, rd)
	}
	tags := make([]any, len(b.Tags))
	for i, t := range b.Tags {
		tags[i] = t
	}
	params := map[string]any{"source": source, "commit": b.Commit, "version": b.Version, "tags": tags}
	if len(b.Parameters) > 0 {
		opts := map[string]any{}
		for k, v := range b.Parameters {
			opts[k] = v
		}
		params["options"] = opts
	}
	buildType := BuildType
	if b.RebasedFrom != "" {
		buildType = RebaseType
		params["rebasedFrom"] = b.RebasedFrom
		deps = append(deps, imageDescriptor("rebased from", b.RebasedFrom))
	}
	ext, err := structpb.NewStruct(params)
	if err != nil {
		return nil, err
	}
	pred, err := protojson.Marshal(&provenance.Provenance{
		BuildDefinition: &provenance.BuildDefinition{BuildType: buildType, ExternalParameters: ext, ResolvedDependencies: deps},
		RunDetails: &provenance.RunDetails{
			Builder:    &provenance.Builder{Id: "https://phpbuild.dev/phpbuild", Version: map[string]string{"phpbuild": b.Builder}},
			Byproducts: products,
		},
	})
	if err != nil {
		return nil, err
	}
	predicate := &structpb.Struct{}
	if err := protojson.Unmarshal(pred, predicate); err != nil {
		return nil, err
	}
	st, err := protojson.Marshal(&ita1.Statement{
		Type:          ita1.StatementTypeUri,
		Subject:       []*ita1.ResourceDescriptor{{Name: b.Image, Digest: map[string]string{b.Digest.Algorithm: b.Digest.Hex}}},
		PredicateType: predicateType,
		Predicate:     predicate,
	})
	if err != nil {
		return nil, err
	}
	var canonical any
	if err := json.Unmarshal(st, &canonical); err != nil {
		return nil, err
	}
	return json.MarshalIndent(canonical, "", "  ")
}

// imageDescriptor names the image ref, repo@digest, with its digest.
func imageDescriptor(name, ref string) *ita1.ResourceDescriptor {
	rd := &ita1.ResourceDescriptor{Uri: "oci://" + ref, Name: name}
	if i := strings.LastIndex(ref, "@"); i >= 0 {
		if h, err := v1.NewHash(ref[i+1:]); err == nil {
			rd.Digest = map[string]string{h.Algorithm: h.Hex}
		}
	}
	return rd
}
