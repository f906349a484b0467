package layers

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/badinput"
	"github.com/phpbuild/phpbuild/detect"
	"github.com/phpbuild/phpbuild/internal/apptest"
	"github.com/phpbuild/phpbuild/phalcon"
	"github.com/phpbuild/phpbuild/runtimes"
)

const (
	nginxConf = ConfigDir + "/nginx.conf.tmpl"
	fpmConf   = ConfigDir + "/php-fpm.conf.tmpl"
	fpmINI    = "/etc/php/8.4/fpm/conf.d/90-phpbuild.ini"
	cliINI    = "/etc/php/8.4/cli/conf.d/90-phpbuild.ini"
)

// newTestConfig detects the app made of files and makes its config layer
// for PHP 8.4.
func newTestConfig(t *testing.T, files map[string]string) (*Config, error) {
	t.Helper()
	app, err := detect.Detect(context.Background(), apptest.Write(t, files))
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	var volt *Volt
	if app.Project.Volt.Path != "" {
		// Only Phalcon apps have a volt layer; the config denies its dir.
		read, err := phalcon.ReadVolt(app, AppPath)
		if err != nil {
			t.Fatal(err)
		}
		volt = &Volt{Options: read.Options}
	}
	return NewConfig(app, &runtimes.Runtime{PHPMinor: "8.4"}, volt)
}

// render returns the config layer's files by path.
func render(t *testing.T, files map[string]string) (*Config, map[string]string) {
	t.Helper()
	c, err := newTestConfig(t, files)
	if err != nil {
		t.Fatalf("NewConfig: %v", err)
	}
	return c, filesOf(t, c)
}

func filesOf(t *testing.T, c *Config) map[string]string {
	t.Helper()
	fs, err := c.Files()
	if err != nil {
		t.Fatalf("Files: %v", err)
	}
	out := map[string]string{}
	for _, f := range fs {
		if f.Mode != 0o644 {
			t.Errorf("%s mode = %o, want 644", f.Path, f.Mode)
		}
		out[f.Path] = string(f.Data)
	}
	return out
}

var minimalApp = map[string]string{"public/index.php": "<?php echo 'hi';\n"}

func withProject(toml string, files map[string]string) map[string]string {
	out := map[string]string{"project.toml": toml}
	for k, v := range files {
		out[k] = v
	}
	return out
}

func TestConfigFilesAndEnv(t *testing.T) {
	c, files := render(t, minimalApp)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	want := []string{cliINI, fpmINI, HealthScript, nginxConf, fpmConf}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	fs, _ := c.Files()
	if !sort.SliceIsSorted(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path }) {
		t.Errorf("Files not sorted by path")
	}
	if files[fpmINI] != files[cliINI] {
		t.Errorf("php-fpm and CLI get different php.ini settings")
	}
	if diff := cmp.Diff([]string{"PHPBUILD_HEALTH_PATH=/health", "PHPBUILD_RUN_DIR=/run/phpbuild", "PHP_MEMORY_LIMIT=128M", "PORT=8080"}, c.Env()); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	health := files[HealthScript]
	for _, want := range []string{"'status' => 'ok'", "'php' => PHP_VERSION", "Cache-Control: no-store", "application/json", "http_response_code(200)"} {
		if !strings.Contains(health, want) {
			t.Errorf("health.php lacks %q:\n%s", want, health)
		}
	}
}

