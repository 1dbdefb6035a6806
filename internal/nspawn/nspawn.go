package nspawn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/internal/procgroup"
	"github.com/deploykit/deploykit/internal/tailbuf"
)

// Suite is the Debian release the root file system is made of.
const Suite = "bookworm"

// Packages are installed into the root file system besides minbase.
// postgresql-15 lets an instance's embedded cluster run as a unit of the
// container's systemd (its default cluster is removed, see EnsureRootfs);
// rabbitmq-server does the same for the embedded broker node (the
// package's own service and the host-wide epmd are masked).
// openssh-server makes the containers hosts that configuration management
// reaches over SSH (Hosts; its sshd listens on the host's address only);
// python3-apt lets Ansible's apt module run there without fetching it
// first, and the postgresql metapackage is the name Debian's hosts know
// PostgreSQL's server by: a test that removes the server from a host puts
// it back from a mirror of the root file system's own .deb files.
var Packages = []string{"systemd", "systemd-sysv", "dbus", "python3", "python3-apt", "postgresql", "postgresql-15", "rabbitmq-server", "openssh-server"}

// marker is written into a finished root file system.
const marker = ".deploykit-rootfs"

// Bind is a bind mount from the host into the container.
type Bind struct {
	Host      string
	Container string // "" = same path as Host
	ReadOnly  bool
}

// Options configure Boot. The zero value boots DefaultRootfs() with a
// private network.
type Options struct {
	// Rootfs is the root file system (see EnsureRootfs); "" = DefaultRootfs().
	Rootfs string
	// Binds are bind-mounted into the container.
	Binds []Bind
	// HostNetwork shares the host's network namespace instead of a private
	// one with only lo.
	HostNetwork bool
	// BootTimeout bounds the boot up to is-system-running (0 = 60s).
	BootTimeout time.Duration
	// StopTimeout bounds the poweroff on Close (0 = 20s), then it is killed.
	StopTimeout time.Duration
	// Logger receives progress (nil = discard).
	Logger *slog.Logger
}

// Container is a running systemd-nspawn container.
type Container struct {
	Name string // the machine name
	cmd  *exec.Cmd
	pid  int
	done chan struct{}
	werr error
	out  *tailbuf.Buffer
	opts Options
	once sync.Once
	cerr error
}

// DefaultRootfs is where the root file system is kept:
// $DEPLOYKIT_TEST_CACHE/nspawn-rootfs-HASH (default cache
// /var/tmp/deploykit-test), HASH naming Suite and Packages.
func DefaultRootfs() string {
	c := os.Getenv("DEPLOYKIT_TEST_CACHE")
	if c == "" {
		c = "/var/tmp/deploykit-test"
	}
	// The tree is named for what it holds, so a changed package list gets
	// a tree of its own instead of a stale one.
	h := sha256.Sum256([]byte(Suite + " " + strings.Join(Packages, ",")))
	return filepath.Join(c, "nspawn-rootfs-"+hex.EncodeToString(h[:4]))
}

