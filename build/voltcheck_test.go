package build

import (
	"archive/tar"
	"strings"
	"testing"
	"time"

	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
)

// TestCheckVolt: the check after assembly catches every way an image could
// make Phalcon compile at run time, reading the layers as the container
// stacks them.
func TestCheckVolt(t *testing.T) {
	epoch := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &layers.Volt{AppPath: "/app", Files: []string{"app/views/index/index.volt", "app/views/layouts/base.volt"},
		Options: phalcon.VoltOptions{Path: "/app/cache/volt/", Separator: "_", Extension: ".php"}}
	const (
		index    = "/app/app/views/index/index.volt"
		base     = "/app/app/views/layouts/base.volt"
		indexC   = "/app/cache/volt/_app_app_views_index_index.volt.php"
		baseC    = "/app/cache/volt/_app_app_views_layouts_base.volt.php"
		baseExtC = "/app/cache/volt/_app_app_views_layouts_base.volt_e_.php"
	)
	file := func(p string, mt time.Time) layers.Entry {
		return layers.Entry{Path: p, Type: tar.TypeReg, Mode: 0o644, Data: []byte("x"), ModTime: mt}
	}
	layer := func(name string, reused bool, es ...layers.Entry) added {
		t.Helper()
		l, err := layers.NewTar(es, epoch)
		if err != nil {
			t.Fatal(err)
		}
		return added{layer: l, ev: LayerEvent{Name: name, Reused: reused}}
	}
	later := epoch.Add(time.Second)
	voltLayer := layer("volt", true, file(index, epoch), file(base, epoch), file(indexC, later), file(baseC, later), file(baseExtC, later))
	for _, tc := range []struct {
		name   string
		layers []added
		want   string // "" for no error
	}{
		{name: "templates and compiled files from one volt layer", layers: []added{voltLayer, layer("app", false, file("/app/public/index.php", epoch.Add(time.Hour)))}},
		{name: "a later layer ships a template with its own time",
			layers: []added{voltLayer, layer("app", false, file(index, epoch.Add(time.Hour)))},
			want:   "app/views/index/index.volt (app layer, 2026-01-02T04:04:05Z) is not older than its compiled file " + indexC},
		{name: "a compiled file as old as its template",
			layers: []added{layer("volt", false, file(index, epoch), file(base, epoch), file(indexC, epoch), file(baseC, later))},
			want:   "is not older than its compiled file " + indexC},
		{name: "a template without its compiled file",
			layers: []added{layer("volt", false, file(index, epoch), file(base, epoch), file(indexC, later))},
			want:   "app/views/layouts/base.volt has no compiled file at " + baseC},
		{name: "a stale extends-mode file",
			layers: []added{layer("volt", false, file(index, epoch), file(base, later), file(indexC, later.Add(time.Second)), file(baseC, later.Add(time.Second)), file(baseExtC, later))},
			want:   "is not older than its compiled file " + baseExtC},
		{name: "a template missing from the image", layers: []added{layer("volt", false, file(index, epoch), file(indexC, later))},
			want: "app/views/layouts/base.volt is not in the image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkVolt(v, tc.layers)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "bug: ")):
				t.Errorf("err = %v, want a bug naming %q", err, tc.want)
			}
		})
	}
}
