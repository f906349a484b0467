package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/internal/dotenv"
)

// TestEnvFileReadsWhatReleaseWrites: the launcher reads back every kind
// of value a release's snapshot holds.
func TestEnvFileReadsWhatReleaseWrites(t *testing.T) {
	values := map[string]string{
		"PLAIN": "prod", "EMPTY": "", "SPACES": "  padded  ", "SINGLE": "it's", "DOUBLE": `say "hi"`,
		"DOLLAR": "$HOME ${X}", "BACKSLASH": `C:\path\n`, "MULTI": "line1\nline2\r\n", "HASH": "a #b", "EQUALS": `a="b"`,
		"UNICODE": "grüße ✓", "PEM": "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
	}
	var vars []dotenv.Var
	for k, v := range values {
		vars = append(vars, dotenv.Var{Key: k, Value: v})
	}
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, dotenv.Format(vars), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(values) {
		t.Fatalf("read %d values, want %d:\n%q", len(got), len(values), got)
	}
	for _, kv := range got {
		k, v, _ := strings.Cut(kv, "=")
		if values[k] != v {
			t.Errorf("%s = %q, want %q", k, v, values[k])
		}
	}
}

// TestStandardEnvFiles: .env files as apps ship them and people mount
// them reach php-fpm's environment as `phpbuild release` reads them.
func TestStandardEnvFiles(t *testing.T) {
	// What the image gives the launcher; the file adds to it.
	base := []string{"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild"}
	tests := []struct {
		name string
		file string
		want []string // the children's environment
	}{
		{
			"laravel",
			`APP_NAME=Laravel
APP_ENV=local
APP_KEY=base64:2fl+Ktvkfl+Fuz4Qp/A75G2RTiWVA/ZoKZvp6fiiM10=
APP_DEBUG=true
APP_URL=http://localhost

LOG_CHANNEL=stack
LOG_LEVEL=debug

DB_CONNECTION=mysql
DB_HOST=127.0.0.1
DB_PORT=3306
DB_PASSWORD=

MAIL_FROM_ADDRESS="hello@example.com"
MAIL_FROM_NAME="${APP_NAME}"

VITE_APP_NAME="${APP_NAME}"
`,
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=local", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"APP_NAME=Laravel", "APP_KEY=base64:2fl+Ktvkfl+Fuz4Qp/A75G2RTiWVA/ZoKZvp6fiiM10=", "APP_DEBUG=true",
				"APP_URL=http://localhost", "LOG_CHANNEL=stack", "LOG_LEVEL=debug", "DB_CONNECTION=mysql",
				"DB_HOST=127.0.0.1", "DB_PORT=3306", "DB_PASSWORD=", "MAIL_FROM_ADDRESS=hello@example.com",
				"MAIL_FROM_NAME=Laravel", "VITE_APP_NAME=Laravel",
			},
		},
		{
			"symfony",
			`# In all environments, the following files are loaded if they exist,
# the latter taking precedence over the former:
#
#  * .env                contains default values for the environment variables needed by the app
#  * .env.local          uncommitted file with local overrides

###> symfony/framework-bundle ###
APP_ENV=prod
APP_SECRET=
###< symfony/framework-bundle ###

###> doctrine/doctrine-bundle ###
# DATABASE_URL="sqlite:///%kernel.project_dir%/var/data.db"
DATABASE_URL="postgresql://app:!ChangeMe!@127.0.0.1:5432/app?serverVersion=16&charset=utf8"
###< doctrine/doctrine-bundle ###

###> symfony/messenger ###
MESSENGER_TRANSPORT_DSN=doctrine://default?auto_setup=0
###< symfony/messenger ###
`,
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=prod", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"APP_SECRET=", "DATABASE_URL=postgresql://app:!ChangeMe!@127.0.0.1:5432/app?serverVersion=16&charset=utf8",
				"MESSENGER_TRANSPORT_DSN=doctrine://default?auto_setup=0",
			},
		},
		{
			"export, spaces and inline comments",
			"export APP_NAME=My Shop   # shown in mails\n  export\tSTORE = Main Street \nURL=https://shop.example/#top\nCOLOR=#fff\n",
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"APP_NAME=My Shop", "STORE=Main Street", "URL=https://shop.example/#top", "COLOR=",
			},
		},
		{
			"quotes",
			`SINGLE='it is # not a comment, ${HOME} and \n stay'
DOUBLE="say \"hi\" # not a comment\tthen tab" # a comment
EMPTY_SINGLE=''
EMPTY_DOUBLE=""
JSON='{"a": [1, 2]}'
`,
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				`SINGLE=it is # not a comment, ${HOME} and \n stay`, "DOUBLE=say \"hi\" # not a comment\tthen tab",
				"EMPTY_SINGLE=", "EMPTY_DOUBLE=", `JSON={"a": [1, 2]}`,
			},
		},
		{
			// As in a release: only earlier lines of the file, never the
			// container's environment (HOME) nor later lines.
			"expansion",
			"BASE=/srv/app\nCACHE=${BASE}/cache\nLOGS=\"${BASE}/logs\"\nRAW='${BASE}'\nDOLLAR=$BASE\nFROM_IMAGE=${HOME}\nEARLY=${LATE}x\nLATE=1\n",
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"BASE=/srv/app", "CACHE=/srv/app/cache", "LOGS=/srv/app/logs", "RAW=${BASE}", "DOLLAR=$BASE",
				"FROM_IMAGE=", "EARLY=x", "LATE=1",
			},
		},
		{
			"multi-line values",
			"JWT_KEY=\"-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n\"\nESCAPED=\"a\\nb\"\nLITERAL='one\n  two'\n",
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"JWT_KEY=-----BEGIN KEY-----\nMIIB\n-----END KEY-----\n", "ESCAPED=a\nb", "LITERAL=one\n  two",
			},
		},
		{
			"saved on Windows: BOM and CRLF",
			"\uFEFF# shop\r\nAPP_NAME=My Shop\r\n\r\nDB_PASSWORD='s3cr3t'\r\nKEY=\"line1\r\nline2\"\r\n",
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"APP_NAME=My Shop", "DB_PASSWORD=s3cr3t", "KEY=line1\nline2",
			},
		},
		{
			"a key set twice, empty values, the launcher's own settings",
			"A=1\nB=\nA=2\nPHPBUILD_RUN_DIR=/tmp\n",
			[]string{
				"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild",
				"B=", "A=2",
			},
		},
		{
			"only comments and blank lines",
			"# nothing set yet\n\n   \n",
			[]string{"PATH=/usr/local/bin:/usr/bin", "HOME=/app", "APP_ENV=production", "PHPBUILD_RUN_DIR=/run/phpbuild"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			extra, err := readEnvFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, withEnv(base, extra)); diff != "" {
				t.Errorf("php-fpm's environment (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMalformedEnvFile: a file the launcher cannot read as dotenv stops
// it with exit 2 and one line naming the file, line and key, before it
// touches anything; `launcher exec` too.
func TestMalformedEnvFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		file string
		want string // after the path
	}{
		{"unterminated quote", "APP_NAME=shop\nAPP_KEY=\"base64:abc\n", `:2: APP_KEY: unterminated double-quoted value: no closing " before the end of the file`},
		{"no =", "# comment\n\nDEBUG\n", ":3: expected KEY=value"},
		{"text after a quote", "A='it's'\n", ":1: A: unexpected text after the closing quote; single quotes cannot hold a ', use double quotes"},
		{"default value", "DB_HOST=${DB:-localhost}\n", `:1: DB_HOST: unsupported expansion "${DB:-localhost}": only ${NAME} is expanded; for a literal $ use single quotes`},
		{"a directory", "", ": reading: is a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			var err error
			if tc.file == "" {
				err = os.Mkdir(p, 0o755) // what docker run -v makes of a host path that does not exist
			} else {
				err = os.WriteFile(p, []byte(tc.file), 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
			getenv := func(k string) string {
				if k == "PHPBUILD_ENV_FILE" {
					return p
				}
				return ""
			}
			want := "launcher: " + p + tc.want + "\n"
			var log bytes.Buffer
			if code := launch(getenv, hostSystem, &log); code != 2 || log.String() != want {
				t.Errorf("launch = %d, %q; want 2, %q", code, log.String(), want)
			}
			log.Reset()
			if code := execWithEnv([]string{"true"}, getenv, &log); code != 2 || log.String() != want {
				t.Errorf("exec = %d, %q; want 2, %q", code, log.String(), want)
			}
		})
	}
}
