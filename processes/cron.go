package processes

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseCron reads a schedule's expression: the five standard fields, a
// descriptor (@hourly, @daily, …) or an interval (@every 30s), as
// robfig/cron reads them, the parser the launcher's scheduler runs on. An
// expression that can never fire (February 30th) is an error too.
func ParseCron(expr string) (cron.Schedule, error) {
	// robfig/cron rounds an interval under a second up to one.
	if every, ok := strings.CutPrefix(expr, "@every "); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			return nil, fmt.Errorf("an interval under one second")
		}
	}
	s, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, err
	}
	// robfig/cron looks five years ahead before it gives up.
	if s.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() && s.Next(time.Now()).IsZero() {
		return nil, errors.New("never fires: no time matches it")
	}
	return s, nil
}
