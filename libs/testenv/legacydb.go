package testenv

import (
	"context"
	"database/sql"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	// The legacy database's driver.
	_ "github.com/go-sql-driver/mysql"
)

// EnvRequireMariaDB is set by make test: a missing MariaDB is then a failure
// rather than a skip.
const EnvRequireMariaDB = "FALCON_REQUIRE_MARIADB"

// LegacyDB starts a MariaDB of the test's own on a free loopback port, with
// the legacy schema (scripts/legacy/db.sh, data in a temporary directory),
// stops it at cleanup, and returns an open handle and its DSN.
func LegacyDB(t testing.TB) (*sql.DB, string) {
	t.Helper()
	if _, err := exec.LookPath("mariadbd"); err != nil {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err != nil {
			if os.Getenv(EnvRequireMariaDB) != "" {
				t.Fatal("MariaDB is not installed: `make test` installs it (apt-get install mariadb-server)")
			}
			t.Skip("MariaDB is not installed: `make test` (or make legacy-db-up) installs it")
		}
	}
	_, here, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(here), "..", "..", "scripts", "legacy", "db.sh")
	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	env := append(os.Environ(), "LEGACY_DB_DIR="+dir, "LEGACY_DB_PORT="+port)
	run := func(arg string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, script, arg)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("up")
	t.Cleanup(func() {
		if out, err := run("down"); err != nil {
			t.Logf("stopping MariaDB: %v\n%s", err, out)
		}
	})
	if err != nil {
		t.Fatalf("starting MariaDB: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	dsn := lines[len(lines)-1]
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dsn
}
