package rabbitnode

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// AdminUser is the administrator every node is created with.
const AdminUser = "deploykit-admin"

// Sentinel errors; test with errors.Is.
var (
	// ErrNotInitialized: the node directory holds no initialised node.
	ErrNotInitialized = errors.New("rabbitnode: node not initialised")
	// ErrNotReady: the node did not answer its management API in time.
	ErrNotReady = errors.New("rabbitnode: node did not become ready")
)

// Options configure a Node. Only Dir is required.
type Options struct {
	// Dir holds the node (see the package doc).
	Dir string
	// Name is the node's name before "@localhost" (default "deploykit").
	// Nodes have epmds of their own, so names only need to differ for
	// people reading process lists.
	Name string
	// Address is the IP address AMQP listens on (default 127.0.0.1).
	Address string
	// SystemUser runs the node when the caller is root; default
	// "rabbitmq", created as a system user when missing.
	SystemUser string
	// StartTimeout bounds Start and Ready (default 3 minutes: a first
	// boot on a busy 2-CPU machine takes 10–25 s).
	StartTimeout time.Duration
	// StopTimeout bounds a graceful stop before the group is killed
	// (default 1 minute).
	StopTimeout time.Duration
	// Logger receives what the node does; nil discards.
	Logger *slog.Logger
}

// Ports are a node's TCP ports, chosen once at Init.
type Ports struct {
	AMQP       int `json:"amqp"`
	Management int `json:"management"`
	Dist       int `json:"dist"`
	EPMD       int `json:"epmd"`
}

// Node is one RabbitMQ node in Options.Dir.
type Node struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	bins  Binaries
	owner *sysUser // nil: the node runs as the caller
	ports Ports
}

type sysUser struct {
	Name     string
	UID, GID int
}

// New checks the options; it does no I/O.
func New(opts Options) (*Node, error) {
	if opts.Dir == "" {
		return nil, errors.New("rabbitnode: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("rabbitnode: %w", err)
	}
	opts.Dir = dir
	if opts.Name == "" {
		opts.Name = "deploykit"
	}
	for _, r := range opts.Name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return nil, fmt.Errorf("rabbitnode: node name %q: lower-case letters, digits, '-' and '_' only", opts.Name)
		}
	}
	if opts.Address == "" {
		opts.Address = "127.0.0.1"
	}
	if net.ParseIP(opts.Address) == nil {
		return nil, fmt.Errorf("rabbitnode: listen address %q is not an IP address", opts.Address)
	}
	if opts.SystemUser == "" {
		opts.SystemUser = "rabbitmq"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 3 * time.Minute
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Node{opts: opts, log: log}, nil
}

// Dir returns the node directory.
func (n *Node) Dir() string { return n.opts.Dir }

// DataDir returns the node's database directory.
func (n *Node) DataDir() string { return filepath.Join(n.opts.Dir, "data") }

// NodeName returns the Erlang node name (NAME@localhost).
func (n *Node) NodeName() string { return n.opts.Name + "@localhost" }

// Address returns the IP address AMQP listens on.
func (n *Node) Address() string { return n.opts.Address }

func (n *Node) path(name string) string { return filepath.Join(n.opts.Dir, name) }

// prepare finds the binaries and the node's user. n.mu is held.
func (n *Node) prepare(ctx context.Context) error {
	if n.bins.Server == "" {
		b, err := FindBinaries(ctx)
		if err != nil {
			return err
		}
		n.bins = b
	}
	if os.Geteuid() == 0 && n.owner == nil {
		u, err := ensureSystemUser(ctx, n.opts.SystemUser, n.log)
		if err != nil {
			return err
		}
		n.owner = u
	}
	return nil
}

// Binaries returns the programs the node runs.
func (n *Node) Binaries(ctx context.Context) (Binaries, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.prepare(ctx); err != nil {
		return Binaries{}, err
	}
	return n.bins, nil
}

// SystemUser returns the account the node runs as: Options.SystemUser as
// root, else the caller (uid and gid -1).
func (n *Node) SystemUser(ctx context.Context) (name string, uid, gid int, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.prepare(ctx); err != nil {
		return "", 0, 0, err
	}
	if n.owner == nil {
		name := strconv.Itoa(os.Getuid())
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		return name, -1, -1, nil
	}
	return n.owner.Name, n.owner.UID, n.owner.GID, nil
}

// Init makes the node directory when it holds no node: ports, password,
// cookie and configuration. It is idempotent, and rewrites the
// configuration each time (so a changed Options.Address takes effect at
// the next start).
func (n *Node) Init(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.init(ctx)
}