// TestConfigDefaults pins the directives each file must hold when
// project.toml says nothing.
func TestConfigDefaults(t *testing.T) {
	_, files := render(t, minimalApp)
	for path, wants := range map[string][]string{
		nginxConf: {
			"pid {{RUN_DIR}}/nginx.pid;",
			"error_log /dev/stderr;",
			"access_log /dev/stdout combined buffer=32k flush=1s;",
			"client_body_temp_path {{RUN_DIR}}/nginx/client_body;",
			"proxy_temp_path {{RUN_DIR}}/nginx/proxy;",
			"fastcgi_temp_path {{RUN_DIR}}/nginx/fastcgi;",
			"uwsgi_temp_path {{RUN_DIR}}/nginx/uwsgi;",
			"scgi_temp_path {{RUN_DIR}}/nginx/scgi;",
			"include /etc/nginx/mime.types;",
			"server_tokens off;",
			"absolute_redirect off;",
			"listen {{PORT}} default_server;",
			"root /app/public;",
			"index index.php index.html;",
			"client_max_body_size 16m;",
			"location / {\n            try_files $uri /index.php$is_args$args;\n        }",
			"try_files $fastcgi_script_name =404;",
			"fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;",
			"fastcgi_param DOCUMENT_ROOT $realpath_root;",
			"include /etc/nginx/fastcgi_params;",
			"fastcgi_pass unix:{{RUN_DIR}}/php-fpm.sock;",
			`add_header Cache-Control "public, max-age=2592000";`,
			"location = /health {\n            access_log off;",
			"fastcgi_param SCRIPT_FILENAME /etc/phpbuild/health.php;",
			"location ~ ^/fpm-(ping|status)$ {\n            allow 127.0.0.1;\n            deny all;",
			"location ~ /\\.(?!well-known/) {\n            return 404;",
			"location ~ /composer\\.(json|lock)$ {\n            return 404;",
			"location ~ \\.volt$ {\n            return 404;",
		},
		fpmConf: {
			"[global]\npid = {{RUN_DIR}}/php-fpm.pid\n",
			"error_log = /proc/self/fd/2\n",
			"log_limit = 8192\n",
			"daemonize = no\n",
			"process_control_timeout = 10s\n",
			"[app]\nlisten = {{RUN_DIR}}/php-fpm.sock\n",
			"pm = static\n",
			"pm.max_children = {{FPM_MAX_CHILDREN}}\n",
			"pm.max_requests = 10000\n",
			"clear_env = no\n",
			"catch_workers_output = yes\n",
			"decorate_workers_output = no\n",
			"ping.path = /fpm-ping\n",
			"pm.status_path = /fpm-status\n",
			"security.limit_extensions = .php\n",
		},
		fpmINI: {
			"\nexpose_php = Off\n",
			"\nvariables_order = \"EGPCS\"\n",
			"\nmemory_limit = ${PHP_MEMORY_LIMIT}\n",
			"\ndisplay_errors = Off\n",
			"\ndisplay_startup_errors = Off\n",
			"\nlog_errors = On\n",
			"\nerror_reporting = E_ALL & ~E_DEPRECATED\n",
			"\nmax_execution_time = 30\n",
			"\npost_max_size = 16M\n",
			"\nupload_max_filesize = 16M\n",
			"\nrealpath_cache_size = 4096K\n",
			"\nrealpath_cache_ttl = 600\n",
			"\nopcache.enable = 1\n",
			"\nopcache.enable_cli = 0\n",
			"\nopcache.validate_timestamps = 0\n",
			"\nopcache.memory_consumption = 128\n",
			"\nopcache.interned_strings_buffer = 16\n",
			"\nopcache.max_accelerated_files = 20000\n",
			"\nopcache.save_comments = 1\n",
			"\nsys_temp_dir = \"${PHPBUILD_RUN_DIR}/tmp\"\n",
			"\nupload_tmp_dir = \"${PHPBUILD_RUN_DIR}/tmp\"\n",
			"\nsession.save_path = \"${PHPBUILD_RUN_DIR}/sessions\"\n",
			"\ndate.timezone = UTC\n",
			"\nzend.assertions = -1\n",
		},
	} {
		for _, want := range wants {
			if !strings.Contains(files[path], want) {
				t.Errorf("%s lacks %q:\n%s", path, want, files[path])
			}
		}
	}
	for path, unwanted := range map[string][]string{
		nginxConf: {`(?m)^\s*user\s`, `try_files[^;]*\$uri/`, `set_real_ip_from`, `real_ip_header`, `(?i)x_forwarded_proto`, `HTTPS`, `location \^~`},
		fpmConf:   {`(?m)^user\s*=`, `(?m)^group\s*=`, `request_terminate_timeout`},
	} {
		for _, u := range unwanted {
			if regexp.MustCompile(u).MatchString(files[path]) {
				t.Errorf("%s matches %q:\n%s", path, u, files[path])
			}
		}
	}
	assertEachKeyOnce(t, files[fpmINI], ";")
	assertEachKeyOnce(t, files[fpmConf], ";")
	assertRegexBeforePHP(t, files[nginxConf])
}

