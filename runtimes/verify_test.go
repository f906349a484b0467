package runtimes

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/buildkit/client/llb"
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
		if !slices.Contains(p.packages, pkg) {
			t.Errorf("packages %v lack %s", p.packages, pkg)
		}
	}
	for _, ext := range []string{"gmp", "json", "hello", "phalcon", "mysqli", "pdo_mysql", "dom"} {
		if !slices.Contains(p.loaded, ext) {
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
	k1 := p.key("sha256:base", map[string]string{"hello": "a"}, "l", "r")
	for _, k2 := range []string{
		p.key("sha256:other", map[string]string{"hello": "a"}, "l", "r"),
		p.key("sha256:base", map[string]string{"hello": "b"}, "l", "r"),
		p.key("sha256:base", map[string]string{"hello": "a"}, "other launcher", "r"),
		p.key("sha256:base", map[string]string{"hello": "a"}, "l", "another recipe"),
	} {
		if k1 == k2 {
			t.Errorf("key %s did not change with its inputs", k1)
		}
	}
	if k1 != p.key("sha256:base", map[string]string{"hello": "a"}, "l", "r") {
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

// TestRecipeIsDeterministic: the runtime key includes the LLB definition's
// digest, so it must not carry BuildKit's random per-process local ID, or
// no rebuild would ever be recognised as a no-op.
func TestRecipeIsDeterministic(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p, err := planBuild(cat, BuildSpec{PHPMinor: "8.4", Extensions: []ExtensionRequest{{Name: "hello", Source: ExtensionSource{Location: "x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	base := llb.Image("docker.io/library/debian:trixie-slim@sha256:" + strings.Repeat("1", 64))
	src := llb.Local("ext-hello")
	run := runState(base, p, llb.Local("launcher"), map[string]llb.State{"hello": compileState(base, p, p.compiled[0], src)})
	def, err := buildState(run, p).Marshal(context.Background(), localID)
	if err != nil {
		t.Fatal(err)
	}
	locals := 0
	for _, op := range def.Def {
		if bytes.Contains(op, []byte("local://")) {
			locals++
			if !bytes.Contains(op, []byte("phpbuild-runtime")) {
				t.Errorf("local source op without phpbuild's fixed unique ID: %q", op)
			}
		}
	}
	if locals != 2 {
		t.Errorf("found %d local sources, want 2 (launcher, ext-hello)", locals)
	}
}
