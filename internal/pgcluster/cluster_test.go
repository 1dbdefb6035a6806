package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/testenv"
)

// clusterDir returns a fresh directory the server's user can reach (a
// t.TempDir is 0700 under a 0700 parent, closed to "postgres").
func clusterDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "pgc")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "pg")
}

func newCluster(t *testing.T, opts Options) *Cluster {
	t.Helper()
	if _, err := FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "%v", err)
	}
	if opts.Dir == "" {
		opts.Dir = clusterDir(t)
	}
	opts.Fast = true
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}

func ping(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := context.Background()
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %v %d", err, one)
	}
}

func TestStartConnectStopRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t, Options{})
	if _, err := c.Status(ctx); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Status before Init: %v, want ErrNotInitialized", err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	port := c.Port()
	if port == 0 {
		t.Fatal("no port after Start")
	}
	// Idempotent: a running cluster is left alone.
	st1, _ := c.Status(ctx)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st2, _ := c.Status(ctx)
	if !st1.Running || st1.PID != st2.PID {
		t.Fatalf("second Start changed the server: %+v -> %+v", st1, st2)
	}
	ping(t, c)

	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ServerVersion(ctx, conn)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bv, _ := c.Version(ctx)
	if v.Major() != bv.Major() || v.Minor() != bv.Minor() {
		t.Fatalf("server says %s, binaries %s", v, bv)
	}

	// The admin password works over TCP and a wrong one is refused.
	tcp, err := c.AdminTCPURL()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pgx.Connect(ctx, tcp)
	if err != nil {
		t.Fatalf("admin over TCP: %v", err)
	}
	tc.Close(ctx)
	bad := fmt.Sprintf("postgres://postgres:wrong@127.0.0.1:%d/postgres?sslmode=disable", port)
	if tc, err := pgx.Connect(ctx, bad); err == nil {
		tc.Close(ctx)
		t.Fatal("wrong admin password accepted over TCP")
	}

	// PUBLIC may not connect to the cluster's own databases.
	admin, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE ROLE someone LOGIN PASSWORD 'someone-pw-1'"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	for _, db := range []string{"postgres", "template1"} {
		u := fmt.Sprintf("postgres://someone:someone-pw-1@127.0.0.1:%d/%s?sslmode=disable", port, db)
		if sc, err := pgx.Connect(ctx, u); err == nil {
			sc.Close(ctx)
			t.Errorf("a plain role connected to %s", db)
		} else if !strings.Contains(err.Error(), "42501") {
			t.Errorf("a plain role on %s: %v, want 42501", db, err)
		}
	}

	// Modes: data closed, socket dir open, password file private.
	for path, want := range map[string]os.FileMode{c.DataDir(): 0o700, c.SocketDir(): 0o755, c.passwordFile(): 0o600, c.LogFile(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}

	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if st, _ := c.Status(ctx); st.Running {
		t.Fatal("running after Stop")
	}
	// A new Cluster value on the same directory finds the same port.
	c2 := newCluster(t, Options{Dir: c.Dir()})
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c2.Port() != port {
		t.Fatalf("port changed across restart: %d -> %d", port, c2.Port())
	}
	ping(t, c2)
}

