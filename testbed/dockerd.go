package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	dockerclient "github.com/docker/docker/client"
)

// Dockerd is a docker daemon of its own for one test, beside the test
// bed's, to be restarted in the middle of what the test does: its own
// data root, exec root, socket and default bridge, no iptables rules (the
// test bed's daemon owns those), and a userland proxy for published
// ports.
type Dockerd struct {
	// Host is the DOCKER_HOST of the daemon: unix:///run/....
	Host string

	args []string
	log  *os.File
	cmd  *exec.Cmd
	exec string
}

// StartDockerd starts dockerd (Debian's docker.io, from `make testbed`)
// and waits until it answers. It ends with the test, with every container
// it ran.
func StartDockerd(t *testing.T) *Dockerd {
	t.Helper()
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		unavailable(t, "dockerd", "dockerd", err)
	}
	// The data root holds overlay mounts while the daemon runs: made and
	// removed here rather than by t.TempDir. The exec root is short, as
	// a unix socket's path must be.
	data, err := os.MkdirTemp("", "phpbuild-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	run, err := os.MkdirTemp("/run", "phpbuild-d")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(data, "daemon.json")
	write(t, conf, "{}\n", 0o644)
	d := &Dockerd{Host: "unix://" + filepath.Join(run, "d.sock"), exec: run}
	d.args = []string{bin,
		"--config-file", conf,
		"--data-root", filepath.Join(data, "root"),
		"--exec-root", run,
		"--pidfile", filepath.Join(run, "d.pid"),
		"--host", d.Host,
		"--iptables=false",
		"--ip-masq=false",
	}
	if d.log, err = os.Create(filepath.Join(data, "dockerd.log")); err != nil {
		t.Fatal(err)
	}
	// A default bridge of its own: with --bridge none, dockerd deletes the
	// host's docker0, the test bed daemon's, and it does so at a restart
	// too when given --default-address-pool. Its networks take subnets
	// that no host route covers.
	bridge := "phpbd" + filepath.Base(run)[len("phpbuild-d"):]
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"},
		{"addr", "add", bridgeAddr, "dev", bridge},
		{"link", "set", bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			exec.Command("ip", "link", "del", bridge).Run()
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	hadDocker0 := exec.Command("ip", "link", "show", "docker0").Run() == nil
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", bridge).Run()
		if hadDocker0 && exec.Command("ip", "link", "show", "docker0").Run() != nil {
			t.Errorf("the test's dockerd deleted the host's docker0: the test bed's containers are cut off (restart its dockerd)")
		}
	})
	d.args = append(d.args, "--bridge", bridge)
	// The test bed's daemon sets the FORWARD policy to DROP and accepts
	// only its own bridges; with bridge-nf-call-iptables even traffic
	// between two containers of one bridge passes FORWARD. Accept what
	// stays within a bridge, as the test bed's daemon does for its own,
	// for the test's life.
	rule := []string{"FORWARD", "-m", "physdev", "--physdev-is-bridged", "-j", "ACCEPT"}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %v: %v\n%s", rule, err, out)
	}
	t.Cleanup(func() { exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
	t.Cleanup(func() {
		if cli, err := d.client(); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if cs, err := cli.ContainerList(ctx, container.ListOptions{All: true}); err == nil {
				for _, c := range cs {
					cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
				}
			}
			// A network's bridge outlives the daemon unless removed.
			if ns, err := cli.NetworkList(ctx, network.ListOptions{}); err == nil {
				for _, n := range ns {
					if n.Name != "none" && n.Name != "host" {
						cli.NetworkRemove(ctx, n.ID)
					}
				}
			}
			cancel()
			cli.Close()
		}
		d.stop(t)
		d.log.Close()
		os.RemoveAll(data)
		os.RemoveAll(run)
	})
	d.start(t)
	return d
}

// bridgeAddr is the default bridge's address.
const bridgeAddr = "10.213.0.1/24"

// Restart stops the daemon as a host's service manager does (SIGTERM: it
// stops its containers, then exits) and starts it again, which restarts
// the containers whose restart policy says so.
func (d *Dockerd) Restart(t *testing.T) {
	t.Helper()
	d.stop(t)
	d.start(t)
}

func (d *Dockerd) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command(d.args[0], d.args[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cli, err := d.client()
		if err == nil {
			_, err = cli.Ping(context.Background())
			cli.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.log.Name())
			t.Fatalf("dockerd %s did not answer within a minute: %v\n%s", d.Host, err, tail(string(b), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *Dockerd) stop(t *testing.T) {
	t.Helper()
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Errorf("dockerd did not stop within a minute of SIGTERM")
	}
	d.cmd = nil
}

// Client is a client of the daemon, closed with the test.
func (d *Dockerd) Client(t *testing.T) *dockerclient.Client {
	t.Helper()
	cli, err := d.client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func (d *Dockerd) client() (*dockerclient.Client, error) {
	return dockerclient.NewClientWithOpts(dockerclient.WithHost(d.Host), dockerclient.WithAPIVersionNegotiation())
}

func tail(s string, n int) string {
	if len(s) > n {
		return fmt.Sprintf("...%s", s[len(s)-n:])
	}
	return s
}