// assertEachKeyOnce fails when a "key = value" file sets a key twice.
func assertEachKeyOnce(t *testing.T, text, comment string) {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		k, _, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, comment) {
			continue
		}
		k = strings.TrimSpace(k)
		if seen[k] {
			t.Errorf("%s set twice:\n%s", k, text)
		}
		seen[k] = true
	}
}

// assertRegexBeforePHP: nginx tries regex locations in order, so every
// denial must come before the one that runs PHP.
func assertRegexBeforePHP(t *testing.T, conf string) {
	t.Helper()
	php := strings.Index(conf, `location ~* \.php$`)
	if php < 0 {
		t.Fatalf("no PHP location:\n%s", conf)
	}
	for _, deny := range []string{`location ~ /\.(?!well-known/)`, `location ~ /composer\.`, `location ~ \.volt$`} {
		if i := strings.Index(conf, deny); i < 0 || i > php {
			t.Errorf("%q is missing or after the PHP location:\n%s", deny, conf)
		}
	}
}

func TestConfigOverrides(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		want    map[string][]string // path -> substrings
		notWant map[string][]string
		env     []string
	}{
		{
			name:  "static max age",
			files: withProject("[nginx]\nstatic_max_age = \"12h\"\n", minimalApp),
			want:  map[string][]string{nginxConf: {`"public, max-age=43200"`}},
		},
		{
			name:  "real ip from proxies",
			files: withProject("[nginx]\nreal_ip_from = [\"10.0.0.0/8\", \"192.168.1.1\", \"fd00::/8\"]\n", minimalApp),
			want: map[string][]string{nginxConf: {
				"set_real_ip_from 10.0.0.0/8;\n", "set_real_ip_from 192.168.1.1;\n", "set_real_ip_from fd00::/8;\n",
				"real_ip_header X-Forwarded-For;\n", "real_ip_recursive on;\n",
				"geo $realip_remote_addr $phpbuild_trusted_proxy {\n        default 0;\n        10.0.0.0/8 1;\n        192.168.1.1 1;\n        fd00::/8 1;\n    }",
				`map "$phpbuild_trusted_proxy:$http_x_forwarded_proto" $phpbuild_https {`,
				`"1:https" on;`,
				"fastcgi_param HTTPS $phpbuild_https if_not_empty;",
			}},
		},
		{
			name:    "health path set by the app",
			files:   withProject("[build]\nhealth_path = \"/up\"\n", minimalApp),
			notWant: map[string][]string{nginxConf: {"location = /up", "location = /health", "health.php"}},
		},
		{
			name: "writable dirs and volt path",
			files: withProject("[build]\nwritable = [\"public/uploads\", \"var\"]\n[volt]\npath = \"public/cache/volt/\"\n",
				map[string]string{"public/index.php": "<?php\n", "var/": "", "public/uploads/": ""}),
			want: map[string][]string{nginxConf: {
				"location ^~ /cache/volt/ {\n            return 404;\n        }",
				"location ^~ /uploads/ {\n            return 404;\n        }",
			}},
			notWant: map[string][]string{nginxConf: {"/var/", "/public/"}},
		},
		{
			name:  "web root is the app",
			files: map[string]string{"index.php": "<?php\n", "var/cache/.gitkeep": "", "storage/.gitkeep": "", "composer.json": "{}"},
			want: map[string][]string{nginxConf: {
				"root /app;\n",
				"location ^~ /storage/ {\n            return 404;",
				"location ^~ /var/ {\n            return 404;",
				"location ^~ /vendor/ {\n            return 404;",
				"location ~ /composer\\.(json|lock)$ {\n            return 404;",
			}},
		},
		{
			name:  "symfony front controller",
			files: map[string]string{"web/app.php": "<?php\n", "composer.json": "{}"},
			want:  map[string][]string{nginxConf: {"root /app/web;\n", "try_files $uri /app.php$is_args$args;"}},
		},
		{
			name:  "php.ini overrides replace defaults and extras follow, sorted",
			files: withProject("[php.ini]\nopcache.memory_consumption = 256\ndisplay_errors = true\nzz.last = \"z\"\naa.first = 1\n", minimalApp),
			want: map[string][]string{fpmINI: {
				"\nopcache.memory_consumption = 256\n",
				"\ndisplay_errors = On\n",
				"\nzend.assertions = -1\naa.first = 1\nzz.last = z\n",
			}},
			notWant: map[string][]string{fpmINI: {"opcache.memory_consumption = 128", "display_errors = Off"}},
		},
		{
			name:    "memory_limit goes to the env",
			files:   withProject("[php.ini]\nmemory_limit = \"256M\"\n", minimalApp),
			want:    map[string][]string{fpmINI: {"\nmemory_limit = ${PHP_MEMORY_LIMIT}\n"}},
			notWant: map[string][]string{fpmINI: {"256M"}},
			env:     []string{"PHPBUILD_HEALTH_PATH=/health", "PHPBUILD_RUN_DIR=/run/phpbuild", "PHP_MEMORY_LIMIT=256M", "PORT=8080"},
		},
		{
			name:  "body size reaches php.ini",
			files: withProject("[nginx]\nclient_max_body_size = \"64m\"\n", minimalApp),
			want: map[string][]string{
				nginxConf: {"client_max_body_size 64m;"},
				fpmINI:    {"\npost_max_size = 64M\n", "\nupload_max_filesize = 64M\n"},
			},
		},
		{
			name:  "explicit upload size wins",
			files: withProject("[nginx]\nclient_max_body_size = \"64m\"\n[php.ini]\nupload_max_filesize = \"8M\"\n", minimalApp),
			want:  map[string][]string{fpmINI: {"\npost_max_size = 64M\n", "\nupload_max_filesize = 8M\n"}},
		},
		{
			name:  "php-fpm settings",
			files: withProject("[php.fpm]\nmax_children = 12\nprocess_control_timeout = \"20s\"\nrequest_terminate_timeout = \"60s\"\n", minimalApp),
			want: map[string][]string{fpmConf: {
				"\nprocess_control_timeout = 20s\n",
				"\nrequest_terminate_timeout = 60s\n",
				"\npm.max_children = {{FPM_MAX_CHILDREN}}\n",
			}},
			notWant: map[string][]string{fpmConf: {"10s", "= 12"}},
			env:     []string{"PHPBUILD_HEALTH_PATH=/health", "PHPBUILD_RUN_DIR=/run/phpbuild", "PHP_FPM_MAX_CHILDREN=12", "PHP_MEMORY_LIMIT=128M", "PORT=8080"},
		},
		{
			name:  "workers' output not caught: PHP's messages go through nginx",
			files: withProject("[php.fpm]\ncatch_workers_output = false\n", minimalApp),
			want: map[string][]string{
				fpmConf: {"\ncatch_workers_output = no\n"},
				fpmINI:  {"\nfastcgi.logging = 1\n"},
			},
			notWant: map[string][]string{fpmConf: {"catch_workers_output = yes"}, fpmINI: {"fastcgi.logging = 0"}},
		},
		{
			name:    "workers' output not caught, FastCGI logging set by the app",
			files:   withProject("[php.fpm]\ncatch_workers_output = false\n[php.ini]\nfastcgi.logging = 0\n", minimalApp),
			want:    map[string][]string{fpmConf: {"\ncatch_workers_output = no\n"}, fpmINI: {"\nfastcgi.logging = 0\n"}},
			notWant: map[string][]string{fpmINI: {"fastcgi.logging = 1"}},
		},
		{
			name:    "workers' output caught, as by default",
			files:   withProject("[php.fpm]\ncatch_workers_output = true\n", minimalApp),
			want:    map[string][]string{fpmConf: {"\ncatch_workers_output = yes\n"}, fpmINI: {"\nfastcgi.logging = 0\n"}},
			notWant: map[string][]string{fpmConf: {"catch_workers_output = no"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, files := render(t, tc.files)
			for path, wants := range tc.want {
				for _, w := range wants {
					if !strings.Contains(files[path], w) {
						t.Errorf("%s lacks %q:\n%s", path, w, files[path])
					}
				}
			}
			for path, unwanted := range tc.notWant {
				for _, u := range unwanted {
					if strings.Contains(files[path], u) {
						t.Errorf("%s holds %q:\n%s", path, u, files[path])
					}
				}
			}
			if tc.env != nil {
				if diff := cmp.Diff(tc.env, c.Env()); diff != "" {
					t.Errorf("Env (-want +got):\n%s", diff)
				}
			}
			assertEachKeyOnce(t, files[fpmINI], ";")
			assertEachKeyOnce(t, files[fpmConf], ";")
			assertRegexBeforePHP(t, files[nginxConf])
			assertOnlyLauncherPlaceholders(t, files)
		})
	}
}

