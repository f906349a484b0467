package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// health is `launcher health`: one GET of the health route through nginx
// and php-fpm, as Docker's HEALTHCHECK runs it. It succeeds only on the
// expected status: a redirect is a failure, never followed. With
// PHPBUILD_HEALTH_WAIT, it tries every healthPoll until one succeeds or
// the wait is over, and tells of the last try: a release waits for a new
// container with one exec, not one per try.
func health(getenv func(string) string, out io.Writer) int {
	port, err := parsePort(envOr(getenv, "PORT", "8080"))
	if err != nil {
		fmt.Fprintf(out, "health: %v\n", err)
		return 1
	}
	path := envOr(getenv, "PHPBUILD_HEALTH_PATH", "/health")
	want, err := strconv.Atoi(envOr(getenv, "PHPBUILD_HEALTH_STATUS", "200"))
	if err != nil {
		fmt.Fprintf(out, "health: PHPBUILD_HEALTH_STATUS must be a number\n")
		return 1
	}
	timeout, err := parseStopTimeout(envOr(getenv, "PHPBUILD_HEALTH_TIMEOUT", "5s"))
	if err != nil {
		fmt.Fprintf(out, "health: PHPBUILD_HEALTH_TIMEOUT must be a duration like 2s\n")
		return 1
	}
	wait, err := parseStopTimeout(envOr(getenv, "PHPBUILD_HEALTH_WAIT", "0s"))
	if err != nil {
		fmt.Fprintf(out, "health: PHPBUILD_HEALTH_WAIT must be a duration like 5s\n")
		return 1
	}
	deadline := time.Now().Add(wait)
	for {
		var b strings.Builder
		if healthCheck(port, path, want, timeout, &b) {
			io.WriteString(out, b.String())
			return 0
		}
		if !time.Now().Add(healthPoll).Before(deadline) {
			io.WriteString(out, b.String())
			return 1
		}
		time.Sleep(healthPoll)
	}
}

// healthPoll is how often a waiting health check tries.
const healthPoll = 50 * time.Millisecond

// healthCheck is one GET of path, told to out; ok is the status wanted.
func healthCheck(port int, path string, want int, timeout time.Duration, out io.Writer) bool {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(out, "health: %v\n", err)
		return false
	}
	req.Header.Set("User-Agent", "phpbuild-health")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintf(out, "health: GET %s: %v\n", path, err)
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	line := strings.Join(strings.Fields(string(body)), " ")
	fmt.Fprintf(out, "health: GET %s → %d %s\n", path, resp.StatusCode, line)
	if resp.StatusCode != want {
		if loc := resp.Header.Get("Location"); loc != "" {
			fmt.Fprintf(out, "health: redirected to %s; the health route must answer itself\n", loc)
		}
		fmt.Fprintf(out, "health: want status %d\n", want)
		return false
	}
	return true
}
