package pgcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/internal/lazyregexp"
	"github.com/deploykit/deploykit/internal/procgroup"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotInitialized: the cluster directory holds no initialised data
	// directory (Init or Start first).
	ErrNotInitialized = errors.New("pgcluster: cluster not initialised")
	// ErrNotAccessible: the server's system user cannot reach the cluster
	// directory (an ancestor directory is not searchable by it).
	ErrNotAccessible = errors.New("pgcluster: cluster directory not accessible to the server's user")
	// ErrStartFailed: pg_ctl start failed; the *StartError carries the log.
	ErrStartFailed = errors.New("pgcluster: server did not start")
)

// StartError reports a failed start with the end of the server log, where
// PostgreSQL says why.
type StartError struct {
	Dir     string
	Err     error  // pg_ctl's failure
	Output  string // pg_ctl's output
	LogTail string // last lines of postgres.log
}

func (e *StartError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pgcluster: starting the cluster in %s: %v", e.Dir, e.Err)
	if s := strings.TrimSpace(e.Output); s != "" {
		fmt.Fprintf(&b, "\npg_ctl: %s", s)
	}
	if s := strings.TrimSpace(e.LogTail); s != "" {
		fmt.Fprintf(&b, "\nserver log:\n%s", s)
	}
	return b.String()
}

func (e *StartError) Unwrap() []error { return []error{ErrStartFailed, e.Err} }

// Options configure a Cluster. Only Dir is required.
type Options struct {
	// Dir holds the cluster (data/, run/, postgres.log, admin.password).
	Dir string
	// BinDir holds initdb, pg_ctl and postgres; "" finds the newest
	// installed set (FindBinaries).
	BinDir string
	// Port for TCP and the socket name; 0 picks a free port at Init and
	// keeps it across restarts.
	Port int
	// NoTCP: listen on the Unix socket only.
	NoTCP bool
	// SystemUser runs the server when the caller is root; default
	// "postgres", created as a system user when missing. Ignored when not
	// root: the server then runs as the caller.
	SystemUser string
	// AdminRole is the superuser initdb creates; default "postgres".
	AdminRole string
	// Fast trades durability for speed (fsync, full_page_writes and
	// synchronous_commit off, initdb --no-sync): for throwaway test clusters.
	Fast bool
	// Settings are extra postgresql.conf parameters, applied at every
	// start; they override the tuning (see the package doc, "Settings").
	Settings map[string]string
	// Host sizes the tuning; nil measures the machine (HostOf).
	Host *Host
	// StartTimeout bounds pg_ctl start/stop waits; default 60s.
	StartTimeout time.Duration
	// Logger receives what the cluster does; nil discards.
	Logger *slog.Logger
}

// Cluster is one PostgreSQL cluster in Options.Dir. Its methods are safe
// for concurrent use; separate processes on one Dir are not coordinated
// beyond what pg_ctl and postmaster.pid give.
type Cluster struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	bins  Binaries
	owner *sysUser // nil: the server runs as the caller
	port  int
}

// sysUser is the account the server runs as when the caller is root.
type sysUser struct {
	Name     string
	UID, GID int
}

