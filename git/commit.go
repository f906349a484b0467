package git

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/Masterminds/semver/v3"

	"github.com/phpbuild/phpbuild/badinput"
)

// Commit is the git state a build is made from.
type Commit struct {
	SHA  string    // full HEAD sha (40 hex; 64 in a SHA-256 repository)
	Time time.Time // committer time of HEAD, UTC (becomes SOURCE_DATE_EPOCH)
	// Subject is the first line of HEAD's message.
	Subject string
	// Dirty is set by tracked changes or untracked, non-ignored files under
	// the dir read; changes elsewhere in a monorepo do not count.
	Dirty bool
	// DirtyFiles names up to maxDirtyFiles of the changes, relative to the
	// dir read, for the error message; an untracked directory is one entry
	// ending in "/".
	DirtyFiles []string
	Branch     string // "" when HEAD is detached
	// Tag is the exact tag on HEAD that is a "v"-prefixed semver without
	// build metadata (vX.Y.Z or vX.Y.Z-pre), the highest if several; ""
	// otherwise.
	Tag string
	// Version is the image tag: Tag without its "v", or a dev version
	// above the nearest release tag (see devVersion). It always parses with
	// semver.StrictNewVersion and is a valid OCI tag.
	Version string
	// Shallow is set in a shallow clone. Tags outside the fetched history are
	// missing there, so Version may fall back to 0.0.0-dev…: callers warn.
	Shallow bool
	// Files is what the build may read: tracked and untracked, non-ignored
	// files relative to the dir read, slash-separated and sorted. Tracked
	// files deleted from disk are left out, and so are untracked nested
	// repositories (git lists those as one "dir/" entry, not as files).
	Files []string
	// Ancestors are the SHAs of HEAD's first-parent history, nearest first
	// and HEAD excluded, up to maxAncestors: where a cache image is looked
	// for.
	Ancestors []string
}

const (
	maxDirtyFiles = 10
	maxAncestors  = 100
)

// ociTag is the distribution spec's tag grammar.
var ociTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ReadCommit reads the git state of dir, which may be a subdirectory of its
// repository (an app inside a monorepo). Problems the user must fix — dir is
// not in a work tree, the repository has no commits — are *badinput.Error.
func ReadCommit(ctx context.Context, dir string) (*Commit, error) {
	return ReadCommitEarly(ctx, dir, nil)
}

// ReadCommitEarly is ReadCommit, calling parent, when not nil, with HEAD's
// sha and its first parent's ("" for a root commit) as soon as git names
// them, while the rest is read: for reads that start on a guess. It may be
// called more than once, and for a HEAD that then moved.
func ReadCommitEarly(ctx context.Context, dir string, parent func(head, parent string)) (*Commit, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, badinput.New(dir, "%w", badinput.PathCause(err))
	} else if !fi.IsDir() {
		return nil, badinput.New(dir, "not a directory")
	}
	g := gitCLI{dir: dir, parent: parent}
	// HEAD may move while git is asked (a commit made meanwhile): then
	// the answers name two commits, and are asked again.
	var c *Commit
	for try := 1; ; try++ {
		var err error
		c, err = g.read(ctx)
		if err != errHeadMoved {
			if err != nil {
				return nil, err
			}
			break
		}
		if try == 3 {
			return nil, badinput.New(dir, "HEAD kept moving while phpbuild read it; build once the repository is still")
		}
	}
	if c.Dirty {
		// Only a dirty tree has untracked files, or misses tracked ones.
		var err error
		if c.Files, err = g.files(ctx, true); err != nil {
			return nil, err
		}
		if c.Files, err = g.dropDeleted(ctx, c.Files); err != nil {
			return nil, err
		}
	}
	if _, err := semver.StrictNewVersion(c.Version); err != nil || !ociTag.MatchString(c.Version) {
		// Only a tag near the 128-character limit gets here.
		return nil, badinput.New(dir, "version %q made from the git tags is not a valid image tag: use a shorter tag", c.Version)
	}
	return c, nil
}