func (n *Node) init(ctx context.Context) error {
	if err := n.prepare(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(n.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("rabbitnode: %w", err)
	}
	if err := os.Chmod(n.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("rabbitnode: %w", err)
	}
	if err := n.chown(n.opts.Dir); err != nil {
		return err
	}
	ports, err := n.readPorts()
	if errors.Is(err, fs.ErrNotExist) {
		if ports, err = pickPorts(); err != nil {
			return err
		}
		b, _ := json.Marshal(ports)
		if err := atomicfile.WriteFile(n.path("ports.json"), append(b, '\n'), 0o644); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	n.ports = ports
	password, err := n.adminPassword()
	if errors.Is(err, fs.ErrNotExist) {
		password = randomToken(24)
		// The administrator's password is the caller's (root's, in
		// product), as is the cluster's admin.password of pgcluster.
		if err := atomicfile.WriteFile(n.path("admin.password"), []byte(password+"\n"), 0o600); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := os.Stat(n.path(".erlang.cookie")); errors.Is(err, fs.ErrNotExist) {
		if err := n.writeOwned(".erlang.cookie", []byte(randomToken(30)), 0o400); err != nil {
			return err
		}
	}
	// default_user makes the administrator, instead of guest, the user a
	// new database starts with; RabbitMQ reads it only at first boot.
	conf := fmt.Sprintf(`# written by deploykit (internal/rabbitnode) at every start
listeners.tcp.default = %s
management.tcp.ip = 127.0.0.1
management.tcp.port = %d
default_user = %s
default_pass = %s
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
`, net.JoinHostPort(n.opts.Address, strconv.Itoa(ports.AMQP)), ports.Management, AdminUser, password)
	if err := n.writeOwned("rabbitmq.conf", []byte(conf), 0o600); err != nil {
		return err
	}
	if err := n.writeOwned("enabled_plugins", []byte("[rabbitmq_management].\n"), 0o644); err != nil {
		return err
	}
	for _, d := range []string{"log"} {
		if err := os.MkdirAll(n.path(d), 0o700); err != nil {
			return fmt.Errorf("rabbitnode: %w", err)
		}
		if err := n.chown(n.path(d)); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) readPorts() (Ports, error) {
	var p Ports
	b, err := os.ReadFile(n.path("ports.json"))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil || p.AMQP == 0 || p.Management == 0 || p.Dist == 0 || p.EPMD == 0 {
		return p, fmt.Errorf("rabbitnode: %s: not a valid port record", n.path("ports.json"))
	}
	return p, nil
}

// Ports returns the node's ports (known after Init).
func (n *Node) Ports() Ports {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ports.AMQP == 0 {
		if p, err := n.readPorts(); err == nil {
			n.ports = p
		}
	}
	return n.ports
}

func (n *Node) adminPassword() (string, error) {
	b, err := os.ReadFile(n.path("admin.password"))
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(b))
	if p == "" {
		return "", fmt.Errorf("rabbitnode: %s is empty", n.path("admin.password"))
	}
	return p, nil
}

// AdminURL is the management API's URL with the administrator's
// credentials (keep it out of logs): what instance/broker is given.
func (n *Node) AdminURL() (string, error) {
	p, err := n.adminPassword()
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s", ErrNotInitialized, n.opts.Dir)
		}
		return "", err
	}
	u := url.URL{Scheme: "http", User: url.UserPassword(AdminUser, p),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(n.Ports().Management)), Path: "/"}
	return u.String(), nil
}

