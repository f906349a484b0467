package release

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// stateStore is an environment's state dir on the docker host: env
// snapshots, the release log, the lock, backups and the front proxy's
// config. Paths are relative to it, slash-separated.
type stateStore interface {
	// read returns a file's content; errNoState when there is none.
	read(ctx context.Context, rel string) ([]byte, error)
	// write puts a file in place atomically, owned by uid (and its
	// group) with mode.
	write(ctx context.Context, rel string, data []byte, mode int64, uid int) error
	// create writes a file only when it does not exist, in one atomic
	// step; false (and no error) when it does.
	create(ctx context.Context, rel string, data []byte) (bool, error)
	// append adds data at the end of a file, creating it.
	append(ctx context.Context, rel string, data []byte) error
	// remove removes a file; a missing one is no error.
	remove(ctx context.Context, rel string) error
	// mkdir makes a directory and its parents, owned by uid.
	mkdir(ctx context.Context, rel string, uid int) error
	// sh runs a shell script in the front proxy container, as root, the
	// state dir at /state; it returns the script's combined output and
	// exit code.
	sh(ctx context.Context, script string) (string, int, error)
	// hostPath is where rel is on the docker host, to mount it.
	hostPath(rel string) string
	// close ends what the store holds open on the host.
	close()
}

var errNoState = errors.New("no such state file")

// proxyState is the state dir StateRoot/APP/ENV, reached only through the
// docker API, so an ssh:// host works as the local socket does: the front
// proxy container mounts it at /state, and one long-lived sh in it runs
// every command. A docker exec or copy costs 100–400 ms on a busy host,
// more over ssh, and a release makes some twenty; a command on the open
// shell costs a millisecond.
type proxyState struct {
	h *host

	mu   sync.Mutex
	sess *shellSession
}

var _ stateStore = (*proxyState)(nil)

func (s *proxyState) hostPath(rel string) string {
	return path.Join(StateRoot, s.h.env.App, s.h.env.Name, rel)
}

func (s *proxyState) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess != nil {
		s.sess.close()
		s.sess = nil
	}
}

// sh runs script on the shell, opening one when there is none. A shell
// found gone before the script began (the proxy restarted since) is
// replaced once.
func (s *proxyState) sh(ctx context.Context, script string) (string, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		fresh := s.sess == nil
		if fresh {
			sess, err := openShell(ctx, s.h.cli, s.h.proxyName())
			if err != nil {
				return "", 0, err
			}
			s.sess = sess
		}
		out, code, err := s.sess.run(ctx, script)
		if err == nil {
			return out, code, nil
		}
		s.sess.close()
		s.sess = nil
		if fresh || !errors.Is(err, errShellGone) || ctx.Err() != nil {
			return "", 0, fmt.Errorf("the front proxy's shell: %w", err)
		}
	}
}

func (s *proxyState) read(ctx context.Context, rel string) ([]byte, error) {
	p := statePath(rel)
	out, code, err := s.sh(ctx, fmt.Sprintf("[ -f %s ] || exit 3\nbase64 -w0 %s", p, p))
	switch {
	case err != nil:
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	case code == 3:
		return nil, errNoState
	case code != 0:
		return nil, fmt.Errorf("reading %s on the docker host: %s", rel, strings.TrimSpace(out))
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	}
	return b, nil
}

// write puts data beside rel, then renames it over rel: a reader never
// sees half a file.
func (s *proxyState) write(ctx context.Context, rel string, data []byte, mode int64, uid int) error {
	p := statePath(rel)
	tmp := statePath(rel + ".tmp-" + randomHex(4))
	cmd, body := decodeTo(tmp, ">", data)
	script := fmt.Sprintf("mkdir -p %s && %s && chown %d:%d %s && chmod %o %s && mv -f %s %s || { rm -f %s; exit 1; }\n%s",
		dirOf(rel), cmd, uid, uid, tmp, mode, tmp, tmp, p, tmp, body)
	return s.check(ctx, "writing "+rel, script)
}

// create writes rel beside it, then links it to rel: ln fails when rel
// exists (exit 9 then).
func (s *proxyState) create(ctx context.Context, rel string, data []byte) (bool, error) {
	p := statePath(rel)
	tmp := statePath(rel + ".new-" + randomHex(4))
	cmd, body := decodeTo(tmp, ">", data)
	script := fmt.Sprintf("mkdir -p %s && %s || exit 1\n%sln %s %s 2>/dev/null; r=$?; rm -f %s\n[ $r = 0 ] && exit 0; [ -e %s ] && exit 9; exit 1",
		dirOf(rel), cmd, body, tmp, p, tmp, p)
	out, code, err := s.sh(ctx, script)
	switch {
	case err != nil:
		return false, fmt.Errorf("creating %s on the docker host: %w", rel, err)
	case code == 9:
		return false, nil
	case code != 0:
		return false, fmt.Errorf("creating %s on the docker host: %s", rel, strings.TrimSpace(out))
	}
	return true, nil
}