// New checks the options; it does no I/O.
func New(opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgcluster: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	opts.Dir = dir
	if opts.SystemUser == "" {
		opts.SystemUser = "postgres"
	}
	if opts.AdminRole == "" {
		opts.AdminRole = "postgres"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("pgcluster: invalid port %d", opts.Port)
	}
	// The socket path (DIR/run/.s.PGSQL.PORT) must fit sun_path (108 bytes).
	if n := len(filepath.Join(dir, "run", ".s.PGSQL.65535")); n > 107 {
		return nil, fmt.Errorf("pgcluster: cluster directory %s is too long for a Unix socket path (%d > 107 bytes)", dir, n)
	}
	for k := range opts.Settings {
		if !settingNameRE.MatchString(k) {
			return nil, fmt.Errorf("pgcluster: invalid setting name %q", k)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cluster{opts: opts, log: log}, nil
}

var settingNameRE = lazyregexp.New(`^[a-z_][a-z0-9_.]*$`)

// Dir returns the cluster directory.
func (c *Cluster) Dir() string { return c.opts.Dir }

// DataDir returns PGDATA.
func (c *Cluster) DataDir() string { return filepath.Join(c.opts.Dir, "data") }

// SocketDir returns the Unix socket directory (a libpq "host").
func (c *Cluster) SocketDir() string { return filepath.Join(c.opts.Dir, "run") }

// LogFile returns the server log.
func (c *Cluster) LogFile() string { return filepath.Join(c.opts.Dir, "postgres.log") }

// AdminRole returns the superuser's name.
func (c *Cluster) AdminRole() string { return c.opts.AdminRole }

func (c *Cluster) passwordFile() string { return filepath.Join(c.opts.Dir, "admin.password") }
func (c *Cluster) confFile() string     { return filepath.Join(c.DataDir(), "deploykit.conf") }

// SystemUser returns the account the server runs as: Options.SystemUser
// as root, else the caller's user name. Its uid/gid are returned as -1 when
// the server runs as the caller.
func (c *Cluster) SystemUser(ctx context.Context) (name string, uid, gid int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.prepare(ctx); err != nil {
		return "", 0, 0, err
	}
	if c.owner == nil {
		n := strconv.Itoa(os.Getuid())
		if u, err := lookupUser(n); err == nil {
			n = u.Name
		}
		return n, -1, -1, nil
	}
	return c.owner.Name, c.owner.UID, c.owner.GID, nil
}

// Binaries returns the server binaries the cluster uses.
func (c *Cluster) Binaries(ctx context.Context) (Binaries, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.prepare(ctx); err != nil {
		return Binaries{}, err
	}
	return c.bins, nil
}

// Version returns the version of the server binaries.
func (c *Cluster) Version(ctx context.Context) (*semver.Version, error) {
	b, err := c.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	return b.Version, nil
}

// prepare finds the binaries and the server's user. c.mu is held.
func (c *Cluster) prepare(ctx context.Context) error {
	if c.bins.Dir == "" {
		var b Binaries
		var err error
		if c.opts.BinDir != "" {
			b, err = BinariesIn(ctx, c.opts.BinDir)
		} else {
			b, err = FindBinaries(ctx)
		}
		if err != nil {
			return err
		}
		c.bins = b
	}
	if os.Geteuid() == 0 && c.owner == nil {
		u, err := ensureSystemUser(ctx, c.opts.SystemUser, c.log)
		if err != nil {
			return err
		}
		c.owner = u
	}
	return nil
}

// Init creates the cluster when Dir holds none: initdb into data.tmp,
// authentication and settings written, then renamed to data — a crash
// leaves no half-initialised data directory, and a rerun starts over.
// An initialised cluster is left as it is.
func (c *Cluster) Init(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.flock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return c.init(ctx)
}

// flock serialises Init, Start and Stop across processes (two deploykit
// commands starting the embedded cluster at once) with an flock on
// Dir/cluster.lock, created as needed.
func (c *Cluster) flock(ctx context.Context) (unlock func(), err error) {
	if err := os.MkdirAll(c.opts.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.opts.Dir, "cluster.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	if err := flock.Wait(ctx, f, 50*time.Millisecond); err != nil {
		f.Close()
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, fmt.Errorf("pgcluster: waiting for %s: %w", f.Name(), err)
		}
		return nil, fmt.Errorf("pgcluster: locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func (c *Cluster) init(ctx context.Context) error {
	if err := c.prepare(ctx); err != nil {
		return err
	}
	if err := c.makeDirs(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); err == nil {
		port, err := c.storedPort()
		if err != nil {
			return err
		}
		c.port = port
		// A cluster made by an older deploykit gets today's settings for
		// its next start (Start writes them too; a service controller
		// starting postgres does not), and Reconfigure applies them to a
		// running server.
		return c.writeConf(c.DataDir(), port)
	}
	tmp := filepath.Join(c.opts.Dir, "data.tmp")
	if err := removeAllRetry(ctx, tmp); err != nil {
		return fmt.Errorf("pgcluster: removing an interrupted initdb: %w", err)
	}
	password, err := RandomPassword()
	if err != nil {
		return err
	}
	verifier, err := SCRAMVerifier(password)
	if err != nil {
		return err
	}
	// initdb reads the password from a file; it gets the SCRAM verifier,
	// which PostgreSQL stores as is, never the password.
	pwfile := filepath.Join(c.opts.Dir, ".initdb-pw")
	if err := c.writeOwned(pwfile, []byte(verifier+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	args := []string{"-D", tmp, "-U", c.opts.AdminRole, "--pwfile", pwfile,
		"--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"}
	if c.opts.Fast {
		args = append(args, "--no-sync")
	}
	c.log.Info("pgcluster: initdb", "dir", tmp, "version", c.bins.Version.String())
	if out, err := c.command(ctx, "initdb", args...).CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("pgcluster: initdb in %s: %w\n%s", tmp, err, bytes.TrimSpace(out))
	}
	if err := c.writeAuth(tmp); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = f.WriteString("\n# deploykit: port, socket and tuning; rewritten at every start\ninclude_if_exists = 'deploykit.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	port := c.opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return err
		}
	}
	if err := c.writeConf(tmp, port); err != nil {
		return err
	}
	// The password file is the caller's (root's, in product), not the
	// server user's: only the administrator needs it.
	if err := atomicfile.WriteFile(c.passwordFile(), []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.DataDir()); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	if err := atomicfile.SyncDir(c.opts.Dir); err != nil {
		return err
	}
	c.port = port
	return nil
}

// removeAllRetry removes a tree that a dying process may still be writing
// into ("directory not empty" races), retrying for a few seconds.
func removeAllRetry(ctx context.Context, path string) error {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.RemoveAll(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

// makeDirs creates Dir (0711) and Dir/run (0755), owned by the server's
// user, and checks that user can reach them.
func (c *Cluster) makeDirs() error {
	if err := os.MkdirAll(c.opts.Dir, 0o711); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{c.opts.Dir, 0o711}, {c.SocketDir(), 0o755}} {
		if err := os.Mkdir(d.path, d.mode); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		if err := c.chown(d.path); err != nil {
			return err
		}
	}
	if c.owner != nil {
		return checkSearchable(filepath.Dir(c.opts.Dir), c.owner)
	}
	return nil
}

// checkSearchable verifies that u may traverse dir and its ancestors.
func checkSearchable(dir string, u *sysUser) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok {
			mode := fi.Mode().Perm()
			var bit os.FileMode = 0o001
			switch {
			case int(st.Uid) == u.UID:
				bit = 0o100
			case int(st.Gid) == u.GID:
				bit = 0o010
			}
			if mode&bit == 0 {
				return fmt.Errorf("%w: %s (mode %04o, owner %d:%d) is not searchable by %s (uid %d); make it o+x or move the cluster",
					ErrNotAccessible, dir, mode, st.Uid, st.Gid, u.Name, u.UID)
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func (c *Cluster) chown(path string) error {
	if c.owner == nil {
		return nil
	}
	if err := os.Lchown(path, c.owner.UID, c.owner.GID); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

func (c *Cluster) writeOwned(path string, data []byte, mode os.FileMode) error {
	if err := atomicfile.WriteFile(path, data, mode); err != nil {
		return err
	}
	return c.chown(path)
}

// writeAuth writes pg_hba.conf and pg_ident.conf (see the package doc).
func (c *Cluster) writeAuth(data string) error {
	admin := quoteHBA(c.opts.AdminRole)
	var hba strings.Builder
	hba.WriteString("# written by deploykit (internal/pgcluster)\n")
	hba.WriteString("# TYPE  DATABASE  USER  ADDRESS  METHOD\n")
	fmt.Fprintf(&hba, "local   all       %s   peer map=deploykit_admin\n", admin)
	if c.owner != nil {
		// Per-instance Unix users reach the database and role of their own
		// name without a password (instance/account, instance/schema).
		hba.WriteString("local   sameuser  all   peer\n")
	}
	hba.WriteString("local   all       all   scram-sha-256\n")
	hba.WriteString("host    all       all   127.0.0.1/32  scram-sha-256\n")
	hba.WriteString("host    all       all   ::1/128       scram-sha-256\n")

	var ident strings.Builder
	ident.WriteString("# written by deploykit (internal/pgcluster)\n# MAPNAME          SYSTEM-USER  PG-USER\n")
	sysUsers := []string{c.opts.AdminRole}
	if c.owner != nil {
		sysUsers = append(sysUsers, "root", c.owner.Name)
	} else if u, err := lookupUser(strconv.Itoa(os.Getuid())); err == nil {
		sysUsers = append(sysUsers, u.Name)
	}
	slices.Sort(sysUsers)
	for _, s := range slices.Compact(sysUsers) {
		fmt.Fprintf(&ident, "deploykit_admin  %s  %s\n", quoteHBA(s), admin)
	}
	if err := c.writeOwned(filepath.Join(data, "pg_hba.conf"), []byte(hba.String()), 0o600); err != nil {
		return err
	}
	return c.writeOwned(filepath.Join(data, "pg_ident.conf"), []byte(ident.String()), 0o600)
}

func quoteHBA(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(s) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// writeConf writes data/deploykit.conf: port, socket, listen addresses,
// the Fast settings, the tuning and Options.Settings. It leaves the file
// alone when its content would not change.
func (c *Cluster) writeConf(data string, port int) error {
	tuning, err := c.tuningFor(data)
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# written by deploykit (internal/pgcluster) at every start. Your own settings in postgresql.conf\n" +
		"# or ALTER SYSTEM win over the tuning below: deploykit then leaves that setting out.\n")
	fmt.Fprintf(&b, "port = %d\n", port)
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", quoteConf(c.SocketDir()))
	listen := "127.0.0.1"
	if c.opts.NoTCP {
		listen = ""
	}
	fmt.Fprintf(&b, "listen_addresses = %s\n", quoteConf(listen))
	b.WriteString("password_encryption = 'scram-sha-256'\n")
	if c.opts.Fast {
		b.WriteString("fsync = off\nfull_page_writes = off\nsynchronous_commit = off\n")
	}
	if len(tuning) > 0 {
		b.WriteString("# tuning for this host and for bulk loads (internal/pgcluster/tuning.go)\n")
	}
	for _, s := range tuning {
		fmt.Fprintf(&b, "%s = %s  # %s\n", s.Name, quoteConf(s.Value), s.Why)
	}
	keys := make([]string, 0, len(c.opts.Settings))
	for k := range c.opts.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, quoteConf(c.opts.Settings[k]))
	}
	path := filepath.Join(data, "deploykit.conf")
	if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
		return nil
	}
	return c.writeOwned(path, []byte(b.String()), 0o600)
}

func quoteConf(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

var portLineRE = lazyregexp.New(`(?m)^port = (\d+)$`)

func (c *Cluster) storedPort() (int, error) {
	b, err := os.ReadFile(c.confFile())
	if err != nil {
		return 0, fmt.Errorf("pgcluster: %w", err)
	}
	m := portLineRE.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("pgcluster: %s has no port line", c.confFile())
	}
	return strconv.Atoi(string(m[1]))
}

// Port returns the cluster's port (known after Init or Start).
func (c *Cluster) Port() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.port == 0 {
		if p, err := c.storedPort(); err == nil {
			c.port = p
		}
	}
	return c.port
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// command runs a server binary as the server's user, in Dir, with a
// minimal environment.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bins.Dir, name), args...)
	cmd.Dir = c.opts.Dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "HOME=" + c.opts.Dir}
	if tz, ok := os.LookupEnv("TZ"); ok {
		cmd.Env = append(cmd.Env, "TZ="+tz)
	}
	// A process group of its own, killed whole on cancellation: initdb's
	// bootstrap backend must not outlive a cancelled initdb and write
	// into a directory the next attempt is recreating. (The postmaster
	// started by pg_ctl makes its own session and is not affected.)
	if c.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: uint32(c.owner.UID), Gid: uint32(c.owner.GID), Groups: []uint32{},
		}}
	}
	procgroup.KillOnCancel(cmd)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Status is the state of the server process.
