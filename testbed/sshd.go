package testbed

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SSHD is an OpenSSH server on loopback for one test, key auth only, whose
// root login reaches this machine's docker: what `host = "ssh://…"`
// releases go through.
type SSHD struct {
	// Host is the ssh:// URL a project.toml environment names.
	Host string
}

// SSHDOptions change what the server lets a session do.
type SSHDOptions struct {
	// NoDocker runs sessions with a PATH that has no docker command.
	NoDocker bool
	// UnknownHostKey leaves the server's host key out of the client's
	// known_hosts.
	UnknownHostKey bool
}

// StartSSHD starts sshd (Debian's openssh-server, from `make testbed`) on
// a free loopback port with a new host key, authorizes a new client key
// for root, and puts an ssh first on PATH that uses that key and trusts
// only that host key (the latest server's, when a test starts several).
// Both end with the test.
func StartSSHD(t *testing.T, o SSHDOptions) *SSHD {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		unavailable(t, "sshd", "/usr/sbin/sshd", err)
	}
	dir := t.TempDir()
	port := FreePort(t)
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "host_key"))
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "id_ed25519"))
	pub, _ := os.ReadFile(filepath.Join(dir, "id_ed25519.pub"))
	hostPub, _ := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	write(t, filepath.Join(dir, "authorized_keys"), string(pub), 0o600)
	known := fmt.Sprintf("[127.0.0.1]:%d %s", port, hostPub)
	if o.UnknownHostKey {
		known = ""
	}
	write(t, filepath.Join(dir, "known_hosts"), known, 0o600)
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s/host_key
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %s/sshd.pid
`, port, dir, dir, dir)
	if o.NoDocker {
		conf += "SetEnv PATH=/nonexistent\n"
	}
	write(t, filepath.Join(dir, "sshd_config"), conf, 0o600)
	write(t, filepath.Join(dir, "ssh_config"), fmt.Sprintf(`Host 127.0.0.1
  IdentityFile %s/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile %s/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
`, dir, dir), 0o600)
	// docker's ssh connection helper runs "ssh" from PATH.
	write(t, filepath.Join(dir, "bin", "ssh"), fmt.Sprintf("#!/bin/sh\nexec /usr/bin/ssh -F %s/ssh_config \"$@\"\n", dir), 0o755)
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))

	os.MkdirAll("/run/sshd", 0o755) // sshd's privilege separation dir
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd's log:\n%s", log.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %s", addr, log.String())
		}
	}
	return &SSHD{Host: fmt.Sprintf("ssh://root@127.0.0.1:%d", port)}
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
