package detect

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/phpbuild/phpbuild/badinput"
)

// procfileName is the Procfile's name at the app root.
const procfileName = "Procfile"

// procfileLine is a Procfile entry as Heroku and herokuish (forego,
// procfile-util) read one: a name, a colon, a command.
var procfileLine = regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.*)$`)

// webServers are the web commands phpbuild's image stands in for: the
// heroku/php buildpack's boot scripts serve the app with nginx or Apache
// and php-fpm, as the launcher does with nginx.
var webServers = []string{"heroku-php-nginx", "heroku-php-apache2", "launcher"}

// procfileEntry is one line of a Procfile.
type procfileEntry struct {
	name, cmd string
	line      int
}

// readProcfile reads a Procfile's entries; file names it in errors and
// warnings. Lines Heroku would skip are skipped with a warning.
func readProcfile(file string, data []byte) ([]procfileEntry, []string, error) {
	var out []procfileEntry
	var warnings []string
	seen := map[string]int{}
	for i, raw := range strings.Split(string(data), "\n") {
		no := i + 1
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := procfileLine.FindStringSubmatch(line)
		if m == nil {
			warnings = append(warnings, fmt.Sprintf("%s:%d: not a `name: command` line; skipped, as Heroku skips it", file, no))
			continue
		}
		name, cmd := m[1], strings.TrimSpace(m[2])
		if cmd == "" {
			return nil, nil, &badinput.Error{File: file, Line: no, Field: name, Err: fmt.Errorf("empty command")}
		}
		if prev, ok := seen[name]; ok {
			return nil, nil, &badinput.Error{File: file, Line: no, Field: name, Err: fmt.Errorf("declared twice (first on line %d)", prev)}
		}
		seen[name] = no
		out = append(out, procfileEntry{name: name, cmd: cmd, line: no})
	}
	return out, warnings, nil
}

// checkWeb accepts a Procfile web: line that names a web server phpbuild's
// image replaces, and refuses any other: the image serves web with nginx
// and php-fpm whatever the Procfile says, and a web command that does
// something else (php -S, a Swoole server) would silently not run.
func checkWeb(file string, e procfileEntry) (string, error) {
	first := strings.Fields(e.cmd)[0]
	for _, w := range webServers {
		if path.Base(first) == w {
			return fmt.Sprintf("%s:%d: web: phpbuild serves web with its own nginx and php-fpm in place of %s (web root and settings from detection and project.toml)", file, e.line, w), nil
		}
	}
	return "", &badinput.Error{File: file, Line: e.line, Field: "web", Err: fmt.Errorf("%q is not a web server phpbuild can stand in for: its images serve web with nginx and php-fpm (the launcher); remove the web line, or keep heroku-php-nginx or heroku-php-apache2, and run other servers as a process type with another name", e.cmd)}
}
