package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// health is `launcher health`: one GET of the health route through nginx
// and php-fpm, as Docker's HEALTHCHECK runs it. It succeeds only on the
// expected status: a redirect is a failure, never followed.
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(out, "health: %v\n", err)
		return 1
	}
	req.Header.Set("User-Agent", "phpbuild-health")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintf(out, "health: GET %s: %v\n", path, err)
		return 1
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
		return 1
	}
	return 0
}
