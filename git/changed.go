package git

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Change is a file that differs between two commits, relative to the dir
// read: Status is git's A (added), D (deleted) or M (modified), or another
// of diff's letters (T, U). The modes are git's, octal ("100644",
// "120000" for a symlink), and "000000" on the side where the file is
// missing; the blobs are the object ids on each side.
type Change struct {
	Status           byte
	Path             string
	OldMode, NewMode string
	OldBlob, NewBlob string
}

// Symlink modes, and a submodule's.
const (
	ModeSymlink = "120000"
	ModeGitlink = "160000"
)

// Changed lists what differs under dir from commit from to commit to,
// renames as a deletion and an addition.
func Changed(ctx context.Context, dir, from, to string) ([]Change, error) {
	out, err := gitCLI{dir: dir}.run(ctx, "diff", "--raw", "--no-abbrev", "--no-renames", "--no-ext-diff", "-z", "--relative", from, to, "--")
	if err != nil {
		return nil, err
	}
	// Each change is ":OLDMODE NEWMODE OLDBLOB NEWBLOB STATUS" then the path.
	fields := splitZ(out)
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("git diff --raw: odd output %q", out)
	}
	var changes []Change
	for i := 0; i < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) != 5 || meta[4] == "" {
			return nil, fmt.Errorf("git diff --raw: unexpected entry %q for %q", fields[i], fields[i+1])
		}
		changes = append(changes, Change{Status: meta[4][0], Path: fields[i+1],
			OldMode: meta[0], NewMode: meta[1], OldBlob: meta[2], NewBlob: meta[3]})
	}
	return changes, nil
}

// Blobs reads the blobs with the given object ids from dir's repository,
// with one git process, by id.
func Blobs(ctx context.Context, dir string, ids []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return out, nil
	}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "cat-file", "--batch")
	cmd.Env = gitEnv()
	cmd.Stdin = strings.NewReader(strings.Join(ids, "\n") + "\n")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("running git cat-file: %w", err)
	}
	readErr := readBatch(bufio.NewReader(stdout), ids, out)
	// Drained, so that git is not left blocked on a full pipe.
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git cat-file: %w", err)
	}
	if readErr != nil {
		return nil, fmt.Errorf("git cat-file: %w", readErr)
	}
	return out, nil
}

// readBatch reads cat-file --batch's answers for ids into out: for each,
// "ID TYPE SIZE", the content and a newline, or "ID missing".
func readBatch(r *bufio.Reader, ids []string, out map[string][]byte) error {
	for _, id := range ids {
		head, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		f := strings.Fields(head)
		if len(f) != 3 || f[1] != "blob" {
			return fmt.Errorf("%s: %s", id, strings.TrimSpace(head))
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("%s: size %q", id, f[2])
		}
		body := make([]byte, n+1)
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		out[id] = body[:n]
	}
	return nil
}