type Status struct {
	Running bool
	PID     int  // postmaster PID when running
	Port    int  // configured port
	Stale   bool // postmaster.pid names a PID that is not this cluster's server
}

// Status reports whether the server runs. It does not connect.
func (c *Cluster) Status(ctx context.Context) (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status()
}

func (c *Cluster) status() (Status, error) {
	if _, err := os.Stat(filepath.Join(c.DataDir(), "PG_VERSION")); err != nil {
		return Status{}, fmt.Errorf("%w: %s", ErrNotInitialized, c.DataDir())
	}
	st := Status{}
	if p, err := c.storedPort(); err == nil {
		st.Port = p
	}
	pid, err := readPIDFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		// A postmaster.pid cut short by a crash is stale.
		st.Stale = true
		return st, nil
	}
	if c.isOurPostmaster(pid) {
		st.Running, st.PID = true, pid
	} else {
		st.Stale = true
	}
	return st, nil
}

func readPIDFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, fmt.Errorf("pgcluster: %s is empty", path)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pgcluster: %s: bad PID %q", path, sc.Text())
	}
	return pid, nil
}

// isOurPostmaster reports whether pid is alive and is a postgres process
// whose working directory is this data directory (the postmaster chdirs to
// PGDATA). A reused PID of another process fails the test.
func (c *Cluster) isOurPostmaster(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		// No /proc or not allowed to look: trust the live PID, as pg_ctl does.
		_, statErr := os.Stat("/proc/self")
		return statErr != nil || !errors.Is(err, fs.ErrNotExist)
	}
	data, _ := filepath.EvalSymlinks(c.DataDir())
	if cwd != data && cwd != c.DataDir() {
		return false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err != nil || strings.HasPrefix(strings.TrimSpace(string(comm)), "postgres")
}

