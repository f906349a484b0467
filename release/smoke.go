package release

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
)

// Smoke checks catch what a health route cannot: an app whose health route
// answers while its pages are errors (a Phalcon app with broken templates
// answers 200 with an error text). The requests run inside the container
// under test, as `launcher health` does, so they reach its own nginx
// whatever the docker host (local, ssh://) and never pass through the
// front proxy, which must not see the new version yet.

//go:embed smoke.php
var smokePHP string

// smokeScript is smoke.php as `php -r` takes it: without its open tag.
var smokeScript = strings.TrimPrefix(smokePHP, "<?php\n")

// smokeMaxResponse bounds what a check reads of a response; a longer body
// is judged on its first bytes.
const smokeMaxResponse = 2 << 20

// SmokeCheck is one page asked of a new container before it gets traffic.
type SmokeCheck struct {
	Path        string
	Status      int      // the status wanted; a redirect is not followed
	Contains    []string // texts that must be in the body
	NotContains []string // texts that must not be
	Host        string   // the Host header; "" is the container's address
}

func (c SmokeCheck) String() string { return "GET " + c.Path }

// describe is the check as `release --plan` shows it.
func (c SmokeCheck) describe() string {
	var b strings.Builder
	b.WriteString("smoke check " + c.String())
	if c.Host != "" {
		b.WriteString(" (Host: " + c.Host + ")")
	}
	fmt.Fprintf(&b, " → %d", c.Status)
	if len(c.Contains) > 0 {
		b.WriteString(", body contains " + quoteAll(c.Contains))
	}
	if len(c.NotContains) > 0 {
		b.WriteString(", body without " + quoteAll(c.NotContains))
	}
	return b.String()
}

func quoteAll(texts []string) string {
	q := make([]string, len(texts))
	for i, t := range texts {
		q[i] = strconv.Quote(t)
	}
	return strings.Join(q, ", ")
}

// SmokeError is a new version that answered a smoke check wrongly; it got
// no traffic and the previous release keeps serving.
type SmokeError struct {
	Check  SmokeCheck
	Reason string // "status 500, want 200", `body contains "Fatal error"`
	Body   string // an excerpt of the response body, where the reason shows
}

func (e *SmokeError) Error() string {
	s := fmt.Sprintf("smoke check %s: %s\n  the new version got no traffic; the previous release keeps serving", e.Check, e.Reason)
	if e.Body != "" {
		s += "\n  body: " + e.Body
	}
	return s
}

// judge returns a *SmokeError when resp fails c. The forbidden texts come
// before the wanted ones: an error text says more than a missing one.
func (c SmokeCheck) judge(resp *http.Response) error {
	defer resp.Body.Close()
	// A body cut short (by the size bound or a broken connection) is judged
	// on what came.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, smokeMaxResponse))
	fail := func(at int, format string, args ...any) error {
		return &SmokeError{Check: c, Reason: fmt.Sprintf(format, args...), Body: excerpt(body, at)}
	}
	if resp.StatusCode != c.Status {
		if loc := resp.Header.Get("Location"); loc != "" {
			return fail(0, "status %d (Location: %s), want %d", resp.StatusCode, loc, c.Status)
		}
		return fail(0, "status %d, want %d", resp.StatusCode, c.Status)
	}
	for _, t := range c.NotContains {
		if i := bytes.Index(body, []byte(t)); i >= 0 {
			return fail(i, "body contains %q", t)
		}
	}
	for _, t := range c.Contains {
		if !bytes.Contains(body, []byte(t)) {
			return fail(0, "body does not contain %q", t)
		}
	}
	return nil
}

// excerpt is up to about 300 bytes of body around offset at, on one line.
func excerpt(body []byte, at int) string {
	from, to := max(0, at-100), min(len(body), at+200)
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body[from:to]), "?")), " ")
	if from > 0 {
		s = "…" + s
	}
	if to < len(body) {
		s += "…"
	}
	return s
}

// smokeChecks asks ctr each smoke check in turn; the first failure is a
// *SmokeError.
func (h *host) smokeChecks(ctx context.Context, ctr string, o *Options) error {
	checks := h.env.Health.Smoke
	if len(checks) == 0 {
		return nil
	}
	names := make([]string, len(checks))
	for i, c := range checks {
		if err := h.smoke(ctx, ctr, c); err != nil {
			return err
		}
		names[i] = c.String()
	}
	o.logf("smoke checks passed: %s", strings.Join(names, ", "))
	return nil
}

// smoke runs smoke.php in ctr for c, within the health timeout, and
// judges the response it prints.
func (h *host) smoke(ctx context.Context, ctr string, c SmokeCheck) error {
	timeout := h.env.Health.Timeout
	cctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	var out, stderr bytes.Buffer
	env := []string{"PHPBUILD_SMOKE_PATH=" + c.Path, "PHPBUILD_SMOKE_HOST=" + c.Host,
		"PHPBUILD_SMOKE_TIMEOUT=" + strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64), "PHPBUILD_SMOKE_MAX=" + strconv.Itoa(smokeMaxResponse+64<<10)}
	code, err := h.execTo(cctx, ctr, "", env, &out, &stderr, "php", "-n", "-r", smokeScript)
	switch {
	case err != nil && ctx.Err() == nil && cctx.Err() != nil:
		code = smokeTimedOut
	case err != nil:
		return fmt.Errorf("smoke check %s: %w", c, err)
	}
	return c.verdict(code, out.Bytes(), stderr.Bytes(), timeout)
}

// smokeTimedOut is smoke.php's exit code when the answer took too long.
const smokeTimedOut = 4

// verdict judges what smoke.php printed and its exit code.
func (c SmokeCheck) verdict(code int, stdout, stderr []byte, timeout time.Duration) error {
	switch code {
	case 0:
	case smokeTimedOut:
		return &SmokeError{Check: c, Reason: fmt.Sprintf("no answer within %s", timeout)}
	default:
		msg := strings.Join(strings.Fields(string(stderr)+" "+string(stdout)), " ")
		return &SmokeError{Check: c, Reason: fmt.Sprintf("no answer: %s (exit %d)", msg, code)}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(stdout)), &http.Request{Method: http.MethodGet})
	if err != nil {
		return &SmokeError{Check: c, Reason: fmt.Sprintf("not an HTTP response (%v)", err), Body: excerpt(stdout, 0)}
	}
	return c.judge(resp)
}

// smokeCanary smoke-checks a swarm release before the service changes.
// Swarm gives a task traffic as soon as its health check passes, so there
// is no moment to check the task itself: the checks run against a one-off
// container of the new image with the new env, volumes and network, beside
// the service, as hooks run; it is removed afterwards.
func (h *host) smokeCanary(ctx context.Context, rec *Record, snapPath string, o *Options) error {
	h.removeRole(ctx, "smoke") // left by a killed release
	name := h.prefix() + "-" + rec.ID + "-smoke"
	if err := h.startApp(ctx, rec, name, snapPath, "smoke"); err != nil {
		return err
	}
	defer h.cli.ContainerRemove(context.WithoutCancel(ctx), name, container.RemoveOptions{Force: true})
	o.logf("started %s to smoke-check the release", name)
	if err := h.waitHealthy(ctx, name); err != nil {
		return err
	}
	return h.smokeChecks(ctx, name, o)
}

// removeRole removes the environment's containers of role, running or not.
func (h *host) removeRole(ctx context.Context, role string) {
	cs, err := h.roleContainers(ctx, role)
	if err != nil {
		return
	}
	for _, c := range cs {
		h.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})
	}
}
