package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/phpbuild/phpbuild/internal/envlist"
)

// readEnvFile reads the env snapshot phpbuild release writes (one
// KEY='literal' or KEY="value" per line, with \\ \" \$ \n \r \t
// escapes in double quotes; see release.FormatEnv), so the children
// get the release's configuration in their environment without it
// appearing in the container's config. A missing file is no error: the
// image runs without a release too.
func readEnvFile(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	var env []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, quoted, ok := strings.Cut(line, "=")
		if ok && key != "" && len(quoted) >= 2 && quoted[0] == '\'' && quoted[len(quoted)-1] == '\'' {
			env = append(env, key+"="+quoted[1:len(quoted)-1]) // literal
			continue
		}
		if !ok || key == "" || len(quoted) < 2 || quoted[0] != '"' || quoted[len(quoted)-1] != '"' {
			return nil, fmt.Errorf("%s:%d: want KEY='value' or KEY=\"value\"", path, n)
		}
		var v strings.Builder
		s := quoted[1 : len(quoted)-1]
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' || i == len(s)-1 {
				v.WriteByte(s[i])
				continue
			}
			i++
			switch s[i] {
			case 'n':
				v.WriteByte('\n')
			case 'r':
				v.WriteByte('\r')
			case 't':
				v.WriteByte('\t')
			default:
				v.WriteByte(s[i])
			}
		}
		env = append(env, key+"="+v.String())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return env, nil
}

// withEnv sets each KEY=value of over in base; the launcher's own
// settings (PHPBUILD_*) stay as the image set them.
func withEnv(base, over []string) []string {
	return envlist.Set(base, over, func(k string) bool { return strings.HasPrefix(k, "PHPBUILD_") })
}
