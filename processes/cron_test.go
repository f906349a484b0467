package processes_test

import (
	"testing"

	"github.com/phpbuild/phpbuild/processes"
)

func TestParseCron(t *testing.T) {
	for expr, ok := range map[string]bool{
		"*/5 * * * *": true, "@hourly": true, "@every 2s": true, "0 9 * * MON-FRI": true,
		"@every 500ms": false, "* * * *": false, "0 0 31 4 *": false, "": false,
	} {
		_, err := processes.ParseCron(expr)
		if (err == nil) != ok {
			t.Errorf("ParseCron(%q) = %v, want ok %v", expr, err, ok)
		}
	}
}
