package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// The MariaDB `make testbed` runs: its port on every address, and the user
// that may make databases named phpbuild_*.
const (
	DefaultMariaDB         = "172.17.0.1:3307"
	DefaultMariaDBLocal    = "127.0.0.1:3307"
	DefaultMariaDBUser     = "phpbuild"
	DefaultMariaDBPassword = "phpbuild-testbed"
)

// Database is an empty MariaDB database made for one test, dropped when it
// ends.
type Database struct {
	Name, User, Password string
	// Host and Port are where app containers reach it (the docker bridge's
	// gateway); Local is host:port for this machine.
	Host, Port, Local string
}

// Env is what a dotenv-style app reads to connect: DB_HOST, DB_PORT,
// DB_USERNAME, DB_PASSWORD, DB_NAME.
func (d *Database) Env() []string {
	return []string{"DB_HOST=" + d.Host, "DB_PORT=" + d.Port, "DB_USERNAME=" + d.User, "DB_PASSWORD=" + d.Password, "DB_NAME=" + d.Name}
}

// Query runs SQL in the database with the mariadb client and returns its
// tab-separated output.
func (d *Database) Query(t testing.TB, sql string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(d.Local)
	out, err := exec.Command("mariadb", "-h", host, "-P", port, "-u", d.User, "-p"+d.Password, "-N", "-B", d.Name, "-e", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// MariaDB makes a new empty database on the test bed's MariaDB.
func MariaDB(t testing.TB) *Database {
	t.Helper()
	local := envOr("PHPBUILD_TEST_MARIADB_LOCAL", DefaultMariaDBLocal)
	if c, err := net.DialTimeout("tcp", local, probeTimeout); err != nil {
		unavailable(t, "mariadb", local, err)
	} else {
		c.Close()
	}
	host, port, err := net.SplitHostPort(envOr("PHPBUILD_TEST_MARIADB", DefaultMariaDB))
	if err != nil {
		t.Fatalf("PHPBUILD_TEST_MARIADB: %v", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	d := &Database{Name: "phpbuild_" + hex.EncodeToString(b), User: envOr("PHPBUILD_TEST_MARIADB_USER", DefaultMariaDBUser),
		Password: envOr("PHPBUILD_TEST_MARIADB_PASSWORD", DefaultMariaDBPassword), Host: host, Port: port, Local: local}
	lhost, lport, _ := net.SplitHostPort(local)
	admin := func(sql string) ([]byte, error) {
		return exec.Command("mariadb", "-h", lhost, "-P", lport, "-u", d.User, "-p"+d.Password, "-e", sql).CombinedOutput()
	}
	if out, err := admin("CREATE DATABASE `" + d.Name + "` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("creating database %s: %v\n%s", d.Name, err, out)
	}
	t.Cleanup(func() { admin("DROP DATABASE IF EXISTS `" + d.Name + "`") })
	return d
}
