package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/testenv"
)

// EnvURL names an existing server to use instead of a throwaway cluster.
const EnvURL = "DEPLOYKIT_TEST_PG_URL"

// Server is the test binary's PostgreSQL server.
type Server struct {
	// URL connects as the admin role (over the Unix socket for the
	// throwaway cluster; peer authentication, so only root, the server's
	// user or the cluster's creator may use it).
	URL string
	// Host and Port as libpq understands them: Host is the socket
	// directory for the throwaway cluster.
	Host string
	Port int
	// SocketDir is the Unix socket directory, "" for an external server.
	SocketDir string
	// Cluster is the throwaway cluster, nil for an external server.
	Cluster *pgcluster.Cluster
}

// Local reports whether the server is the throwaway cluster on this host
// (peer authentication over its socket works).
func (s *Server) Local() bool { return s.Cluster != nil }

// ConnConfig returns a fresh pgx configuration for the admin URL.
func (s *Server) ConnConfig(t testing.TB) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(s.URL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return cfg
}

// Connect opens an admin connection, closed when the test ends.
func (s *Server) Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, s.ConnConfig(t))
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// URLFor returns the admin URL with another database.
func (s *Server) URLFor(database string) string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return s.URL
	}
	u.Path = "/" + database
	return u.String()
}

// CreateDatabase creates an empty database with a unique name, dropped
// (connections terminated) when the test ends, and returns its name.
func (s *Server) CreateDatabase(t testing.TB) string {
	t.Helper()
	name := "pgtest_" + randomHex(6)
	ctx := context.Background()
	conn := s.Connect(t)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.ConnectConfig(ctx, s.ConnConfig(t))
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return name
}

// RandomName returns prefix followed by 12 random hex digits: unique role
// and database names for tests sharing one server.
func RandomName(prefix string) string { return prefix + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// The servers of the test binary: fixtures, deliberately package state.
var shared struct {
	mu       sync.Mutex
	external slot // the DEPLOYKIT_TEST_PG_URL server
	local    slot // the throwaway cluster
	dir      string
	watcher  *os.File // write end of the watcher's pipe; closing it tears down
}

// slot is a server started once, on first use.
type slot struct {
	started bool
	srv     *Server
	err     error
	skip    string
}

// take returns the slot's server, starting it on first use; shared.mu is
// held. A skip reason skips the test (fails it in CI).
func (s *slot) take(t testing.TB, start func() (*Server, string, error)) *Server {
	t.Helper()
	if !s.started {
		s.started = true
		s.srv, s.skip, s.err = start()
	}
	if s.skip != "" {
		testenv.Skip(t, "%s", s.skip)
	}
	if s.err != nil {
		t.Fatalf("pgtest: %v", s.err)
	}
	return s.srv
}

// Get returns the test binary's server: the one DEPLOYKIT_TEST_PG_URL
// names, else the throwaway cluster, started on first use. Missing
// binaries skip the test (fail it in CI).
func Get(t testing.TB) *Server {
	t.Helper()
	if os.Getenv(EnvURL) == "" {
		return Local(t)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.external.take(t, startExternal)
}

// Local returns the throwaway cluster on this host even when
// DEPLOYKIT_TEST_PG_URL names another server: for tests that need what
// only a local cluster offers (peer authentication as host users, TCP
// with a password, the cluster's own lifecycle).
func Local(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	return shared.local.take(t, startLocal)
}

func startExternal() (*Server, string, error) {
	ctx := context.Background()
	u := os.Getenv(EnvURL)
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", EnvURL, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", EnvURL, err)
	}
	conn.Close(ctx)
	return &Server{URL: u, Host: cfg.Host, Port: int(cfg.Port)}, "", nil
}

func startLocal() (srv *Server, skip string, err error) {
	ctx := context.Background()
	if _, err := pgcluster.FindBinaries(ctx); err != nil {
		return nil, err.Error(), nil
	}
	dir, err := os.MkdirTemp("", "dkpg")
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, "", err
	}
	shared.dir = dir
	c, err := pgcluster.New(pgcluster.Options{Dir: filepath.Join(dir, "pg"), Fast: true,
		Settings: map[string]string{"max_connections": "200", "shared_buffers": "32MB"}})
	if err != nil {
		return nil, "", err
	}
	if err := c.Init(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	if err := startWatcher(ctx, c, dir); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	if err := c.Start(ctx); err != nil {
		teardown()
		return nil, "", err
	}
	return &Server{URL: c.AdminURL(), Host: c.SocketDir(), Port: c.Port(), SocketDir: c.SocketDir(), Cluster: c}, "", nil
}

// startWatcher starts the process that stops the cluster and removes dir
// when the test binary goes away (see the package doc).
func startWatcher(ctx context.Context, c *pgcluster.Cluster, dir string) error {
	bins, err := c.Binaries(ctx)
	if err != nil {
		return err
	}
	_, uid, gid, err := c.SystemUser(ctx)
	if err != nil {
		return err
	}
	if uid >= 0 {
		// The server's user removes the directory, so it owns it.
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		}); err != nil {
			return err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	script := `read _ || true; "$1" stop -D "$2" -m immediate -s >/dev/null 2>&1; rm -rf "$3"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-watcher",
		filepath.Join(bins.Dir, "pg_ctl"), c.DataDir(), dir)
	cmd.Stdin = r
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		attr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("starting the cluster watcher: %w", err)
	}
	go cmd.Wait() // reap it if it ends while we run
	shared.watcher = w
	return nil
}

// teardown stops the cluster and removes its directory. shared.mu is held
// or no test runs any more.
func teardown() error {
	var err error
	if srv := shared.local.srv; srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = srv.Cluster.Stop(ctx)
	}
	if shared.watcher != nil {
		shared.watcher.Close()
		shared.watcher = nil
	}
	if shared.dir != "" {
		if rerr := os.RemoveAll(shared.dir); rerr != nil && err == nil {
			err = rerr
		}
		shared.dir = ""
	}
	shared.local.srv = nil
	return err
}

// Main runs the tests and then tears the cluster down. Call it from
// TestMain; it does not return.
func Main(m *testing.M) { os.Exit(Finish(m.Run())) }

// Finish tears the cluster down after m.Run and returns the exit code to
// use: code, or 1 when the teardown failed. For TestMains that have
// other fixtures to tear down too (internal/rabbittest's node).
func Finish(code int) int {
	shared.mu.Lock()
	err := teardown()
	shared.mu.Unlock()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// PGVersionNum returns the server's server_version_num (e.g. 150018).
func (s *Server) PGVersionNum(t testing.TB) int {
	t.Helper()
	var v string
	if err := s.Connect(t).QueryRow(context.Background(), "SHOW server_version_num").Scan(&v); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("pgtest: server_version_num %q", v)
	}
	return n
}