// Env is the node program's environment (see Command).
func (n *Node) Env() map[string]string {
	p := n.Ports()
	return map[string]string{
		"HOME":                          n.opts.Dir, // the Erlang cookie
		"PATH":                          "/usr/local/bin:/usr/bin:/bin",
		"LANG":                          "C.UTF-8",
		"LC_ALL":                        "C.UTF-8",
		"RABBITMQ_CONF_ENV_FILE":        n.path("rabbitmq-env.conf"), // never written: no /etc/rabbitmq
		"RABBITMQ_CONFIG_FILE":          n.path("rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE": n.path("advanced.config"),
		"RABBITMQ_ENABLED_PLUGINS_FILE": n.path("enabled_plugins"),
		"RABBITMQ_NODENAME":             n.NodeName(),
		// The database in a directory of its own below the base (which
		// holds the feature flags file): RabbitMQ takes a non-empty
		// database directory for a node that booted before, and would
		// not enable every feature flag on the first boot.
		"RABBITMQ_MNESIA_BASE": n.DataDir(),
		"RABBITMQ_MNESIA_DIR":  filepath.Join(n.DataDir(), "mnesia"),
		"RABBITMQ_LOG_BASE":    n.path("log"),
		"RABBITMQ_LOGS":        "-",
		"RABBITMQ_PID_FILE":    n.path("node.pid"),
		"RABBITMQ_DIST_PORT":   strconv.Itoa(p.Dist),
		"ERL_EPMD_PORT":        strconv.Itoa(p.EPMD),
		"ERL_EPMD_ADDRESS":     "127.0.0.1",
		// The distribution listens on loopback only.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
	}
}

// epmdScript starts the node's own epmd in the background (same process
// group), waits until it answers, then becomes the RabbitMQ server. One
// line: service controllers take no newlines in arguments. An
// epmd that RabbitMQ's start-up would launch itself (epmd -daemon) would
// leave the group and outlive the node.
const epmdScript = `"$1" -address 127.0.0.1 -port "$ERL_EPMD_PORT" & ` +
	`i=0; until "$1" -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do ` +
	`i=$((i+1)); if [ "$i" -gt 200 ]; then echo "rabbitnode: epmd did not start on 127.0.0.1:$ERL_EPMD_PORT" >&2; exit 1; fi; sleep 0.05; ` +
	`done; exec "$2"`

// Command is the node as one foreground program, for a service
// controller: its own epmd, then rabbitmq-server. Stop it with SIGTERM to
// its process group (systemd and the built-in supervisor do).
func (n *Node) Command(ctx context.Context) ([]string, error) {
	b, err := n.Binaries(ctx)
	if err != nil {
		return nil, err
	}
	return []string{"/bin/sh", "-c", epmdScript, "rabbitnode", b.EPMD, b.Server}, nil
}

func (n *Node) chown(path string) error {
	if n.owner == nil {
		return nil
	}
	if err := os.Lchown(path, n.owner.UID, n.owner.GID); err != nil {
		return fmt.Errorf("rabbitnode: %w", err)
	}
	return nil
}

func (n *Node) writeOwned(name string, data []byte, mode os.FileMode) error {
	p := n.path(name)
	if mode&0o200 == 0 {
		// A read-only file (the cookie) cannot be replaced by its owner;
		// the atomic write renames over it as the caller.
		os.Chmod(p, 0o600)
	}
	if err := atomicfile.WriteFile(p, data, mode); err != nil {
		return err
	}
	return n.chown(p)
}

// Status is the state of the node's process.
type Status struct {
	Running bool
	PID     int // the Erlang VM's PID when running
}

// Status reports whether the node's VM runs (by its PID file). It does
// not connect.
func (n *Node) Status() (Status, error) {
	if _, err := os.Stat(n.path("ports.json")); err != nil {
		return Status{}, fmt.Errorf("%w: %s", ErrNotInitialized, n.opts.Dir)
	}
	b, err := os.ReadFile(n.path("node.pid"))
	if err != nil {
		return Status{}, nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !n.isOurVM(pid) {
		return Status{}, nil
	}
	return Status{Running: true, PID: pid}, nil
}

// isOurVM reports whether pid is a live Erlang VM of this node (its
// command line names the node directory), not a reused PID.
func (n *Node) isOurVM(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return bytes.Contains(b, []byte("beam")) && bytes.Contains(b, []byte(n.opts.Dir))
}

// Start runs the node detached, in a process group of its own (output to
// Dir/node.log), and waits until it is Ready. A running node is left
// alone. For nodes without a service controller: tests, mostly.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if err := n.init(ctx); err != nil {
		n.mu.Unlock()
		return err
	}
	n.mu.Unlock()
	if st, _ := n.Status(); st.Running {
		return n.Ready(ctx)
	}
	argv, err := n.Command(ctx)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(n.path("node.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("rabbitnode: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = n.opts.Dir
	for k, v := range n.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := &syscall.SysProcAttr{Setsid: true}
	if n.owner != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(n.owner.UID), Gid: uint32(n.owner.GID), Groups: []uint32{}}
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("rabbitnode: starting %s: %w", argv[len(argv)-1], err)
	}
	// The group's leader is the shell that becomes the server: its PID is
	// the group to signal, also for a watcher that outlives this process.
	if err := atomicfile.WriteFile(n.path("node.pgid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	n.log.Info("rabbitnode: starting", "dir", n.opts.Dir, "pid", cmd.Process.Pid)
	err = n.ready(ctx, exited)
	if err != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("%w\nnode log (%s):\n%s", err, n.path("node.log"), tail(n.path("node.log"), 3000))
	}
	return nil
}

// Ready waits until the node answers its management API as the
// administrator and accepts AMQP connections (at most
// Options.StartTimeout), then hardens it: a
// "guest" user is deleted.
func (n *Node) Ready(ctx context.Context) error { return n.ready(ctx, nil) }

func (n *Node) ready(ctx context.Context, exited <-chan error) error {
	base, err := n.AdminURL()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(n.opts.StartTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	amqpAddr := net.JoinHostPort(n.opts.Address, strconv.Itoa(n.Ports().AMQP))
	for {
		code, _, err := call(ctx, client, "GET", base, "api/overview")
		if err == nil && code == http.StatusOK {
			// RabbitMQ (3.8 and later) opens its client listeners last,
			// after the plugins: the management API answers a moment
			// before AMQP accepts, and a client started then is refused.
			var c net.Conn
			if c, err = net.DialTimeout("tcp", amqpAddr, time.Second); err == nil {
				c.Close()
				break
			}
			err = fmt.Errorf("AMQP on %s: %w", amqpAddr, err)
		} else if err == nil {
			err = fmt.Errorf("GET /api/overview: HTTP %d", code)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s (management API on port %d): %v", ErrNotReady, n.opts.Dir, n.Ports().Management, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("%w: %s: the node exited (%v)", ErrNotReady, n.opts.Dir, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	code, _, err := call(ctx, client, "GET", base, "api/users/guest")
	if err != nil {
		return err
	}
	if code == http.StatusOK {
		n.log.Warn("rabbitnode: deleting the guest user", "dir", n.opts.Dir)
		if code, body, err := call(ctx, client, "DELETE", base, "api/users/guest"); err != nil || code >= 300 && code != http.StatusNotFound {
			return fmt.Errorf("rabbitnode: deleting the guest user: HTTP %d %s %v", code, body, err)
		}
	}
	return nil
}

func call(ctx context.Context, c *http.Client, method, base, path string) (int, string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, "", err
	}
	pw, _ := u.User.Password()
	name := u.User.Username()
	u.User = nil
	req, err := http.NewRequestWithContext(ctx, method, u.JoinPath(path).String(), nil)
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth(name, pw)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

// Stop stops the node gracefully (SIGTERM to its process group: the
// server and its epmd) and waits for it, killing the group after
// Options.StopTimeout. Stopping a stopped node is not an error.
func (n *Node) Stop(ctx context.Context) error {
	st, err := n.Status()
	if errors.Is(err, ErrNotInitialized) || err == nil && !st.Running {
		n.killLeftovers()
		return nil
	}
	if err != nil {
		return err
	}
	pgid, err := syscall.Getpgid(st.PID)
	if err != nil || pgid <= 1 || pgid == syscall.Getpgrp() {
		pgid = 0
	}
	signal := func(sig syscall.Signal) {
		if pgid > 0 {
			syscall.Kill(-pgid, sig)
		} else {
			syscall.Kill(st.PID, sig)
		}
	}
	signal(syscall.SIGTERM)
	deadline := time.Now().Add(n.opts.StopTimeout)
	for n.isOurVM(st.PID) {
		if time.Now().After(deadline) {
			n.log.Warn("rabbitnode: stop timed out, killing", "dir", n.opts.Dir)
			signal(syscall.SIGKILL)
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The epmd of the group, should it have outlived the server; then
	// wait (briefly) until the group's processes are reaped.
	if pgid > 0 {
		syscall.Kill(-pgid, syscall.SIGKILL)
		for i := 0; i < 50 && syscall.Kill(-pgid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
	n.log.Info("rabbitnode: stopped", "dir", n.opts.Dir)
	return nil
}

// killLeftovers kills what is left of a group Start made (an epmd whose
// server died) once its server is gone.
func (n *Node) killLeftovers() {
	b, err := os.ReadFile(n.path("node.pgid"))
	if err != nil {
		return
	}
	if pgid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	os.Remove(n.path("node.pgid"))
}

// Remove stops the node and deletes its directory with all data.
func (n *Node) Remove(ctx context.Context) error {
	if err := n.Stop(ctx); err != nil {
		return err
	}
	if err := os.RemoveAll(n.opts.Dir); err != nil {
		return fmt.Errorf("rabbitnode: %w", err)
	}
	return nil
}

// pickPorts finds four free ports on 127.0.0.1, held open together so
// they differ.
func pickPorts() (Ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var got [4]int
	for i := range got {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Ports{}, fmt.Errorf("rabbitnode: finding a free port: %w", err)
		}
		ls = append(ls, l)
		got[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{AMQP: got[0], Management: got[1], Dist: got[2], EPMD: got[3]}, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// tail returns the last max bytes of a file.
func tail(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := fi.Size() - max
	if off < 0 {
		off = 0
	}
	b := make([]byte, fi.Size()-off)
	k, _ := f.ReadAt(b, off)
	return string(b[:k])
}
