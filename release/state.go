package release

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
)

// stateStore is an environment's state dir on the docker host: env
// snapshots, the release log, the lock, backups and the front proxy's
// config. Paths are relative to it, slash-separated.
type stateStore interface {
	// read returns a file's content; errNoState when there is none.
	read(ctx context.Context, rel string) ([]byte, error)
	// write puts a file in place, owned by uid (and its group) with mode.
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
	// hostPath is where rel is on the docker host, to mount it.
	hostPath(rel string) string
}

var errNoState = errors.New("no such state file")

// proxyState is the state dir StateRoot/APP/ENV, reached only through the
// docker API: the front proxy container mounts it at /state, so an ssh://
// host works as the local socket does.
type proxyState struct{ h *host }

var _ stateStore = (*proxyState)(nil)

func (s *proxyState) hostPath(rel string) string {
	return path.Join(StateRoot, s.h.env.App, s.h.env.Name, rel)
}

// sh runs a shell command in the proxy container, as root.
func (s *proxyState) sh(ctx context.Context, script string) (string, int, error) {
	return s.h.exec(ctx, s.h.proxyName(), nil, "sh", "-c", script)
}

// write copies a one-file tar into the proxy container.
func (s *proxyState) write(ctx context.Context, rel string, data []byte, mode int64, uid int) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: path.Base(rel), Mode: mode, Size: int64(len(data)), Uid: uid, Gid: uid, ModTime: time.Now()}); err != nil {
		return err
	}
	tw.Write(data)
	tw.Close()
	dir := path.Join("/state", path.Dir(rel))
	if _, _, err := s.h.exec(ctx, s.h.proxyName(), nil, "mkdir", "-p", dir); err != nil {
		return err
	}
	if err := s.h.cli.CopyToContainer(ctx, s.h.proxyName(), dir, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("writing %s on the docker host: %w", rel, err)
	}
	return nil
}

func (s *proxyState) read(ctx context.Context, rel string) ([]byte, error) {
	rc, _, err := s.h.cli.CopyFromContainer(ctx, s.h.proxyName(), path.Join("/state", rel))
	if err != nil {
		if cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "No such") {
			return nil, errNoState
		}
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return nil, fmt.Errorf("reading %s on the docker host: %w", rel, err)
	}
	return io.ReadAll(tr)
}

// create writes rel.new, then links it to rel: ln without -f fails when
// rel exists.
func (s *proxyState) create(ctx context.Context, rel string, data []byte) (bool, error) {
	if err := s.write(ctx, rel+".new", data, 0o644, 0); err != nil {
		return false, err
	}
	p := path.Join("/state", rel)
	_, code, err := s.sh(ctx, "ln "+p+".new "+p+" && rm -f "+p+".new")
	return err == nil && code == 0, err
}

// append writes data beside rel, then appends it with cat: the daemon's
// copy API only replaces files.
func (s *proxyState) append(ctx context.Context, rel string, data []byte) error {
	tmp := rel + "." + newID(time.Now())
	if err := s.write(ctx, tmp, data, 0o600, 0); err != nil {
		return err
	}
	out, code, err := s.sh(ctx, "cat /state/"+tmp+" >> /state/"+rel+" && rm -f /state/"+tmp)
	if err == nil && code != 0 {
		err = errors.New(out)
	}
	return err
}

func (s *proxyState) remove(ctx context.Context, rel string) error {
	_, _, err := s.h.exec(ctx, s.h.proxyName(), nil, "rm", "-f", path.Join("/state", rel))
	return err
}

func (s *proxyState) mkdir(ctx context.Context, rel string, uid int) error {
	p := path.Join("/state", rel)
	out, code, err := s.sh(ctx, fmt.Sprintf("mkdir -p %s && chown %d:%d %s", p, uid, uid, p))
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, strings.TrimSpace(out))
	}
	return err
}
