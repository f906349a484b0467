package runtimes

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanBuild(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planBuild(cat, BuildSpec{PHPMinor: "8.2", Phalcon: "5.18.1", PhalconSource: ExtensionSource{Location: "p.tgz"},
		Extensions: []ExtensionRequest{{Name: "gmp"}, {Name: "json"}, {Name: "hello", Source: ExtensionSource{Location: "h"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"php8.2-cli", "php8.2-fpm", "nginx", "php8.2-gmp", "php8.2-mysql", "php-redis"} {
		if !contains(p.packages, pkg) {
			t.Errorf("packages %v lack %s", p.packages, pkg)
		}
	}
	for _, ext := range []string{"gmp", "json", "hello", "phalcon", "mysqli", "pdo_mysql", "dom"} {
		if !contains(p.loaded, ext) {
			t.Errorf("loaded %v lack %s", p.loaded, ext)
		}
	}
	var order []string
	for _, c := range p.compiled {
		order = append(order, c.name)
	}
	if diff := cmp.Diff([]string{"hello", "phalcon"}, order); diff != "" {
		t.Errorf("compiled (-want +got):\n%s", diff)
	}
	if p.compiled[1].priority <= 20 {
		t.Errorf("phalcon priority %d must come after PDO drivers (20)", p.compiled[1].priority)
	}
	k1 := p.key("sha256:base", map[string]string{"hello": "a"}, "l")
	for _, k2 := range []string{
		p.key("sha256:other", map[string]string{"hello": "a"}, "l"),
		p.key("sha256:base", map[string]string{"hello": "b"}, "l"),
		p.key("sha256:base", map[string]string{"hello": "a"}, "other launcher"),
	} {
		if k1 == k2 {
			t.Errorf("key %s did not change with its inputs", k1)
		}
	}
	if k1 != p.key("sha256:base", map[string]string{"hello": "a"}, "l") {
		t.Error("key is not stable")
	}
}

func TestVerify(t *testing.T) {
	p := &plan{minor: Minor{Minor: "8.2"}, phalcon: "5.18.1", loaded: []string{"hello", "opcache", "phalcon"}}
	good := map[string]string{
		"php": "8.2.36", "php.rc": "0\n",
		"modules": "[PHP Modules]\nCore\nhello\nphalcon\n\n[Zend Modules]\nZend OPcache\n", "modules.rc": "0\n",
		"phalcon": "phalcon\n\nWeb framework delivered as a C-extension for PHP\nphalcon => enabled\nAuthor => Phalcon Team\nVersion => 5.18.1\n", "phalcon.rc": "0\n",
		"fpm": "NOTICE: configuration file /etc/php/8.2/fpm/php-fpm.conf test is successful\n", "fpm.rc": "0\n",
		"nginx": "nginx: configuration file /etc/nginx/nginx.conf test is successful\n", "nginx.rc": "0\n",
	}
	if err := verify(p, good); err != nil {
		t.Fatalf("verify(good) = %v", err)
	}
	if diff := cmp.Diff([]string{"core", "hello", "opcache", "phalcon"}, modules(good["modules"])); diff != "" {
		t.Errorf("modules (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"wrong minor", map[string]string{"php": "8.4.1"}, `php -v: want PHP 8.2.x, got "8.4.1"`},
		{"missing extension", map[string]string{"modules": "[PHP Modules]\nCore\nphalcon\nZend OPcache\nPHP Warning: Unable to load dynamic library 'hello.so'\n"}, "php -m does not list hello"},
		{"phalcon version", map[string]string{"phalcon": "Version => 5.18.2\n"}, `want version 5.18.1, got "5.18.2"`},
		{"fpm config", map[string]string{"fpm.rc": "78\n", "fpm": "ERROR: bad pool\n"}, "php-fpm -t: ERROR: bad pool"},
		{"nginx config", map[string]string{"nginx.rc": "1\n", "nginx": "nginx: [emerg] unknown directive\n"}, "nginx -t: nginx: [emerg] unknown directive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probes := map[string]string{}
			for k, v := range good {
				probes[k] = v
			}
			for k, v := range tc.change {
				probes[k] = v
			}
			err := verify(p, probes)
			var ve *VerifyError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("verify = %v, want a VerifyError containing %q", err, tc.want)
			}
		})
	}
}