var placeholderRE = regexp.MustCompile(`\{\{[^}]*\}\}`)

// assertOnlyLauncherPlaceholders: the launcher refuses to start on any
// {{...}} but its three.
func assertOnlyLauncherPlaceholders(t *testing.T, files map[string]string) {
	t.Helper()
	for _, path := range []string{nginxConf, fpmConf} {
		text := files[path]
		for _, p := range placeholderRE.FindAllString(text, -1) {
			if p != "{{PORT}}" && p != "{{FPM_MAX_CHILDREN}}" && p != "{{RUN_DIR}}" {
				t.Errorf("%s holds the placeholder %s", path, p)
			}
		}
		if strings.Count(text, "{{") != len(placeholderRE.FindAllString(text, -1)) {
			t.Errorf("%s holds an unclosed {{", path)
		}
		if strings.Contains(text, "[[") || strings.Contains(text, "]]") {
			t.Errorf("%s holds unrendered template syntax", path)
		}
	}
	for _, p := range []string{"{{PORT}}", "{{RUN_DIR}}"} {
		if !strings.Contains(files[nginxConf], p) {
			t.Errorf("nginx config lost %s", p)
		}
	}
	for _, p := range []string{"{{FPM_MAX_CHILDREN}}", "{{RUN_DIR}}"} {
		if !strings.Contains(files[fpmConf], p) {
			t.Errorf("php-fpm config lost %s", p)
		}
	}
}

