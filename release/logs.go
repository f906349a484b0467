package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/phpbuild/phpbuild/badinput"
)

// LogOptions select what Logs shows.
type LogOptions struct {
	// Process is "web", "schedule" or a process type; "" is all of them.
	Process string
	// Follow streams new output until ctx ends, or until every container
	// followed has gone.
	Follow bool
	// Since leaves out what came before; zero leaves nothing out.
	Since time.Time
	// Tail is how many of each container's last lines to show; negative
	// shows them all.
	Tail int
}

// Logs writes the output of the current release's containers (on Swarm:
// its tasks), stdout and stderr, to w, line by line. With several, each
// line starts with a short name: web, worker.2, schedule. Without Follow
// the containers come one after the other; with it, their lines mix as
// they come, never within a line.
func Logs(ctx context.Context, env *Environment, o LogOptions, w io.Writer) error {
	h, err := open(ctx, env)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.showLogs(ctx, o, w)
}

func (h *host) showLogs(ctx context.Context, o LogOptions, w io.Writer) error {
	rec, err := h.requireCurrent(ctx)
	if err != nil {
		return err
	}
	all, err := h.instances(ctx)
	if err != nil {
		return err
	}
	var ins []instance
	var names []string
	for _, in := range all {
		if in.release != rec.ID {
			continue
		}
		if len(names) == 0 || names[len(names)-1] != in.process {
			names = append(names, in.process)
		}
		if o.Process == "" || o.Process == in.process {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		if o.Process != "" {
			return &badinput.Error{Field: "--process", Err: fmt.Errorf("release %s runs no %q; it runs %s", rec.ID, o.Process, orNothing(names))}
		}
		return fmt.Errorf("no container of release %s is on the docker host", rec.ID)
	}

	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: o.Follow, Tail: "all"}
	if o.Tail >= 0 {
		opts.Tail = fmt.Sprint(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = o.Since.UTC().Format(time.RFC3339Nano)
	}
	prefixes := logPrefixes(ins)
	var mu sync.Mutex
	stream := func(in instance, prefix string) error {
		rc, err := in.logs(ctx, opts)
		if err != nil {
			return transient(fmt.Errorf("reading the logs of %s: %w", in.name, err))
		}
		defer rc.Close()
		stdout, stderr := &lineWriter{mu: &mu, w: w, prefix: prefix}, &lineWriter{mu: &mu, w: w, prefix: prefix}
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
		// A line cut short by the end of the stream is still shown.
		stdout.flush()
		stderr.flush()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return transient(fmt.Errorf("reading the logs of %s: %w", in.name, err))
		}
		return nil
	}
	if !o.Follow {
		for i, in := range ins {
			if err := stream(in, prefixes[i]); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() { errs[i] = stream(in, prefixes[i]) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

// logPrefixes are what starts each instance's lines: nothing for one,
// else its process, and its replica where the process has several,
// padded to one width.
func logPrefixes(ins []instance) []string {
	out := make([]string, len(ins))
	if len(ins) < 2 {
		return out
	}
	count := map[string]int{}
	for _, in := range ins {
		count[in.process]++
	}
	width := 0
	for i, in := range ins {
		out[i] = in.process
		if count[in.process] > 1 {
			n := in.replica
			if n == 0 {
				n = i + 1
			}
			out[i] = fmt.Sprintf("%s.%d", in.process, n)
		}
		width = max(width, len(out[i]))
	}
	for i := range out {
		out[i] = fmt.Sprintf("%-*s | ", width, out[i])
	}
	return out
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	return strings.Join(names, ", ")
}

// lineWriter writes whole lines to w, each after prefix, holding mu: the
// lines of several containers never mix within a line.
type lineWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	end := bytes.LastIndexByte(l.buf, '\n')
	if end < 0 {
		return len(p), nil
	}
	var out bytes.Buffer
	for line := range bytes.SplitAfterSeq(l.buf[:end+1], []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		out.WriteString(l.prefix)
		out.Write(line)
	}
	l.buf = append(l.buf[:0], l.buf[end+1:]...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes what is left of a last line without its newline.
func (l *lineWriter) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.Write([]byte("\n"))
	return err
}
