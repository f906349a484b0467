package git

import (
	"context"
	"fmt"
)

// Change is a file that differs between two commits, relative to the dir
// read: Status is git's A (added), D (deleted) or M (modified), or another
// of diff's letters (T, U).
type Change struct {
	Status byte
	Path   string
}

// Changed lists what differs under dir from commit from to commit to,
// renames as a deletion and an addition.
func Changed(ctx context.Context, dir, from, to string) ([]Change, error) {
	out, err := gitCLI{dir: dir}.run(ctx, "diff", "--no-renames", "--no-ext-diff", "--name-status", "-z", "--relative", from, to, "--")
	if err != nil {
		return nil, err
	}
	fields := splitZ(out)
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("git diff --name-status: odd output %q", out)
	}
	var changes []Change
	for i := 0; i < len(fields); i += 2 {
		if fields[i] == "" {
			return nil, fmt.Errorf("git diff --name-status: no status for %q", fields[i+1])
		}
		changes = append(changes, Change{Status: fields[i][0], Path: fields[i+1]})
	}
	return changes, nil
}