func TestConfigPlaceholdersSurvive(t *testing.T) {
	_, files := render(t, withProject("[nginx]\nreal_ip_from = [\"10.0.0.1\"]\n", minimalApp))
	assertOnlyLauncherPlaceholders(t, files)
}

func TestConfigBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, project, field string
	}{
		{"static max age", "[nginx]\nstatic_max_age = \"soon\"\n", "nginx.static_max_age"},
		{"static max age units out of order", "[nginx]\nstatic_max_age = \"1d 1y\"\n", "nginx.static_max_age"},
		{"body size", "[nginx]\nclient_max_body_size = \"16 MB\"\n", "nginx.client_max_body_size"},
		{"real ip", "[nginx]\nreal_ip_from = [\"10.0.0.0/8;\"]\n", "nginx.real_ip_from"},
		{"real ip with a zone", "[nginx]\nreal_ip_from = [\"fe80::1%eth0\"]\n", "nginx.real_ip_from"},
		{"ini newline", "[php.ini]\ndate.timezone = \"UTC\\nauto_prepend_file = /tmp/x.php\"\n", "php.ini.date.timezone"},
		{"ini memory limit", "[php.ini]\nmemory_limit = \"lots\"\n", "php.ini.memory_limit"},
		{"fpm time", "[php.fpm]\nrequest_terminate_timeout = \"1 minute\"\n", "php.fpm.request_terminate_timeout"},
		{"writable dir nginx cannot hold", "[build]\nwritable = [\"public/up loads\"]\n", "build.writable"},
		{"volt path nginx cannot hold", "[volt]\npath = \"cache/{x}\"\n", "volt.path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := withProject(tc.project, minimalApp)
			files["public/up loads/"] = ""
			_, err := newTestConfig(t, files)
			var be *badinput.Error
			if !errors.As(err, &be) {
				t.Fatalf("NewConfig error = %v, want a *badinput.Error", err)
			}
			if be.Field != tc.field || !strings.HasSuffix(be.File, "project.toml") || be.Line == 0 {
				t.Errorf("error = %q (field %q, line %d), want field %q at a line of project.toml", be, be.Field, be.Line, tc.field)
			}
		})
	}
}

