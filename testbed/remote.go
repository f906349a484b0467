package testbed

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bkclient "github.com/moby/buildkit/client"
	// docker-container:// addresses in the probe.
	_ "github.com/moby/buildkit/client/connhelper/dockercontainer"
)

// StartBuildkitdTLS starts a private buildkitd on a loopback TCP port that
// requires mutual TLS, with certificates made for the test, and returns it
// and the dir of the client's files as buildctl's --tlsdir has them:
// ca.pem, cert.pem, key.pem.
func StartBuildkitdTLS(t testing.TB, httpRegistries ...string) (*Buildkitd, string) {
	t.Helper()
	dir := t.TempDir()
	writeCerts(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	extra := fmt.Sprintf("\n  [grpc.tls]\n    cert = %q\n    key = %q\n    ca = %q\n",
		filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem"))
	dial := []bkclient.ClientOpt{
		bkclient.WithServerConfig("127.0.0.1", filepath.Join(dir, "ca.pem")),
		bkclient.WithCredentials(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")),
	}
	b := startBuildkitd(t, "", fmt.Sprintf("tcp://127.0.0.1:%d", port), extra, dial, httpRegistries)
	return b, dir
}

// writeCerts writes a CA, a server certificate for 127.0.0.1 and a client
// certificate, each with its key, into dir.
func writeCerts(t testing.TB, dir string) {
	t.Helper()
	caKey, caCert := newCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "phpbuild test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}, nil, nil)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", caCert.Raw)
	for _, c := range []struct {
		cert, key string
		tmpl      *x509.Certificate
	}{
		{"server-cert.pem", "server-key.pem", &x509.Certificate{Subject: pkix.Name{CommonName: "buildkitd"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}},
		{"cert.pem", "key.pem", &x509.Certificate{Subject: pkix.Name{CommonName: "phpbuild"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}},
	} {
		key, cert := newCert(t, c.tmpl, caCert, caKey)
		writePEM(t, filepath.Join(dir, c.cert), "CERTIFICATE", cert.Raw)
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, c.key), "EC PRIVATE KEY", der)
	}
}

// newCert signs tmpl with parent's key (itself when parent is nil).
func newCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// StartBuildkitdContainer runs the test bed's buildkitd inside a docker
// container (Debian's image, the binaries and runc mounted in; every
// capability this VM grants, the host's cgroups and network) and returns
// its address, docker-container://NAME. The container goes when the test
// ends.
func StartBuildkitdContainer(t testing.TB) string {
	t.Helper()
	BuildkitHost(t)
	DockerHost(t)
	conf, err := os.ReadFile(filepath.Join(envOr("PHPBUILD_TESTBED_DIR", "/var/lib/phpbuild-testbed"), "buildkitd.toml"))
	if err != nil {
		t.Fatalf("reading the test bed's buildkitd config: %v", err)
	}
	dir := t.TempDir()
	state, err := os.MkdirTemp("", "phpbuild-test-buildkitd-container-")
	if err != nil {
		t.Fatal(err)
	}
	c := rootLine.ReplaceAllString(string(conf), `root = "/var/lib/buildkit"`)
	c = addressLine.ReplaceAllString(c, `  address = ["unix:///run/buildkit/buildkitd.sock"]`)
	if err := os.WriteFile(filepath.Join(dir, "buildkitd.toml"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("phpbuild-test-buildkitd-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	bin := buildkitBinDir()
	// --privileged asks for every capability, and this VM's docker cannot
	// grant CAP_SYS_RESOURCE: all the others, and the host's cgroups.
	args := []string{"run", "-d", "--name", name, "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
		"--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup", "--network", "host",
		"-v", filepath.Join(bin, "buildkitd") + ":/usr/bin/buildkitd:ro", "-v", filepath.Join(bin, "buildctl") + ":/usr/bin/buildctl:ro",
		"-v", "/usr/sbin/runc:/usr/sbin/runc:ro", "-v", state + ":/var/lib/buildkit", "-v", filepath.Join(dir, "buildkitd.toml") + ":/etc/buildkit/buildkitd.toml:ro",
		"debian:bookworm-slim", "buildkitd", "--config", "/etc/buildkit/buildkitd.toml"}
	if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
		t.Fatalf("docker run buildkitd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("docker", "rm", "-f", name).Run()
		unmountUnder(state)
		os.RemoveAll(state)
	})
	host := "docker-container://" + name
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl, err := bkclient.New(ctx, host)
		if err == nil {
			_, err = cl.ListWorkers(ctx)
			cl.Close()
		}
		cancel()
		if err == nil {
			return host
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command("docker", "logs", "--tail", "20", name).CombinedOutput()
			t.Fatalf("buildkitd in container %s did not come up: %v\n%s", name, err, strings.TrimSpace(string(out)))
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// MultiPlatformBase pushes, and returns, an index of the test bed's
// debian:SUITE-slim (this machine's architecture) and
// debian:SUITE-slim-arm64 (`make testbed` bootstraps it under QEMU), as
// Docker Hub's debian is: the base of a runtime built for both.
func MultiPlatformBase(t testing.TB, suite string) string {
	t.Helper()
	reg := Registry(t)
	var adds []mutate.IndexAddendum
	for _, p := range []struct{ tag, arch string }{{suite + "-slim", runtime.GOARCH}, {suite + "-slim-arm64", "arm64"}} {
		ref, err := name.ParseReference(reg + "/library/debian:" + p.tag)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("%s (make testbed bootstraps it): %v", ref, err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: p.arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	ref, err := name.ParseReference(reg + "/phpbuild-test/debian-multi:" + suite + "-slim")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}