// heads are the shas of the first two lines of read's history: HEAD and
// its parent, "" when there is none.
func heads(history string) (head, parent string, ok bool) {
	lines := strings.SplitN(strings.TrimSuffix(history, "\n"), "\n", 3)
	shas := make([]string, 2)
	for i := range min(len(lines), 2) {
		f := strings.SplitN(lines[i], " ", 3)
		if len(f) < 2 {
			return "", "", false
		}
		shas[i] = f[1]
	}
	return shas[0], shas[1], shas[0] != ""
}

// errHeadMoved: HEAD moved while read was asking git.
var errHeadMoved = errors.New("HEAD moved")

// read asks git everything ReadCommit reads, all at once: HEAD is named
// by its sha only once rev-parse answers, so the commands that read HEAD
// ask for "HEAD" and their answers are checked against that sha
// (errHeadMoved when they differ).
func (g gitCLI) read(ctx context.Context) (*Commit, error) {
	var eg errgroup.Group
	// One rev-parse answers five questions: whether dir is in a work tree,
	// a shallow clone, dir's path in it, HEAD's sha and the ref HEAD names
	// ("HEAD" when detached); headError says why when it cannot.
	var head string
	var headErr error
	eg.Go(func() error {
		head, headErr = g.run(ctx, "rev-parse", "--is-inside-work-tree", "--is-shallow-repository", "--show-prefix", "HEAD", "--symbolic-full-name", "HEAD", "--")
		return nil
	})
	// The committer time, HEAD's subject and the first-parent history in
	// one: "TIME SHA SUBJECT" a line, HEAD's first.
	var history string
	eg.Go(func() (err error) {
		history, err = g.run(ctx, "log", "--first-parent", "--no-show-signature", "--format=%ct %H %s", fmt.Sprintf("--max-count=%d", maxAncestors+1), "HEAD", "--")
		if err == nil && g.parent != nil {
			if head, parent, ok := heads(history); ok {
				g.parent(head, parent)
			}
		}
		return err
	})
	var status string
	eg.Go(func() (err error) {
		// --untracked-files: status.showUntrackedFiles=no must not hide them.
		status, err = g.run(ctx, "status", "--porcelain", "-z", "--untracked-files=normal", "--", ".")
		return err
	})
	var files []string
	eg.Go(func() (err error) {
		// Tracked files only: a clean tree has no untracked file to list.
		files, err = g.files(ctx, false)
		return err
	})
	var tags releaseTags
	eg.Go(func() (err error) {
		tags, err = g.releaseTags(ctx)
		return err
	})
	// describe fails when no tag matches, in a shallow clone too: nearestRelease
	// then looks further.
	var described string
	var describeErr error
	eg.Go(func() error {
		described, describeErr = g.run(ctx, "describe", "--tags", "--match", "v[0-9]*", "--abbrev=12", "--long", "HEAD")
		return nil
	})
	err := eg.Wait()
	lines := strings.Split(strings.TrimSuffix(head, "\n"), "\n")
	if headErr != nil || len(lines) != 6 || lines[0] != "true" {
		return nil, g.headError(ctx, head, headErr)
	}
	if err != nil {
		return nil, err
	}
	c := &Commit{Shallow: lines[1] == "true", Files: files}
	// Everything else is checked against this sha, so a commit made
	// meanwhile cannot mix two commits into one Commit.
	c.SHA = lines[3]
	// Not --short: it turns main into "heads/main" when a tag is named main.
	c.Branch, _ = strings.CutPrefix(lines[4], "refs/heads/")
	if lines[4] == "HEAD" {
		c.Branch = "" // detached
	}
	for i, line := range strings.Split(strings.TrimSpace(history), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			return nil, fmt.Errorf("git log: unexpected line %q", line)
		}
		if i > 0 {
			c.Ancestors = append(c.Ancestors, f[1])
			continue
		}
		if f[1] != c.SHA {
			return nil, errHeadMoved
		}
		secs, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("git log: unexpected first line %q", line)
		}
		c.Time = time.Unix(secs, 0).UTC()
		if len(f) == 3 {
			c.Subject = f[2]
		}
	}
	if describeErr == nil {
		if _, _, at, ok := parseDescribe(strings.TrimSpace(described)); ok && !strings.HasPrefix(c.SHA, at) {
			return nil, errHeadMoved
		}
	}
	c.Dirty, c.DirtyFiles = parseStatus(status, lines[2])
	if tag, _ := highestRelease(tags.at(c.SHA)); tag != "" {
		c.Tag, c.Version = tag, strings.TrimPrefix(tag, "v")
		return c, nil
	}
	nearest, n, err := g.nearestRelease(ctx, c.SHA, tags, described, describeErr)
	if err != nil {
		return nil, err
	}
	c.Version = devVersion(c.SHA, nearest, n)
	return c, nil
}

