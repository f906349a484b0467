package runtimes

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/phpbuild/phpbuild/attest"
)

// TestRuntimeFacts reads what contentsScript wrote: opcache named as
// php -m names it, compiled extensions with their source's sha256, and a
// local source path left out (it names the builder's machine).
func TestRuntimeFacts(t *testing.T) {
	files := map[string]string{
		"dpkg": "nginx\t1.26.3-3\tamd64\tnginx\t1.26.3-3\n",
		"os":   "debian-13\n",
		"php":  "8.4.28",
		"ext":  "core\t8.4.28\nphalcon\t5.18.1\nredis\t6.2.0\nzend opcache\t8.4.28\nzend opcache\t8.4.28\n",
	}
	p := &plan{compiled: []compiledExt{
		{name: "phalcon", source: ExtensionSource{Location: "/home/ci/phalcon-5.18.1.tgz"}},
		{name: "redis", source: ExtensionSource{Location: "https://pecl.example/get/redis-6.2.0.tgz", SHA256: "cc"}},
	}}
	got, err := runtimeFacts(files, p, map[string]string{"phalcon": "aa", "redis": "cc"})
	if err != nil {
		t.Fatal(err)
	}
	want := attest.Runtime{Distro: "debian-13", PHP: "8.4.28",
		Packages: []attest.DebPackage{{Name: "nginx", Version: "1.26.3-3", Arch: "amd64", Source: "nginx", SourceVersion: "1.26.3-3"}},
		Extensions: []attest.Extension{
			{Name: "core", Version: "8.4.28"},
			{Name: "opcache", Version: "8.4.28"},
			{Name: "phalcon", Version: "5.18.1", SHA256: "aa"},
			{Name: "redis", Version: "6.2.0", Location: "https://pecl.example/get/redis-6.2.0.tgz", SHA256: "cc"},
		}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := runtimeFacts(map[string]string{"dpkg": "broken\n"}, p, nil); err == nil {
		t.Error("a broken dpkg list gave no error")
	}
}