// A crash leaves postmaster.pid behind; after a reboot its PID may belong
// to another process of the same user, which PostgreSQL takes for a live
// server. Start must recognise and remove it.
func TestStartRecoversStalePIDFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t, Options{})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := c.Status(ctx)
	// Crash: SIGKILL the postmaster; its children notice and exit.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, st.PID)
	waitNoBackends(t, c)

	// An unrelated process of the server's user now holds that "PID".
	sleeper := exec.Command("sleep", "60")
	if c.owner != nil {
		sleeper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.owner.UID), Gid: uint32(c.owner.GID), Groups: []uint32{}}}
	}
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	rest := b[len(strconv.Itoa(st.PID)):]
	if err := os.WriteFile(pidFile, append([]byte(strconv.Itoa(sleeper.Process.Pid)), rest...), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(ctx); st.Running || !st.Stale {
		t.Fatalf("status with a foreign PID: %+v, want stale", st)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ping(t, c)
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for i := 0; i < 1200; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("process %d did not exit", pid)
}

// waitNoBackends waits until no process has the data directory as cwd.
func waitNoBackends(t *testing.T, c *Cluster) {
	t.Helper()
	for i := 0; i < 1200; i++ {
		busy := false
		procs, _ := filepath.Glob("/proc/[0-9]*/cwd")
		for _, p := range procs {
			if d, err := os.Readlink(p); err == nil && d == c.DataDir() {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("server processes did not exit")
}

// A port picked by the cluster and taken by someone else while it was
// stopped is replaced by a free one.
func TestStartPicksNewPortWhenTaken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t, Options{})
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := c.Port()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Port() == taken {
		t.Fatal("still on the taken port")
	}
	ping(t, c)
}

// A port the caller chose is not silently changed: the start fails and the
// error carries PostgreSQL's reason.
func TestStartFixedPortTakenFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := newCluster(t, Options{Port: l.Addr().(*net.TCPAddr).Port, StartTimeout: 20 * time.Second})
	err = c.Start(ctx)
	var se *StartError
	if !errors.As(err, &se) || !errors.Is(err, ErrStartFailed) {
		t.Fatalf("Start on a taken port: %v, want *StartError", err)
	}
	if se.LogTail == "" {
		t.Errorf("StartError without server log: %v", err)
	}
}

func TestInitRefusesUnreachableDir(t *testing.T) {
	testenv.NeedRoot(t)
	parent, err := os.MkdirTemp("", "pgc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(parent) // MkdirTemp's 0700: closed to "postgres"
	c := newCluster(t, Options{Dir: filepath.Join(parent, "pg")})
	if err := c.Init(context.Background()); !errors.Is(err, ErrNotAccessible) {
		t.Fatalf("Init under a 0700 parent: %v, want ErrNotAccessible", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{},
		{Dir: "/tmp/x", Port: 70000},
		{Dir: "/tmp/" + string(make([]byte, 100))},
		{Dir: "/tmp/x", Settings: map[string]string{"bad name": "1"}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestVersionFromNum(t *testing.T) {
	for num, want := range map[int]string{150018: "15.18.0", 120000: "12.0.0", 90624: "9.6.24", 170002: "17.2.0"} {
		v, err := VersionFromNum(num)
		if err != nil || v.String() != want {
			t.Errorf("VersionFromNum(%d) = %v, %v; want %s", num, v, err, want)
		}
	}
	if _, err := VersionFromNum(0); err == nil {
		t.Error("VersionFromNum(0) accepted")
	}
}

func TestParseVersionOutput(t *testing.T) {
	for in, want := range map[string]string{
		"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n": "15.18.0",
		"postgres (PostgreSQL) 9.6.24\n":                         "9.6.24",
		"postgres (PostgreSQL) 17devel":                          "17.0.0",
		"postgres (PostgreSQL) 16beta2":                          "16.0.0",
	} {
		v, err := parseVersionOutput(in)
		if err != nil || v.String() != want {
			t.Errorf("parseVersionOutput(%q) = %v, %v; want %s", in, v, err, want)
		}
	}
	if _, err := parseVersionOutput("psql 15"); err == nil {
		t.Error("garbage accepted")
	}
}

func FuzzParseVersionOutput(f *testing.F) {
	f.Add("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)")
	f.Add("postgres (PostgreSQL) 17devel")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseVersionOutput(s)
		if err == nil && v == nil {
			t.Fatal("nil version without error")
		}
	})
}

func TestSCRAMVerifierFormat(t *testing.T) {
	// The verifier for a fixed salt is stable (regression vector computed
	// once and checked against a server by TestStartConnectStopRestart's
	// TCP login, which uses a verifier set by initdb).
	v, err := scramVerifier("pencil", []byte("0123456789abcdef"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$"; v[:len(want)] != want {
		t.Fatalf("verifier %q", v)
	}
	if _, err := SCRAMVerifier("with space"); err == nil {
		t.Error("password with a space accepted")
	}
	p, err := RandomPassword()
	if err != nil || len(p) != 32 {
		t.Fatalf("RandomPassword = %q, %v", p, err)
	}
}

// initdb killed half-way leaves data.tmp, never a half data directory; the
// next Init starts over and succeeds.
func TestInitAfterKilledInitdb(t *testing.T) {
	t.Parallel()
	c := newCluster(t, Options{})
	// Cancel once initdb has started writing data.tmp, so the kill always
	// lands half-way, however fast the machine is.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if ents, _ := os.ReadDir(filepath.Join(c.Dir(), "data.tmp")); len(ents) > 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := c.Init(ctx)
	cancel()
	if err == nil {
		t.Fatal("Init succeeded although it was cancelled while initdb wrote data.tmp")
	}
	if _, serr := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); serr == nil {
		t.Fatal("interrupted Init left a data directory")
	}
	// Leftovers of the killed run (and junk) in data.tmp are discarded.
	os.MkdirAll(filepath.Join(c.Dir(), "data.tmp", "base"), 0o700)
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start after an interrupted Init: %v", err)
	}
	ping(t, c)
}

// The verifier initdb stored for the admin (computed by SCRAMVerifier)
// is recognised by SCRAMVerifierMatches, and the server accepted it above
// (TestStartConnectStopRestart logs in over TCP with the password).
func TestSCRAMVerifierMatchesServerCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newCluster(t, Options{})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var stored string
	if err := conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = current_user").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	pw, err := os.ReadFile(c.passwordFile())
	if err != nil {
		t.Fatal(err)
	}
	if !SCRAMVerifierMatches(stored, strings.TrimSpace(string(pw))) {
		t.Fatal("stored verifier does not match the admin password")
	}
	if SCRAMVerifierMatches(stored, "wrong") {
		t.Fatal("verifier matches a wrong password")
	}
	// A verifier the server computed itself (ALTER ROLE … PASSWORD 'clear')
	// matches too: the two implementations agree.
	if _, err := conn.Exec(ctx, "CREATE ROLE oracle LOGIN PASSWORD 'pencil-oracle-1'"); err != nil {
		t.Fatal(err)
	}
	var serverMade string
	conn.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = 'oracle'").Scan(&serverMade)
	if !SCRAMVerifierMatches(serverMade, "pencil-oracle-1") {
		t.Fatalf("our SCRAM computation disagrees with the server's verifier %q", serverMade)
	}
}

func FuzzSCRAMVerifierMatches(f *testing.F) {
	f.Add("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$a:b", "pencil")
	f.Add("SCRAM-SHA-256$1:$:", "")
	f.Add("md5abc", "x")
	f.Fuzz(func(t *testing.T, verifier, password string) {
		if rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$"); ok {
			if n, err := strconv.Atoi(strings.SplitN(rest, ":", 2)[0]); err == nil && n > 20000 {
				return // huge iteration counts are merely slow
			}
		}
		_ = SCRAMVerifierMatches(verifier, password)
	})
}

// Two deploykit commands starting the embedded cluster at once: the
// cluster lock makes one start it and the other find it running.
func TestConcurrentStartsOnOneDirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := clusterDir(t)
	c1 := newCluster(t, Options{Dir: dir})
	c2 := newCluster(t, Options{Dir: dir})
	errs := make(chan error, 2)
	for _, c := range []*Cluster{c1, c2} {
		go func() { errs <- c.Start(ctx) }()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s1, _ := c1.Status(ctx)
	s2, _ := c2.Status(ctx)
	if !s1.Running || s1.PID != s2.PID || c1.Port() != c2.Port() {
		t.Fatalf("two starts: %+v / %+v", s1, s2)
	}
	ping(t, c2)
	if err := c1.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Remove left %s: %v", dir, err)
	}
	if err := c2.Stop(ctx); err != nil {
		t.Fatalf("Stop after Remove: %v", err)
	}
}