// Start initialises the cluster if needed and starts the server, waiting
// until it accepts connections. A running server is left alone; a stale
// postmaster.pid (crash, then PID reuse) is removed first.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := c.flock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.init(ctx); err != nil {
		return err
	}
	st, err := c.status()
	if err != nil {
		return err
	}
	if st.Running {
		c.port = st.Port
		return nil
	}
	if st.Stale {
		c.log.Warn("pgcluster: removing stale postmaster.pid", "dir", c.DataDir())
		if err := c.removeStaleLocks(); err != nil {
			return err
		}
	}
	port := c.port
	if c.opts.Port != 0 {
		port = c.opts.Port
	}
	for attempt := 0; ; attempt++ {
		if err := c.writeConf(c.DataDir(), port); err != nil {
			return err
		}
		err := c.pgctlStart(ctx)
		if err == nil {
			c.port = port
			c.log.Info("pgcluster: started", "dir", c.opts.Dir, "port", port)
			return c.harden(ctx)
		}
		var se *StartError
		// A port picked by us and taken meanwhile by someone else: pick
		// another. A port the caller chose is theirs to fix.
		if c.opts.Port == 0 && attempt < 4 && errors.As(err, &se) &&
			(strings.Contains(se.LogTail, "could not bind") || strings.Contains(se.LogTail, "could not create lock file")) {
			if port, err = freePort(); err != nil {
				return err
			}
			c.log.Warn("pgcluster: port taken, trying another", "port", port)
			continue
		}
		return err
	}
}