// TestConfigKeyFollowsOutput: the key is over the settings alone, so a
// change to what is rendered must show in the settings, and equal settings
// must render equal bytes.
func TestConfigKeyFollowsOutput(t *testing.T) {
	base, err := newTestConfig(t, minimalApp)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	baseKey, _ := base.Key(ctx)
	baseFiles, _ := base.Files()
	for i := 0; i < 5; i++ { // maps iterate in a new order each time
		again, err := newTestConfig(t, minimalApp)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := again.Key(ctx)
		files, _ := again.Files()
		if key != baseKey || !cmp.Equal(baseFiles, files) {
			t.Fatalf("same settings, different key or bytes")
		}
	}
	richSettings := func() ConfigSettings {
		s := base.Settings
		s.INI = map[string]string{"opcache.jit": "tracing", "apc.shm_size": "64M", "zz": "1", "aa": "2"}
		s.FPM = map[string]string{"request_terminate_timeout": "60s", "rlimit_files": "4096", "pm.max_spare_servers": "3"}
		s.Nginx = map[string]string{"static_max_age": "1h"}
		s.Denied = []string{"public/b", "public/a"}
		return s
	}
	rich := &Config{Settings: richSettings()}
	richFiles, err := rich.Files()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		again, _ := (&Config{Settings: richSettings()}).Files()
		if !cmp.Equal(richFiles, again) {
			t.Fatalf("same settings rendered different bytes")
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*ConfigSettings)
	}{
		{"php minor", func(s *ConfigSettings) { s.PHPMinor = "8.2" }},
		{"web root", func(s *ConfigSettings) { s.WebRoot = "web" }},
		{"front controller", func(s *ConfigSettings) { s.FrontController = "app.php" }},
		{"health script", func(s *ConfigSettings) { s.HealthScript = "" }},
		{"ini", func(s *ConfigSettings) { s.INI = map[string]string{"date.timezone": "Europe/Berlin"} }},
		{"fpm", func(s *ConfigSettings) { s.FPM = map[string]string{"pm.max_requests": "500"} }},
		{"nginx", func(s *ConfigSettings) { s.Nginx = map[string]string{"client_max_body_size": "1g"} }},
		{"real ip", func(s *ConfigSettings) { s.RealIPFrom = []string{"10.0.0.1"} }},
		{"denied", func(s *ConfigSettings) { s.Denied = []string{"public/uploads"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := &Config{Settings: base.Settings}
			tc.edit(&changed.Settings)
			key, _ := changed.Key(ctx)
			files, err := changed.Files()
			if err != nil {
				t.Fatal(err)
			}
			if key == baseKey {
				t.Errorf("key unchanged")
			}
			if cmp.Equal(baseFiles, files) {
				t.Errorf("files unchanged")
			}
		})
	}
}

