package buildkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/client"
	// docker-container://NAME: buildctl dial-stdio through docker exec.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"

	"github.com/phpbuild/phpbuild/badinput"
)

// TLS is the client side of mutual TLS with a remote buildkitd, as
// buildctl's --tlscacert, --tlscert, --tlskey, --tlsservername and
// --tlsdir give it, read from BUILDKIT_TLS_CA_CERT, BUILDKIT_TLS_CERT,
// BUILDKIT_TLS_KEY, BUILDKIT_TLS_SERVER_NAME and BUILDKIT_TLS_DIR (a dir
// holding ca.pem, cert.pem and key.pem; the other variables override its
// files).
type TLS struct {
	CA, Cert, Key, ServerName string
}

// Set reports whether any TLS setting was given.
func (t TLS) Set() bool { return t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" }

// TLSFromEnv reads TLS from the environment.
func TLSFromEnv() TLS {
	var t TLS
	if dir := os.Getenv("BUILDKIT_TLS_DIR"); dir != "" {
		t = TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	}
	for _, v := range []struct {
		env string
		to  *string
	}{{"BUILDKIT_TLS_CA_CERT", &t.CA}, {"BUILDKIT_TLS_CERT", &t.Cert}, {"BUILDKIT_TLS_KEY", &t.Key}, {"BUILDKIT_TLS_SERVER_NAME", &t.ServerName}} {
		if s := os.Getenv(v.env); s != "" {
			*v.to = s
		}
	}
	return t
}

// options are the client options for host: TLS only over tcp://, and
// then a CA to check the server by, and a certificate with its key or
// neither. A file that is missing is bad input naming its variable.
func (t TLS) options(host string) ([]client.ClientOpt, error) {
	if !t.Set() {
		return nil, nil
	}
	if !strings.HasPrefix(host, "tcp://") {
		return nil, &badinput.Error{Field: "BUILDKIT_HOST", Err: fmt.Errorf("%s: BUILDKIT_TLS_* settings need a tcp:// buildkitd address", host)}
	}
	for _, f := range []struct{ env, path string }{{"BUILDKIT_TLS_CA_CERT", t.CA}, {"BUILDKIT_TLS_CERT", t.Cert}, {"BUILDKIT_TLS_KEY", t.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, badinput.New(f.path, "%s (or BUILDKIT_TLS_DIR): %v", f.env, badinput.PathCause(err))
		}
	}
	if (t.Cert == "") != (t.Key == "") {
		return nil, &badinput.Error{Field: "BUILDKIT_TLS_CERT", Err: fmt.Errorf("a client certificate needs its key, and a key its certificate: set both BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY")}
	}
	name := t.ServerName
	if name == "" {
		name = strings.TrimPrefix(host, "tcp://")
		if i := strings.LastIndex(name, ":"); i >= 0 {
			name = name[:i]
		}
	}
	var opts []client.ClientOpt
	if t.CA != "" {
		opts = append(opts, client.WithServerConfig(name, t.CA))
	} else {
		opts = append(opts, client.WithServerConfigSystem(name))
	}
	if t.Cert != "" {
		opts = append(opts, client.WithCredentials(t.Cert, t.Key))
	}
	return opts, nil
}

// TLSRefused reports a TLS handshake with buildkitd that failed: a
// missing or unknown client certificate, or a server certificate the CA
// did not sign. Retrying does not help.
func TLSRefused(err error) bool {
	s := err.Error()
	return strings.Contains(s, "tls: ") || strings.Contains(s, "x509: ")
}

// TLSError is err, a TLSRefused handshake with buildkitd at host, as bad
// input: the settings are what to fix.
func TLSError(host string, err error) error {
	s := err.Error()
	if i := strings.Index(s, "tls: "); i >= 0 {
		s = strings.TrimRight(s[i:], `")`)
	} else if i := strings.Index(s, "x509: "); i >= 0 {
		s = strings.TrimRight(s[i:], `")`)
	}
	return &badinput.Error{Field: "BUILDKIT_HOST", Err: fmt.Errorf("the TLS handshake with buildkitd at %s failed (%s): set BUILDKIT_TLS_DIR, or BUILDKIT_TLS_CA_CERT, BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY, to a client certificate and key its CA signed", host, s)}
}