func (s *proxyState) append(ctx context.Context, rel string, data []byte) error {
	p := statePath(rel)
	cmd, body := decodeTo(p, ">>", data)
	return s.check(ctx, "appending to "+rel, fmt.Sprintf("mkdir -p %s && %s\n%s", dirOf(rel), cmd, body))
}

func (s *proxyState) remove(ctx context.Context, rel string) error {
	return s.check(ctx, "removing "+rel, "rm -f "+statePath(rel))
}

func (s *proxyState) mkdir(ctx context.Context, rel string, uid int) error {
	p := statePath(rel)
	return s.check(ctx, "making "+rel, fmt.Sprintf("mkdir -p %s && chown %d:%d %s", p, uid, uid, p))
}

// check runs script and turns a non-zero exit into an error about what.
func (s *proxyState) check(ctx context.Context, what, script string) error {
	out, code, err := s.sh(ctx, script)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(out))
	}
	if err != nil {
		return fmt.Errorf("%s on the docker host: %w", what, err)
	}
	return nil
}

// dirOf is the directory of rel in the proxy container, quoted for sh.
func dirOf(rel string) string { return statePath(path.Dir(rel)) }

// statePath is rel in the proxy container, quoted for sh.
func statePath(rel string) string { return shellQuote(path.Join("/state", rel)) }

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// decodeTo is a command that writes data to the quoted path p (redirect
// ">" or ">>"), and the here-document that must follow its line: data
// travels in the script as base64, so any bytes survive.
func decodeTo(p, redirect string, data []byte) (cmd, body string) {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n" + heredocEnd + "\n")
	return fmt.Sprintf("base64 -d %s %s <<'%s'", redirect, p, heredocEnd), b.String()
}

// heredocEnd ends a here-document; base64 never holds a '_'.
const heredocEnd = "__PHPBUILD_EOF__"

// shellSession is one sh in a container, fed scripts on its stdin. Each
// runs in a subshell, so that exit and set -e stay in it, and is followed
// by a line of the session's marker and the exit code.
type shellSession struct {
	conn   types.HijackedResponse
	out    *bufio.Reader
	marker string
}

// errShellGone is a shell that ended before a script's first byte of
// output: the container it ran in stopped.
var errShellGone = errors.New("the shell ended")

func openShell(ctx context.Context, cli dockerAPI, ctr string) (*shellSession, error) {
	ex, err := cli.ContainerExecCreate(ctx, ctr, container.ExecOptions{Cmd: []string{"sh"}, User: "0", AttachStdin: true, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	att, err := cli.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("exec in %s: %w", ctr, err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, att.Reader)
		pw.CloseWithError(err) // nil: io.EOF
	}()
	return &shellSession{conn: att, out: bufio.NewReader(pr), marker: "__phpbuild_done_" + randomHex(8) + "__"}, nil
}

// run sends script and reads its output up to the marker's line.
func (s *shellSession) run(ctx context.Context, script string) (string, int, error) {
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	fail := func(err error) (string, int, error) {
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		return "", 0, err
	}
	msg := fmt.Sprintf("(\n%s\n) </dev/null 2>&1; printf '\\n%s %%d\\n' $?\n", script, s.marker)
	if _, err := io.WriteString(s.conn.Conn, msg); err != nil {
		return fail(fmt.Errorf("%w: %v", errShellGone, err))
	}
	var out strings.Builder
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			if out.Len() == 0 && line == "" {
				return fail(fmt.Errorf("%w: %v", errShellGone, err))
			}
			return fail(fmt.Errorf("the shell ended in the middle of a command: %v", err))
		}
		if rest, ok := strings.CutPrefix(line, s.marker+" "); ok {
			code, err := strconv.Atoi(strings.TrimSpace(rest))
			if err != nil {
				return fail(fmt.Errorf("the shell's answer %q", line))
			}
			return strings.TrimSuffix(out.String(), "\n"), code, nil
		}
		out.WriteString(line)
	}
}

func (s *shellSession) close() { s.conn.Close() }