func TestConfigRefusesSettingsItCannotRender(t *testing.T) {
	base, err := newTestConfig(t, minimalApp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ConfigSettings)
		want string
	}{
		{"other recipe", func(s *ConfigSettings) { s.Recipe = "sha256:old" }, "other templates"},
		{"no php minor", func(s *ConfigSettings) { s.PHPMinor = "" }, "PHP minor"},
		{"fpm key", func(s *ConfigSettings) { s.FPM = map[string]string{"Listen Here": "x"} }, "not a php-fpm directive"},
		{"fixed fpm key", func(s *ConfigSettings) { s.FPM = map[string]string{"listen": "/tmp/s"} }, "fixed"},
		{"fpm placeholder", func(s *ConfigSettings) { s.FPM = map[string]string{"pm.max_requests": "{{MAX}}"} }, "{{"},
		{"ini newline", func(s *ConfigSettings) { s.INI = map[string]string{"x": "1\ny=2"} }, "one line"},
		{"ini key", func(s *ConfigSettings) { s.INI = map[string]string{"a=b": "1"} }, "not a php.ini name"},
		{"denied dir", func(s *ConfigSettings) { s.Denied = []string{"public/a;b"} }, "denied dir"},
		{"nginx key", func(s *ConfigSettings) { s.Nginx = map[string]string{"gzip": "off"} }, "unknown nginx setting"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Settings: base.Settings}
			tc.edit(&c.Settings)
			_, err := c.Files()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Files() error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestEnvWithoutSettings(t *testing.T) {
	// The image assembly asks a zero Config for its env when an app has no
	// config layer.
	want := []string{"PHPBUILD_RUN_DIR=/run/phpbuild", "PHP_MEMORY_LIMIT=128M", "PORT=8080"}
	if diff := cmp.Diff(want, (&Config{}).Env()); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
}

func TestParseNginxTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // -1: an error
	}{
		{"30d", 30 * 86400},
		{"12h", 43200},
		{"3600", 3600},
		{"1y", 365 * 86400},
		{"1M", 30 * 86400},
		{"2w", 14 * 86400},
		{"90s", 90},
		{"5m", 300},
		{"0", 0},
		{"1y 6M", (365 + 180) * 86400},
		{"1h30m", 5400},
		{"1h 30m 15", 5415},
		{"", -1},
		{"d", -1},
		{"30 d", -1},
		{"1m 1h", -1},
		{"1h 1h", -1},
		{"15 1h", -1},
		{"1.5h", -1},
		{"-1", -1},
		{"30D", -1},
		{"1ms", -1},
		{"100y", -1},
		{"99999999999999999999", -1},
	} {
		got, err := parseNginxTime(tc.in)
		if tc.want < 0 {
			if err == nil {
				t.Errorf("parseNginxTime(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseNginxTime(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestWebDenied(t *testing.T) {
	for _, tc := range []struct {
		webRoot string
		dirs    []string
		want    []string
	}{
		{"public", []string{"var", "public/uploads", "public/a/b", "public", "publications"}, []string{"/a/b/", "/uploads/"}},
		{".", []string{"var", "storage/app", "var"}, []string{"/storage/app/", "/var/"}},
		{"app/public", []string{"app", "app/public/files"}, []string{"/files/"}},
	} {
		got, err := webDenied(tc.webRoot, tc.dirs)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("webDenied(%q, %q) (-want +got):\n%s", tc.webRoot, tc.dirs, diff)
		}
	}
}

func TestRecipeCoversTemplates(t *testing.T) {
	// Each embedded template is an input of the recipe; a template that
	// renders nothing into any file would be a forgotten one.
	entries, err := templateFS.ReadDir("templates")
	if err != nil {
		t.Fatal(err)
	}
	outputs := configOutputs("8.4")
	for _, e := range entries {
		if _, ok := outputs[e.Name()]; !ok {
			t.Errorf("template %s is rendered to no file", e.Name())
		}
	}
	if len(entries) != len(outputs) {
		t.Errorf("%d templates, %d outputs", len(entries), len(outputs))
	}
	if !bytes.HasPrefix([]byte(configRecipe()), []byte("sha256:")) {
		t.Errorf("recipe = %q", configRecipe())
	}
}

func TestWritableTree(t *testing.T) {
	files := []string{"storage/framework/cache/.gitignore", "storage/logs/.gitignore", "storage/app/public/x/.keep", "src/storage/a.php", "var/.gitkeep", "storagex/y"}
	got := writableTree([]string{"storage", "var", "cache"}, files)
	want := []string{"cache", "storage", "storage/app", "storage/app/public", "storage/app/public/x", "storage/framework", "storage/framework/cache", "storage/logs", "var"}
	if !slices.Equal(got, want) {
		t.Errorf("writableTree = %v\nwant %v", got, want)
	}
}
