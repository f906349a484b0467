package attest

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestProvenance(t *testing.T) {
	d, _ := v1.NewHash("sha256:" + string(bytes.Repeat([]byte("1"), 64)))
	b := Build{Image: "registry.example/team/shop", Digest: d, Commit: "0123456789abcdef0123456789abcdef01234567", Remote: "https://git.example/team/shop",
		Version: "1.4.0", Tags: []string{"0123456789abcdef0123456789abcdef01234567", "1.4.0"}, Builder: "v0.9.0",
		Runtime:    map[string]string{"run": "registry.example/rt@sha256:" + string(bytes.Repeat([]byte("2"), 64))},
		Layers:     []Layer{{Name: "vendor", Key: "sha256:aa", Digest: "sha256:" + string(bytes.Repeat([]byte("3"), 64)), Reused: true}},
		Parameters: map[string]string{"runtimes": "registry.example/rt"}}
	got, err := Provenance(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Provenance(b)
	if !bytes.Equal(got, again) {
		t.Error("the same build gave different bytes")
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Name   string            `json:"name"`
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			BuildDefinition struct {
				BuildType            string         `json:"buildType"`
				ExternalParameters   map[string]any `json:"externalParameters"`
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Builder struct {
					Version map[string]string `json:"version"`
				} `json:"builder"`
				Byproducts []struct {
					Name        string            `json:"name"`
					Digest      map[string]string `json:"digest"`
					Annotations map[string]any    `json:"annotations"`
				} `json:"byproducts"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(got, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != "https://in-toto.io/Statement/v1" || st.PredicateType != "https://slsa.dev/provenance/v1" {
		t.Errorf("type %q, predicate %q", st.Type, st.PredicateType)
	}
	if len(st.Subject) != 1 || st.Subject[0].Name != b.Image || st.Subject[0].Digest["sha256"] != d.Hex {
		t.Errorf("subject %+v, want the image and its digest", st.Subject)
	}
	deps := st.Predicate.BuildDefinition.ResolvedDependencies
	if len(deps) != 2 || deps[0].URI != "git+https://git.example/team/shop@"+b.Commit || deps[0].Digest["gitCommit"] != b.Commit ||
		deps[1].Digest["sha256"] != string(bytes.Repeat([]byte("2"), 64)) {
		t.Errorf("resolved dependencies %+v, want the commit and the run image", deps)
	}
	if p := st.Predicate.BuildDefinition.ExternalParameters; p["commit"] != b.Commit || p["version"] != "1.4.0" {
		t.Errorf("external parameters %v", p)
	}
	bp := st.Predicate.RunDetails.Byproducts
	if diff := cmp.Diff(1, len(bp)); diff != "" || bp[0].Name != "layer vendor" || bp[0].Annotations["key"] != "sha256:aa" || bp[0].Annotations["reused"] != true {
		t.Errorf("byproducts %+v, want the vendor layer with its key, reused", bp)
	}
	if st.Predicate.RunDetails.Builder.Version["phpbuild"] != "v0.9.0" {
		t.Errorf("builder %+v", st.Predicate.RunDetails.Builder)
	}
}
