package pgtest

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func TestGetConnectsAndIsShared(t *testing.T) {
	ctx := context.Background()
	a := Get(t)
	if b := Get(t); a != b {
		t.Fatal("second Get started another server")
	}
	conn := a.Connect(t)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d %v", one, err)
	}
	if n := a.PGVersionNum(t); n < 120000 {
		t.Fatalf("server_version_num %d", n)
	}
	if a.Local() && (a.SocketDir == "" || a.Port == 0) {
		t.Fatalf("local server without socket/port: %+v", a)
	}
}

func TestCreateDatabaseIsDroppedAtCleanup(t *testing.T) {
	ctx := context.Background()
	srv := Get(t)
	var name string
	t.Run("inner", func(t *testing.T) {
		name = srv.CreateDatabase(t)
		c, err := pgx.Connect(ctx, srv.URLFor(name))
		if err != nil {
			t.Fatalf("connect to the new database: %v", err)
		}
		c.Close(ctx)
	})
	var n int
	if err := srv.Connect(t).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("database %s survived its test", name)
	}
}

// The cluster must not outlive a test binary that dies without Main's
// teardown: the helper below starts a cluster and SIGKILLs itself.
func TestClusterDiesWithTheTestBinary(t *testing.T) {
	if os.Getenv("PGTEST_HELPER") == "1" {
		srv := Get(t)
		st, err := srv.Cluster.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("DIR " + filepath.Dir(srv.Cluster.Dir()) + "\n")
		os.Stdout.WriteString("PID " + strconv.Itoa(st.PID) + "\n")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	Local(t) // the helper's cluster is local too: fail here, not there, without binaries
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterDiesWithTheTestBinary$")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER=1")
	cmd.Env = append(cmd.Env, EnvURL+"=")
	out, _ := cmd.Output()
	var dir string
	var pid int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "DIR "); ok {
			dir = d
		}
		if p, ok := strings.CutPrefix(sc.Text(), "PID "); ok {
			pid, _ = strconv.Atoi(p)
		}
	}
	if dir == "" || pid == 0 {
		t.Fatalf("helper output: %q", out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, statErr := os.Stat(dir)
		killErr := syscall.Kill(pid, 0)
		if errors.Is(statErr, os.ErrNotExist) && errors.Is(killErr, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after the test binary died, %s or postmaster %d remain", dir, pid)
}

// With DEPLOYKIT_TEST_PG_URL set, Get uses that server and starts nothing.
// The helper process is pointed at this binary's own cluster over TCP.
func TestExternalServerFromEnvironment(t *testing.T) {
	if os.Getenv("PGTEST_EXTERNAL_HELPER") == "1" {
		srv := Get(t)
		if srv.Local() || srv.Cluster != nil || srv.SocketDir != "" || srv.Host != "127.0.0.1" || srv.Port == 0 {
			t.Fatalf("external server: %+v", srv)
		}
		db := srv.CreateDatabase(t)
		var n int
		if err := srv.Connect(t).QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n); err != nil || n != 1 {
			t.Fatalf("database %s: %d %v", db, n, err)
		}
		return
	}
	srv := Local(t)
	tcp, err := srv.Cluster.AdminTCPURL()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExternalServerFromEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_EXTERNAL_HELPER=1", EnvURL+"="+tcp)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestExternalServerFromEnvironment") {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "initdb") {
		t.Fatalf("helper started a cluster:\n%s", out)
	}

	// A URL that does not answer fails the tests that need it, clearly.
	cmd = exec.Command(os.Args[0], "-test.run=^TestExternalServerFromEnvironment$")
	cmd.Env = append(os.Environ(), "PGTEST_EXTERNAL_HELPER=1", EnvURL+"=postgres://nobody:x@127.0.0.1:1/postgres?connect_timeout=2")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), EnvURL) {
		t.Fatalf("unreachable %s: %v\n%s", EnvURL, err, out)
	}
}
