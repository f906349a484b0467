package main

import "testing"

// TestUIListen: beyond loopback the page needs a token; a short token or
// an address that is not HOST:PORT is bad input too. Each exits 2 with
// one line, before anything listens.
func TestUIListen(t *testing.T) {
	dir := writeApp(t, map[string]string{"index.php": index})
	for _, tc := range []struct {
		name, token, listen, want string
	}{
		{"no token beyond loopback", "", "0.0.0.0:0", "phpbuild: --listen: listening on 0.0.0.0:0, beyond this machine, needs authentication: set PHPBUILD_UI_TOKEN"},
		{"a short token", "short", "0.0.0.0:0", "phpbuild: PHPBUILD_UI_TOKEN: a token must have at least 16 characters"},
		{"not HOST:PORT", "", "8090", `phpbuild: --listen: "8090" is not HOST:PORT`},
		{"no such dir", "", "127.0.0.1:0", "phpbuild: " + dir + "/nope: not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PHPBUILD_UI_TOKEN", tc.token)
			d := dir
			if tc.name == "no such dir" {
				d = dir + "/nope"
			}
			stdout, stderr, code := runMain(t, "ui", d, "--listen", tc.listen)
			checkBadInput(t, stdout, stderr, code, []string{tc.want}, false)
		})
	}
}