// Error is a failed harness step, with the container's console output.
type Error struct {
	Step    string
	Err     error
	Console string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("nspawn: %s: %v", e.Step, e.Err)
	if e.Console != "" {
		s += "\n--- container console (tail) ---\n" + e.Console
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTimeout is wrapped by errors of steps that ran out of time.
var ErrTimeout = errors.New("timed out")

// Boot starts a container and waits until its systemd reports running (or
// degraded). On error nothing is left running.
func Boot(ctx context.Context, opts Options) (*Container, error) {
	if opts.Rootfs == "" {
		opts.Rootfs = DefaultRootfs()
	}
	if opts.BootTimeout <= 0 {
		opts.BootTimeout = 60 * time.Second
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 20 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(filepath.Join(opts.Rootfs, marker)); err != nil {
		return nil, &Error{Step: "rootfs", Err: fmt.Errorf("%s is not a finished root file system (EnsureRootfs makes one): %w", opts.Rootfs, err)}
	}
	nspawn, err := exec.LookPath("systemd-nspawn")
	if err != nil {
		return nil, &Error{Step: "boot", Err: err}
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	name := "dk-" + hex.EncodeToString(rnd[:])
	args := []string{"--quiet", "--volatile=overlay", "--keep-unit", "--register=no",
		"--machine=" + name, "-D", opts.Rootfs}
	if !opts.HostNetwork {
		args = append(args, "--private-network")
	}
	for _, b := range opts.Binds {
		dst := b.Container
		if dst == "" {
			dst = b.Host
		}
		flag := "--bind="
		if b.ReadOnly {
			flag = "--bind-ro="
		}
		args = append(args, flag+b.Host+":"+dst)
	}
	args = append(args, "--boot")
	groups, err := newCgroups(name)
	if err != nil {
		return nil, &Error{Step: "boot", Err: err}
	}
	c := &Container{Name: name, done: make(chan struct{}), out: &tailbuf.Buffer{Max: 64 << 10}, opts: opts}
	argv := groups.wrap(append([]string{nspawn}, args...))
	c.cmd = exec.Command(argv[0], argv[1:]...)
	c.cmd.Stdin = nil
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.out
	// If the test binary dies, nspawn gets SIGTERM and shuts the container
	// down rather than leaving it running.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	log.Debug("nspawn boot", "args", args)
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		groups.remove()
		return nil, &Error{Step: "boot", Err: err}
	}
	go func() {
		c.werr = c.cmd.Wait()
		if err := groups.remove(); err != nil {
			log.Warn("nspawn: control groups left behind", "machine", name, "err", err)
		}
		close(c.done)
	}()
	bctx, cancel := context.WithTimeout(ctx, opts.BootTimeout)
	defer cancel()
	if err := c.findInit(bctx); err != nil {
		c.kill()
		return nil, &Error{Step: "find init", Err: err, Console: consoleTail(c.out)}
	}
	if err := c.waitRunning(bctx); err != nil {
		c.kill()
		return nil, &Error{Step: "wait for is-system-running", Err: err, Console: consoleTail(c.out)}
	}
	log.Info("nspawn container up", "machine", name, "pid", c.pid, "took", time.Since(start))
	return c, nil
}

// PID is the container's init process, as seen from the host.
func (c *Container) PID() int { return c.pid }

// Root is the container's root directory as seen from the host
// (/proc/PID/root): files written under it land in the container's
// volatile overlay.
func (c *Container) Root() string { return fmt.Sprintf("/proc/%d/root", c.pid) }

// Console returns the tail of the container's console output.
func (c *Container) Console() string { return consoleTail(c.out) }

func (c *Container) findInit(ctx context.Context) error {
	nspawnPID := c.cmd.Process.Pid
	for {
		if pid := initChild(nspawnPID); pid > 0 {
			c.pid = pid
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("systemd-nspawn exited: %v", c.werr)
		case <-ctx.Done():
			return fmt.Errorf("%w: no systemd child of nspawn pid %d: %v", ErrTimeout, nspawnPID, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// initChild returns the child of parent that runs systemd in its own pid
// namespace, or 0.
func initChild(parent int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
	if err != nil {
		return 0
	}
	self, _ := os.Readlink("/proc/self/ns/pid")
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		if strings.TrimSpace(string(comm)) == "systemd" && ns != "" && ns != self {
			return pid
		}
	}
	return 0
}

func (c *Container) waitRunning(ctx context.Context) error {
	for {
		// is-system-running --wait needs the manager's bus, which exists a
		// moment after init starts: retry until then.
		out, _ := c.Exec(ctx, "systemctl", "is-system-running", "--wait")
		state := strings.TrimSpace(string(out))
		switch state {
		case "running", "degraded":
			return nil
		case "stopping", "maintenance":
			return fmt.Errorf("system state %q", state)
		}
		select {
		case <-c.done:
			return fmt.Errorf("systemd-nspawn exited: %v", c.werr)
		case <-ctx.Done():
			return fmt.Errorf("%w: last state %q: %v", ErrTimeout, state, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Command returns a command that runs argv inside the container (all of
// its namespaces, its root), as root.
func (c *Container) Command(ctx context.Context, argv ...string) *exec.Cmd {
	args := append([]string{"-t", strconv.Itoa(c.pid), "-a", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	// A minimal, predictable environment; the container's PATH, not ours.
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
	// nsenter forks into the container's pid namespace and does not pass
	// signals on: cancel kills the whole process group (nsenter and the
	// program inside), or the program would outlive its context.
	procgroup.KillOnCancel(cmd)
	cmd.WaitDelay = time.Second
	return cmd
}

// Exec runs argv inside the container and returns its combined output.
// A non-zero exit is an *exec.ExitError wrapped with the output.
func (c *Container) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	out, err := c.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("in container %s: %s: %w\n%s", c.Name, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// WriteFile writes a file inside the container (creating its directory).
func (c *Container) WriteFile(path string, data []byte, perm os.FileMode) error {
	p := filepath.Join(c.Root(), path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

// CopyIn copies a host file into the container at path, keeping its mode.
func (c *Container) CopyIn(hostPath, path string) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return err
	}
	fi, err := os.Stat(hostPath)
	if err != nil {
		return err
	}
	return c.WriteFile(path, data, fi.Mode().Perm())
}

// Close powers the container off, waiting at most Options.StopTimeout,
// then kills it. It is safe to call more than once.
func (c *Container) Close() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.StopTimeout)
		defer cancel()
		select {
		case <-c.done:
			return
		default:
		}
		c.Command(ctx, "systemctl", "poweroff", "--no-block").Run()
		select {
		case <-c.done:
		case <-ctx.Done():
			c.kill()
			c.cerr = &Error{Step: "poweroff", Err: ErrTimeout, Console: consoleTail(c.out)}
		}
	})
	return c.cerr
}

func (c *Container) kill() {
	if c.cmd.Process != nil {
		syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		if c.pid > 0 {
			// The container's init is in its own session; kill it too.
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
}

// consoleTail is the last 40 lines of what the console kept.
func consoleTail(b *tailbuf.Buffer) string {
	s := b.String()
	if lines := strings.Split(s, "\n"); len(lines) > 40 {
		s = strings.Join(lines[len(lines)-40:], "\n")
	}
	return s
}

// EnsureRootfs makes the root file system at dir unless it exists, with
// debootstrap from mirror ("" = the host's Debian mirror from
// /etc/apt/sources.list*, else deb.debian.org). Concurrent callers, also
// in other processes, serialize on dir+".lock"; the tree is built in
// dir+".tmp" and renamed into place.
func EnsureRootfs(ctx context.Context, dir, mirror string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	defer lock.Close()
	if err := flock.Wait(ctx, lock, 200*time.Millisecond); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w waiting for %s: %v", ErrTimeout, lock.Name(), err)
		}
		return &Error{Step: "rootfs lock", Err: err}
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
		return nil // another process made it while we waited
	}
	if mirror == "" {
		mirror = HostMirror()
	}
	tmp := dir + ".tmp"
	// A debootstrap that was killed (a test's timeout) leaves /proc and
	// /sys mounted in its target: they would keep the tree from being
	// removed and the next debootstrap from running.
	unmountUnder(tmp)
	os.RemoveAll(tmp)
	os.RemoveAll(dir) // unfinished (no marker)
	debootstrap, err := exec.LookPath("debootstrap")
	if err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	start := time.Now()
	log.Info("debootstrap", "dir", dir, "mirror", mirror)
	// The packages are kept beside the trees: a tree for a new package
	// list downloads only what is new.
	debs := filepath.Join(filepath.Dir(dir), "debootstrap-cache")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	cmd := exec.CommandContext(ctx, debootstrap, "--variant=minbase", "--cache-dir="+debs, "--include="+strings.Join(Packages, ","), Suite, tmp, mirror)
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		unmountUnder(tmp)
		os.RemoveAll(tmp)
		return &Error{Step: "debootstrap", Err: err, Console: tailLines(string(out), 30)}
	}
	// The postgresql package made a default cluster, which would start at
	// every boot on port 5432 (containers may share the host's network).
	// Tests run their own clusters: remove it.
	dirs, _ := filepath.Glob(filepath.Join(tmp, "etc/postgresql/*/main"))
	for _, d := range dirs {
		ver := filepath.Base(filepath.Dir(d))
		os.RemoveAll(d)
		os.RemoveAll(filepath.Join(tmp, "var/lib/postgresql", ver, "main"))
	}
	// openssh-server enabled its sshd, which would listen on every address
	// of a container sharing the machine's network (HostNetwork): the
	// machine's own public ones included. Disabled here; Hosts start it
	// on their own addresses only.
	sshUnits, _ := filepath.Glob(filepath.Join(tmp, "etc/systemd/system/*.wants/ssh.service"))
	for _, p := range append(sshUnits, filepath.Join(tmp, "etc/systemd/system/sshd.service")) {
		os.Remove(p)
	}
	// rabbitmq-server's own service and erlang's shared epmd (port 4369)
	// would start at every boot; deploykit's nodes run epmds of their own.
	for _, u := range []string{"rabbitmq-server.service", "epmd.service", "epmd.socket"} {
		p := filepath.Join(tmp, "etc/systemd/system", u)
		os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return &Error{Step: "rootfs", Err: err}
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, marker), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return &Error{Step: "rootfs", Err: err}
	}
	log.Info("rootfs ready", "dir", dir, "took", time.Since(start))
	return nil
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest
// first.
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			points = append(points, f[1])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// HostMirror returns the Debian mirror the host's apt uses, read from
// /etc/apt/sources.list and /etc/apt/sources.list.d/*.{list,sources}
// (the first http(s) URL of a "debian" archive that is not the security
// archive), or http://deb.debian.org/debian.
func HostMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	lists, _ := filepath.Glob("/etc/apt/sources.list.d/*.list")
	files = append(append([]string{"/etc/apt/sources.list"}, lists...), files...)
	for _, f := range files {
		if u := mirrorIn(f); u != "" {
			return u
		}
	}
	return "http://deb.debian.org/debian"
}

func mirrorIn(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseMirror(f)
}

// parseMirror finds a Debian archive URL in one-line ("deb URL suite …")
// or deb822 ("URIs: URL") sources.
func parseMirror(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		var urls []string
		fs := strings.Fields(line)
		switch {
		case len(fs) >= 2 && fs[0] == "deb":
			for _, f := range fs[1:] {
				if strings.HasPrefix(f, "[") || strings.HasSuffix(f, "]") || strings.Contains(f, "=") {
					continue
				}
				urls = append(urls, f)
				break
			}
		case len(fs) >= 2 && strings.EqualFold(fs[0], "URIs:"):
			urls = fs[1:]
		}
		for _, u := range urls {
			if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) &&
				strings.Contains(u, "debian") && !strings.Contains(u, "security") {
				return strings.TrimRight(u, "/")
			}
		}
	}
	return ""
}
