package build

import (
	"bytes"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// A frozen image is the image it froze, byte for byte, layer for layer,
// whether its layers were handed over or looked up.
func TestFreeze(t *testing.T) {
	base, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	added, err := random.Layer(512, "application/vnd.oci.image.layer.v1.tar+gzip")
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, added)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.Annotations(img, map[string]string{"a": "b"}).(v1.Image)
	for _, from := range [][]v1.Layer{nil, {added}} {
		f, err := freeze(img, from)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(f); err != nil {
			t.Errorf("frozen with %d layers handed over: %v", len(from), err)
		}
		for _, get := range []func(v1.Image) ([]byte, error){
			func(i v1.Image) ([]byte, error) { return i.RawManifest() },
			func(i v1.Image) ([]byte, error) { return i.RawConfigFile() },
			func(i v1.Image) ([]byte, error) { d, err := i.Digest(); return []byte(d.String()), err },
			func(i v1.Image) ([]byte, error) { d, err := i.ConfigName(); return []byte(d.String()), err },
			func(i v1.Image) ([]byte, error) {
				ls, err := i.Layers()
				var b bytes.Buffer
				for _, l := range ls {
					d, _ := l.Digest()
					b.WriteString(d.String() + " ")
				}
				return b.Bytes(), err
			},
		} {
			want, err1 := get(img)
			got, err2 := get(f)
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Errorf("frozen gives %q (%v), the image %q (%v)", got, err2, want, err1)
			}
		}
	}
}
