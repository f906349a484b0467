package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"time"
)

// Maintenance mode: the front proxy answers every request but the health
// route with 503, Retry-After and a page, until it is turned off. It is
// state of the environment, not of a release: every proxy config written
// while it is on (a release's switch included) keeps it.

// Maintenance is an environment's maintenance mode while it is on.
type Maintenance struct {
	Message string `json:"message,omitempty"`
	// Page is the page's file in the state dir's maintenance/ dir, named
	// by its digest.
	Page  string `json:"page"`
	Since string `json:"since"`
	User  string `json:"user"`
}

const (
	maintenanceFile = "maintenance.json"
	maintenanceDir  = "maintenance"
	// retryAfter is what Retry-After tells clients, in seconds.
	retryAfter = 120
)

// SetMaintenance turns env's maintenance mode on or off, with a graceful
// reload of the front proxy, and records it in the release log. It takes
// the environment's lock, so it never interleaves with a release.
func SetMaintenance(ctx context.Context, env *Environment, on bool, o Options) (*Record, error) {
	var page []byte
	if on {
		var err error
		if page, err = maintenancePage(env, o.Message); err != nil {
			return nil, err
		}
	}
	h, err := open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	start := time.Now()
	unlock, err := h.lock(ctx, o)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec := &Record{ID: newID(start), Kind: "maintenance", Result: "off", User: o.user(), Started: start.UTC().Format(time.RFC3339), Message: o.Message}
	if on {
		rec.Result = "on"
		sum := sha256.Sum256(page)
		m := Maintenance{Message: o.Message, Page: hex.EncodeToString(sum[:6]) + ".html", Since: rec.Started, User: rec.User}
		if err := h.state.write(ctx, maintenanceDir+"/"+m.Page, page, 0o644, 0); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(m)
		if err := h.state.write(ctx, maintenanceFile, b, 0o644, 0); err != nil {
			return nil, err
		}
	} else if err := h.state.remove(ctx, maintenanceFile); err != nil {
		return nil, err
	}
	if up := h.upstream(ctx); up != "" {
		if err := h.routeProxy(ctx, up); err != nil {
			return nil, err
		}
	}
	rec.Duration = time.Since(start).Round(time.Millisecond).String()
	o.logf("maintenance %s", rec.Result)
	return rec, h.appendLog(ctx, rec)
}

// maintenance is the environment's maintenance mode; nil when it is off.
func (h *host) maintenance(ctx context.Context) (*Maintenance, error) {
	b, err := h.state.read(ctx, maintenanceFile)
	if errors.Is(err, errNoState) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Maintenance
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", maintenanceFile, err)
	}
	return &m, nil
}

// maintenancePage is the environment's maintenance_page, read as the env
// files are (from the checkout, at the command), or a plain page saying
// message.
func maintenancePage(env *Environment, message string) ([]byte, error) {
	if env.MaintenancePage != "" {
		b, err := os.ReadFile(env.MaintenancePage)
		if err != nil {
			return nil, env.desc.FieldError("environments."+env.Name+".maintenance_page", "%v", err)
		}
		return b, nil
	}
	if message == "" {
		message = "We are making some changes. Please try again in a few minutes."
	}
	return []byte(fmt.Sprintf(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Down for maintenance</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#222}h1{font-size:1.6rem}</style>
</head><body><h1>Down for maintenance</h1><p>%s</p></body></html>
`, html.EscapeString(message))), nil
}

// healthPathOf is the path the front proxy keeps answering in maintenance
// mode, for load balancers' and monitors' health checks.
func healthPathOf(env *Environment) string {
	if env.Health.Path != "" {
		return env.Health.Path
	}
	return "/health"
}