func notRepo(dir string) error {
	return badinput.New(dir, "not a git repository; phpbuild builds one image per commit: run `git init` and commit, or point phpbuild at the app inside a repository")
}

// headError explains why the first rev-parse failed or answered oddly
// (out, err): dir is not in a work tree, the repository has no commits
// yet, or git would not open it.
func (g gitCLI) headError(ctx context.Context, out string, err error) error {
	// Exit code 1 means an unborn HEAD only without ^{commit}: with it, a
	// missing commit object would pass for "no commits" too.
	verified, verr := g.run(ctx, "rev-parse", "--is-inside-work-tree", "--verify", "-q", "HEAD")
	inside := strings.HasPrefix(verified, "true\n")
	switch {
	case inside && exitCode(verr) == 1:
		return badinput.New(g.dir, "git repository has no commits yet: commit the app first, phpbuild builds one image per commit")
	case verr != nil:
		return repoError(g.dir, verr)
	case !inside:
		// Inside .git or a bare repository: there is no work tree to build.
		return notRepo(g.dir)
	case err != nil:
		return repoError(g.dir, err)
	}
	return fmt.Errorf("git rev-parse: unexpected output %q", out)
}

// repoError explains why git would not open dir's repository.
func repoError(dir string, err error) error {
	var ge *gitError
	if !errors.As(err, &ge) {
		return err
	}
	switch {
	case strings.Contains(ge.Stderr, "not a git repository"):
		return notRepo(dir)
	case strings.Contains(ge.Stderr, "dubious ownership"):
		// Common in containers and CI, where the checkout belongs to another
		// uid; git's fix is on lines the one-line message drops.
		return badinput.New(dir, "git refuses the repository, it is owned by another user: run `git config --global --add safe.directory <repository path>`")
	}
	return err
}

// parseStatus reads `git status --porcelain -z`: whether anything under
// the dir differs from HEAD, and the first changes named relative to the
// dir; prefix is the dir's path in the repository, which porcelain paths
// start with.
func parseStatus(out, prefix string) (bool, []string) {
	var names []string
	entries := strings.Split(out, "\x00")
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		if len(e) < 4 {
			continue
		}
		if e[0] == 'R' || e[0] == 'C' {
			i++ // the entry after a rename or copy is its source path
		}
		if len(names) < maxDirtyFiles {
			names = append(names, strings.TrimPrefix(e[3:], prefix))
		}
	}
	return len(names) > 0, names
}

