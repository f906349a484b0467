package buildkit

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	name := t.serverName(host)
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
	return &badinput.Error{Field: "BUILDKIT_HOST", Err: fmt.Errorf("the TLS connection to buildkitd at %s failed (%s): set BUILDKIT_TLS_DIR, or BUILDKIT_TLS_CA_CERT, BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY, to a client certificate and key its CA signed", host, s)}
}

// preflight makes one TLS connection to host, as the client will, and
// reads the server's first bytes: a gRPC server sends its HTTP/2 settings
// at once, while one that refuses the client's certificate sends an alert
// or closes. With TLS 1.3 that refusal comes after the handshake, so
// without this check it surfaced mid-build as a broken pipe.
func (t TLS) preflight(ctx context.Context, host string) error {
	addr := strings.TrimPrefix(host, "tcp://")
	cfg := &tls.Config{ServerName: t.serverName(host), MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return badinput.New(t.CA, "BUILDKIT_TLS_CA_CERT: %v", badinput.PathCause(err))
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return badinput.New(t.CA, "BUILDKIT_TLS_CA_CERT: no PEM certificate in it")
		}
	}
	if t.Cert != "" {
		c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return badinput.New(t.Cert, "BUILDKIT_TLS_CERT and BUILDKIT_TLS_KEY: %v", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if TLSRefused(err) {
			return TLSError(host, err)
		}
		return nil // not a TLS matter: the client's own dial reports it
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil // a server that waits for the client's preface
		}
		return TLSError(host, fmt.Errorf("the server closed the connection after the handshake: %w", err))
	}
	return nil
}

func (t TLS) serverName(host string) string {
	if t.ServerName != "" {
		return t.ServerName
	}
	name := strings.TrimPrefix(host, "tcp://")
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}
