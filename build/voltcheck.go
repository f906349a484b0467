package build

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/phpbuild/phpbuild/layers"
	"github.com/phpbuild/phpbuild/phalcon"
)

// fileTime is what Phalcon's stat check sees of a file in the image.
type fileTime struct {
	layer   string
	regular bool
	mtime   time.Time
}

// checkVolt reads the image's own layers as the container will see them
// and checks that every template has its compiled file where Phalcon's
// engine looks for it, strictly newer than the template: otherwise Phalcon
// compiles at run time, which a read-only container answers with an error
// page and status 200. It reads the volt layer and the layers made in this
// build; a reused layer other than volt's was checked when it was made, and
// its key covers what decides its files. A failure is phpbuild's bug.
func checkVolt(v *layers.Volt, all []added) error {
	fs := map[string]fileTime{}
	for _, a := range all {
		if a.ev.Reused && a.ev.Name != v.Name() {
			continue
		}
		if err := readTimes(a, fs); err != nil {
			return fmt.Errorf("checking compiled templates: reading the %s layer: %w", a.ev.Name, err)
		}
	}
	var problems []string
	for _, t := range v.Templates() {
		abs := path.Join(v.AppPath, t)
		tf, ok := fs[abs]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not in the image", t))
			continue
		}
		for _, extends := range []bool{false, true} {
			c := phalcon.CompiledFile(v.Options, abs, extends)
			cf, ok := fs[c]
			switch {
			case !ok && extends:
				// Only templates that another one extends have this form.
			case !ok:
				problems = append(problems, fmt.Sprintf("%s has no compiled file at %s", t, c))
			case !cf.regular:
				problems = append(problems, fmt.Sprintf("%s: %s is not a regular file", t, c))
			case !cf.mtime.After(tf.mtime):
				problems = append(problems, fmt.Sprintf("%s (%s layer, %s) is not older than its compiled file %s (%s layer, %s), so Phalcon would compile it again at run time",
					t, tf.layer, tf.mtime.UTC().Format(time.RFC3339), c, cf.layer, cf.mtime.UTC().Format(time.RFC3339)))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf(" (and %d more: %s)", len(problems)-1, strings.Join(problems[1:], "; "))
	}
	return fmt.Errorf("bug: the image's precompiled Volt templates would not be used: %s%s; nothing was pushed, please report this", problems[0], more)
}

// readTimes records the regular files and symlinks of one layer's tar in
// fs, over what earlier layers put there.
func readTimes(a added, fs map[string]fileTime) error {
	rc, err := a.layer.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p := path.Clean("/" + h.Name)
		if h.Typeflag == tar.TypeDir {
			continue
		}
		fs[p] = fileTime{layer: a.ev.Name, regular: h.Typeflag == tar.TypeReg, mtime: h.ModTime}
	}
}