// files lists what the build may read (see Commit.Files), tracked files
// deleted from disk included (see dropDeleted); untracked, non-ignored
// files only with others.
func (g gitCLI) files(ctx context.Context, others bool) ([]string, error) {
	args := []string{"ls-files", "--cached", "-z"}
	if others {
		args = append(args, "--others", "--exclude-standard")
	}
	out, err := g.run(ctx, args...)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, p := range splitZ(out) {
		if !strings.HasSuffix(p, "/") {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	// An unmerged path is listed once per stage.
	return slices.Compact(files), nil
}

// dropDeleted leaves out of files the tracked files deleted from disk.
func (g gitCLI) dropDeleted(ctx context.Context, files []string) ([]string, error) {
	deleted, err := g.run(ctx, "ls-files", "--deleted", "-z")
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, p := range splitZ(deleted) {
		gone[p] = true
	}
	return slices.DeleteFunc(files, func(p string) bool { return gone[p] }), nil
}

// releaseTags maps each v* tag to the commit it names (annotated tags
// peeled).
type releaseTags map[string]string

// at lists the tags on commit.
func (t releaseTags) at(commit string) []string {
	var names []string
	for name, c := range t {
		if c == commit {
			names = append(names, name)
		}
	}
	return names
}

func (g gitCLI) releaseTags(ctx context.Context) (releaseTags, error) {
	// for-each-ref rather than `git tag`: column.ui and tag.sort do not
	// apply, and refname:strip=2 is never disambiguated into "tags/…".
	out, err := g.run(ctx, "for-each-ref", "--format=%(refname:strip=2)%00%(objectname)%00%(*objectname)", "refs/tags/v*")
	if err != nil {
		return nil, err
	}
	tags := releaseTags{}
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\x00")
		if len(f) != 3 {
			return nil, fmt.Errorf("git for-each-ref: unexpected line %q", line)
		}
		tags[f[0]] = cmp.Or(f[2], f[1])
	}
	return tags, nil
}

// devVersion is the version of a commit without a release tag: one patch
// above the nearest release tag vX.Y.Z, as X.Y.(Z+1)-dev.N.g<sha12>, N
// commits after it; after a pre-release vX.Y.Z-rc.1 it is
// X.Y.Z-rc.1.dev.N.g<sha12>. Both sort above the tag and below the next
// release. Without any release tag it is 0.0.0-dev.N.g<sha12>, N counting
// all commits — in a shallow clone only those fetched.
func devVersion(commit string, tag *semver.Version, n int) string {
	dev := fmt.Sprintf("dev.%d.g%s", n, commit[:12])
	switch {
	case tag == nil:
		return "0.0.0-" + dev
	case tag.Prerelease() != "":
		return fmt.Sprintf("%d.%d.%d-%s.%s", tag.Major(), tag.Minor(), tag.Patch(), tag.Prerelease(), dev)
	default:
		return fmt.Sprintf("%d.%d.%d-%s", tag.Major(), tag.Minor(), tag.Patch()+1, dev)
	}
}

// nearestRelease finds the release tag a dev version counts from and the
// number of commits since it; nil and the count of all commits when there is
// none. described is `git describe`'s answer for commit.
func (g gitCLI) nearestRelease(ctx context.Context, commit string, tags releaseTags, described string, describeErr error) (*semver.Version, int, error) {
	// describe fails when no tag matches, in a shallow clone too; the
	// listing below then has the last word.
	if describeErr == nil {
		if name, n, _, ok := parseDescribe(strings.TrimSpace(described)); ok {
			// describe picks one tag per commit, preferring annotated ones,
			// so v1.2.3 may hide a lightweight v1.3.0 or a valid tag may
			// sit beside the invalid one it found: look at all of them.
			if at, ok := tags[name]; ok {
				if _, v := highestRelease(tags.at(at)); v != nil {
					return v, n, nil
				}
			}
		}
	}

	// The nearest v* tag is not a release: count from the highest release
	// tag in the history instead; with no v* tag at all, the usual case of
	// an app that tags no versions, from the first commit.
	var name string
	var v *semver.Version
	if len(tags) > 0 {
		out, err := g.run(ctx, "for-each-ref", "--merged="+commit, "--format=%(refname:strip=2)", "refs/tags/v*")
		if err != nil {
			return nil, 0, err
		}
		name, v = highestRelease(strings.Fields(out))
	}
	rev := commit
	if v != nil {
		rev = "refs/tags/" + name + ".." + commit
	}
	out, err := g.run(ctx, "rev-list", "--count", rev)
	if err != nil {
		return nil, 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		return nil, 0, fmt.Errorf("parsing commit count %q: %w", strings.TrimSpace(out), err)
	}
	return v, n, nil
}

// parseDescribe splits `git describe --long` output, TAG-N-gHEX, into the
// tag (which may itself contain dashes), N and HEX, the commit's
// abbreviated sha.
func parseDescribe(s string) (tag string, n int, abbrev string, ok bool) {
	i := strings.LastIndex(s, "-g")
	if i < 0 {
		return "", 0, "", false
	}
	j := strings.LastIndex(s[:i], "-")
	if j < 0 {
		return "", 0, "", false
	}
	n, err := strconv.Atoi(s[j+1 : i])
	if err != nil {
		return "", 0, "", false
	}
	return s[:j], n, s[i+2:], true
}

// parseReleaseTag accepts vX.Y.Z and vX.Y.Z-pre. Build metadata is refused:
// "+" is not allowed in an image tag.
func parseReleaseTag(name string) (*semver.Version, bool) {
	if !strings.HasPrefix(name, "v") {
		return nil, false
	}
	v, err := semver.StrictNewVersion(name[1:])
	if err != nil || v.Metadata() != "" {
		return nil, false
	}
	return v, true
}

// highestRelease returns the highest release tag among names, or "" and nil.
func highestRelease(names []string) (string, *semver.Version) {
	var best string
	var bestV *semver.Version
	for _, name := range names {
		v, ok := parseReleaseTag(name)
		if ok && (bestV == nil || v.GreaterThan(bestV)) {
			best, bestV = name, v
		}
	}
	return best, bestV
}

func splitZ(s string) []string {
	s = strings.TrimSuffix(s, "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// gitCLI runs git in dir. The git CLI rather than a library: it reads every
// repository format, worktree and config the user's own git reads.
type gitCLI struct {
	dir string
	// parent, when not nil, is told HEAD's parent early (see
	// ReadCommitEarly).
	parent func(head, parent string)
}

// gitError is a git command that failed, with the line of its stderr that
// says why.
type gitError struct {
	Args   []string
	Stderr string
	Err    error // *exec.ExitError
}

func (e *gitError) Error() string {
	if line := firstErrorLine(e.Stderr); line != "" {
		return "git " + e.Args[0] + ": " + line
	}
	return "git " + e.Args[0] + ": " + e.Err.Error()
}

func (e *gitError) Unwrap() error { return e.Err }

// exitCode is git's exit code for a gitError, -1 for other errors and 0 for
// nil; some commands answer "no" with exit code 1.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// envDropped locate another repository than dir: left over from a git hook
// or `git rebase --exec`, they would make phpbuild read that one.
var envDropped = []string{"GIT_DIR=", "GIT_WORK_TREE=", "GIT_INDEX_FILE=", "GIT_COMMON_DIR=", "GIT_PREFIX="}

// gitEnv is the environment git runs in: the user's, without what would
// point it elsewhere, and with what keeps it from asking or locking.
func gitEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return slices.ContainsFunc(envDropped, func(p string) bool { return strings.HasPrefix(kv, p) })
	})
	return append(env,
		"LC_ALL=C",              // messages repoError matches on
		"GIT_TERMINAL_PROMPT=0", // never wait for a password
		"GIT_OPTIONAL_LOCKS=0",  // status need not take index.lock from the user's own git
	)
}

func (g gitCLI) run(ctx context.Context, args ...string) (string, error) {
	// The -c settings keep the user's config from changing what is parsed.
	full := append([]string{"-C", g.dir, "-c", "core.quotepath=off", "-c", "color.ui=never"}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = gitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("git not found in PATH: %w", err)
		}
		if ctx.Err() != nil {
			// A killed git says "signal: killed"; callers test for the cause.
			return "", fmt.Errorf("git %s: %w", args[0], ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return stdout.String(), &gitError{Args: args, Stderr: stderr.String(), Err: err}
		}
		return "", fmt.Errorf("running git %s: %w", args[0], err)
	}
	return stdout.String(), nil
}

// firstErrorLine picks git's fatal: or error: line, which may follow
// warnings and precede hints; else the first line.
func firstErrorLine(stderr string) string {
	first := ""
	for line := range strings.Lines(stderr) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "fatal: ") || strings.HasPrefix(line, "error: ") {
			return line
		}
		if first == "" {
			first = line
		}
	}
	return first
}