// Without root the server runs as the caller, whom the ident map lets in
// as the admin role. Run as "nobody": a copy of this test binary executes
// the helper below.
func TestUnprivilegedCluster(t *testing.T) {
	if dir := os.Getenv("PGCLUSTER_UNPRIVILEGED_DIR"); dir != "" {
		unprivilegedHelper(t, dir)
		return
	}
	testenv.NeedRoot(t)
	if _, err := FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "%v", err)
	}
	t.Parallel()
	nobody, err := lookupUser("nobody")
	if err != nil {
		testenv.Skip(t, "no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	base := clusterDir(t)
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(base, "pgcluster.test")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(base, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestUnprivilegedCluster$", "-test.v")
	cmd.Dir = base
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + base, "PGCLUSTER_UNPRIVILEGED_DIR=" + filepath.Join(base, "pg")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivilegedCluster") {
		t.Fatalf("unprivileged helper: %v\n%s", err, out)
	}
}

func unprivilegedHelper(t *testing.T, dir string) {
	ctx := context.Background()
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	c, err := New(Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if name, uid, _, _ := c.SystemUser(ctx); uid != -1 || name != "nobody" {
		t.Fatalf("server user %s/%d, want the caller", name, uid)
	}
	ping(t, c)
	tcp, err := c.AdminTCPURL()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, tcp)
	if err != nil {
		t.Fatalf("admin over TCP: %v", err)
	}
	conn.Close(ctx)
	hba, _ := os.ReadFile(filepath.Join(c.DataDir(), "pg_hba.conf"))
	if strings.Contains(string(hba), "sameuser") {
		t.Fatalf("unprivileged pg_hba.conf has peer sameuser logins:\n%s", hba)
	}
}

// As root, a missing server account is created (a system user with its
// own group and no login shell) and the cluster runs as it.
func TestStartCreatesMissingSystemUser(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.Command(t, "useradd")
	t.Parallel()
	ctx := context.Background()
	name := fmt.Sprintf("dkpg%d", time.Now().UnixNano()%1_000_000)
	t.Cleanup(func() { exec.Command("userdel", name).Run(); exec.Command("groupdel", name).Run() })
	c := newCluster(t, Options{SystemUser: name})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	u, err := lookupUser(name)
	if err != nil {
		t.Fatalf("user %s not created: %v", name, err)
	}
	st, _ := c.Status(ctx)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.PID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nUid:\t"+u.Uid+"\t") {
		t.Fatalf("postmaster does not run as %s (uid %s)", name, u.Uid)
	}
	ping(t, c)
}