// harden closes the cluster's own databases to PUBLIC: roles made for
// instances reach their own database and nothing else (the admin, a
// superuser, is not affected). Idempotent; run at every start.
func (c *Cluster) harden(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(SocketURL(c.SocketDir(), c.port, c.opts.AdminRole, "postgres"))
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("pgcluster: connecting after start: %w", err)
	}
	defer conn.Close(ctx)
	return revokePublic(ctx, conn)
}

func revokePublic(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC"); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// Ready is Start's end for a server someone else runs (a service
// controller running postgres -D DataDir): it waits, up to a minute, until
// the server accepts connections (its port accepts before it does: "the
// database system is starting up"), then hardens it as Start does.
func (c *Cluster) Ready(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := c.Connect(ctx)
		if err == nil {
			defer conn.Close(ctx)
			return revokePublic(ctx, conn)
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) pgctlStart(ctx context.Context) error {
	logf := c.LogFile()
	var before int64
	if fi, err := os.Stat(logf); err == nil {
		before = fi.Size()
	} else {
		// pg_ctl creates the log as the server user with its umask; make
		// it 0600 up front.
		if err := c.writeOwned(logf, nil, 0o600); err != nil {
			return err
		}
	}
	timeout := strconv.Itoa(int(c.opts.StartTimeout.Seconds()))
	out, err := c.command(ctx, "pg_ctl", "start", "-D", c.DataDir(), "-l", logf, "-w", "-t", timeout, "-s").CombinedOutput()
	if err == nil {
		return nil
	}
	return &StartError{Dir: c.opts.Dir, Err: err, Output: string(out), LogTail: tail(logf, before, 4096)}
}

// tail returns up to max bytes of path written after offset.
func tail(path string, offset int64, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	if fi.Size()-offset > max {
		offset = fi.Size() - max
	}
	if offset < 0 || offset > fi.Size() {
		offset = 0
	}
	b := make([]byte, fi.Size()-offset)
	n, _ := f.ReadAt(b, offset)
	return string(b[:n])
}

// removeStaleLocks removes a postmaster.pid that names no live server of
// this cluster, and socket lock files naming the same dead server.
func (c *Cluster) removeStaleLocks() error {
	pidFile := filepath.Join(c.DataDir(), "postmaster.pid")
	pid, _ := readPIDFile(pidFile)
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgcluster: %w", err)
	}
	locks, _ := filepath.Glob(filepath.Join(c.SocketDir(), ".s.PGSQL.*.lock"))
	for _, l := range locks {
		lp, err := readPIDFile(l)
		if err != nil || lp == pid || !c.isOurPostmaster(lp) {
			os.Remove(l)
			os.Remove(strings.TrimSuffix(l, ".lock"))
		}
	}
	return nil
}

// Stop stops the server (fast shutdown: sessions are ended, transactions
// rolled back) and waits for it. Stopping a stopped cluster is not an error.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := os.Stat(c.opts.Dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := c.flock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.prepare(ctx); err != nil {
		return err
	}
	st, err := c.status()
	if errors.Is(err, ErrNotInitialized) {
		return nil
	}
	if err != nil || !st.Running {
		return err
	}
	timeout := strconv.Itoa(int(c.opts.StartTimeout.Seconds()))
	out, err := c.command(ctx, "pg_ctl", "stop", "-D", c.DataDir(), "-m", "fast", "-w", "-t", timeout, "-s").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: stopping the cluster in %s: %w\n%s", c.opts.Dir, err, bytes.TrimSpace(out))
	}
	c.log.Info("pgcluster: stopped", "dir", c.opts.Dir)
	return nil
}

