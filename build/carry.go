package build

import (
	"context"

	"github.com/phpbuild/phpbuild/git"
	"github.com/phpbuild/phpbuild/internal/classindex"
	"github.com/phpbuild/phpbuild/internal/par"
)

// carryIndex finds whether the class index of commit is the one the cache
// image recorded for its autoload layer, reading only the files changed
// since (see classindex.Same): a large app's code change then lexes one
// file, not thousands. It gives nil when it cannot tell, and the index is
// read in full; never an error: that read reports any.
func carryIndex(ctx context.Context, dir string, commit *git.Commit, prevF *par.Future[*cacheImage]) *par.Future[*classindex.Summary] {
	return par.Go(func() (*classindex.Summary, error) {
		prev, err := prevF.Wait()
		if err != nil || prev == nil || commit.Dirty || prev.revision == "" {
			return nil, nil
		}
		old := prev.layers["autoload"].Index
		if old == nil {
			return nil, nil // built before indexes were recorded
		}
		d, err := prev.read(ctx, dir, commit.SHA)
		if err != nil || d.beforeErr != nil {
			return nil, nil
		}
		changes, blobs := d.changes, d.before
		changed := make([]classindex.Changed, 0, len(changes))
		for _, c := range changes {
			special := false
			for _, m := range []string{c.OldMode, c.NewMode} {
				special = special || m == git.ModeSymlink || m == git.ModeGitlink
			}
			changed = append(changed, classindex.Changed{Path: c.Path, Before: blobs[c.OldBlob], Special: special})
		}
		if classindex.Same(dir, *old, changed) != nil {
			return nil, nil
		}
		return old, nil
	})
}

// modeMissing is git's mode on the side of a change where the file is not.
const modeMissing = "000000"

// diffRead is what changed between two commits, with the bodies before of
// the changed files the class index scans (by blob id): what carryIndex
// reads. beforeErr is why the bodies could not be read; the changes hold
// all the same.
type diffRead struct {
	changes   []git.Change
	before    map[string][]byte
	beforeErr error
}

// readDiff reads what changed under dir from commit from to commit to.
func readDiff(ctx context.Context, dir, from, to string) (diffRead, error) {
	changes, err := git.Changed(ctx, dir, from, to)
	if err != nil {
		return diffRead{}, err
	}
	return withBodies(ctx, dir, changes), nil
}

// withBodies reads the bodies before of changes (see diffRead).
func withBodies(ctx context.Context, dir string, changes []git.Change) diffRead {
	var ids []string
	for _, c := range changes {
		if classindex.Scannable(c.Path) && c.OldMode != modeMissing {
			ids = append(ids, c.OldBlob)
		}
	}
	d := diffRead{changes: changes}
	d.before, d.beforeErr = git.Blobs(ctx, dir, ids)
	return d
}
