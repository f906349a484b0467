package buildkit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phpbuild/phpbuild/badinput"
)

func TestTLSFromEnv(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("BUILDKIT_TLS_DIR", dir)
	t.Setenv("BUILDKIT_TLS_CA_CERT", "")
	t.Setenv("BUILDKIT_TLS_CERT", "")
	t.Setenv("BUILDKIT_TLS_KEY", "")
	t.Setenv("BUILDKIT_TLS_SERVER_NAME", "builder.internal")
	got := TLSFromEnv()
	want := TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), ServerName: "builder.internal"}
	if got != want {
		t.Errorf("TLSFromEnv = %+v, want %+v", got, want)
	}
	if opts, err := got.options("tcp://10.0.0.5:1234"); err != nil || len(opts) != 2 {
		t.Errorf("options: %d, %v; want the server config and the credentials", len(opts), err)
	}
	if opts, err := (TLS{}).options("unix:///run/buildkit/buildkitd.sock"); err != nil || opts != nil {
		t.Errorf("no TLS: %v, %v", opts, err)
	}
	for _, tc := range []struct {
		name string
		tls  TLS
		host string
		want string
	}{
		{"not tcp", want, "unix:///run/buildkit/buildkitd.sock", "need a tcp:// buildkitd address"},
		{"missing file", TLS{CA: filepath.Join(dir, "nope.pem")}, "tcp://h:1", "BUILDKIT_TLS_CA_CERT (or BUILDKIT_TLS_DIR)"},
		{"cert without key", TLS{Cert: filepath.Join(dir, "cert.pem")}, "tcp://h:1", "needs its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tls.options(tc.host)
			if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want bad input saying %q", err, tc.want)
			}
		})
	}
	refused := errors.New(`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: remote error: tls: certificate required"`)
	if !TLSRefused(refused) || Unavailable(refused) {
		t.Error("a TLS refusal must not read as buildkitd being unavailable (transient)")
	}
	if err := TLSError("tcp://h:1", refused); !badinput.Is(err) || !strings.Contains(err.Error(), "(tls: certificate required)") || !strings.Contains(err.Error(), "TLS connection to buildkitd at tcp://h:1") {
		t.Errorf("TLSError = %v", err)
	}
}