// Remove stops the server and deletes the cluster directory with all data.
func (c *Cluster) Remove(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(c.opts.Dir); err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	return nil
}

// AdminURL returns a connection URL for the admin role over the Unix
// socket (peer authentication: the caller must be root, the server's user,
// or the user who created the cluster). It holds no password.
func (c *Cluster) AdminURL() string {
	return SocketURL(c.SocketDir(), c.Port(), c.opts.AdminRole, "postgres")
}

// SocketURL builds a libpq/pgx URL for a Unix socket connection.
func SocketURL(socketDir string, port int, user, database string) string {
	q := url.Values{}
	q.Set("host", socketDir)
	q.Set("port", strconv.Itoa(port))
	q.Set("sslmode", "disable")
	u := url.URL{Scheme: "postgres", User: url.User(user), Path: "/" + database, RawQuery: q.Encode()}
	return u.String()
}

// AdminTCPURL returns a connection URL for the admin role over TCP on
// 127.0.0.1, with its password (keep it out of logs).
func (c *Cluster) AdminTCPURL() (string, error) {
	b, err := os.ReadFile(c.passwordFile())
	if err != nil {
		return "", fmt.Errorf("pgcluster: admin password: %w", err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.opts.AdminRole, strings.TrimSpace(string(b))),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())), Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String(), nil
}

// AdminConfig returns a pgx configuration for AdminURL.
func (c *Cluster) AdminConfig() (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(c.AdminURL())
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %w", err)
	}
	return cfg, nil
}

// Connect opens an admin connection over the Unix socket.
func (c *Cluster) Connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := c.AdminConfig()
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: connecting to %s: %w", c.opts.Dir, err)
	}
	return conn, nil
}

// ServerVersion asks a connected server for its version (server_version_num).
func ServerVersion(ctx context.Context, conn *pgx.Conn) (*semver.Version, error) {
	var s string
	if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&s); err != nil {
		return nil, fmt.Errorf("pgcluster: server version: %w", err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: server_version_num %q: %w", s, err)
	}
	return VersionFromNum(n)
}
