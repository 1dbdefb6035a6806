package supervise

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/services"
)

// proc is one component and its current process.
type proc struct {
	s     *Supervisor
	c     services.Component
	files []*os.File
	addrs []string // bound addresses of files
	out   *rotator

	op sync.Mutex // serializes start/stop/restart/auto-restart

	mu       sync.Mutex
	cur      *child
	gen      int // bumped by every explicit start/stop/restart
	want     bool
	state    services.State
	sub      string
	since    time.Time
	restarts int
	exitCode int
	errMsg   string
	failures int         // consecutive crashes, for the backoff
	crashes  []time.Time // recent automatic restarts, for the crash-loop limit
}

type child struct {
	cmd      *exec.Cmd
	pid      int
	pidStart uint64
	started  time.Time
	done     chan struct{}
	copied   chan struct{}
	status   syscall.WaitStatus
}

func (p *proc) set(st services.State, sub, msg string) {
	p.mu.Lock()
	p.state, p.sub, p.errMsg, p.since = st, sub, msg, time.Now()
	p.mu.Unlock()
	p.s.writeState(true)
}

func (p *proc) snapshot() componentState {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := componentState{Status: services.Status{Instance: p.c.Instance, Component: p.c.Name, State: p.state,
		Sub: p.sub, Since: p.since, Restarts: p.restarts, ExitCode: p.exitCode, Error: p.errMsg,
		Listen: append(append([]string(nil), p.addrs...), p.c.SelfBound...)}}
	if p.cur != nil {
		cs.PID, cs.PGID, cs.PIDStart = p.cur.pid, p.cur.pid, p.cur.pidStart
	}
	return cs
}

// start starts the component unless it runs.
func (p *proc) start(ctx context.Context) error {
	p.op.Lock()
	defer p.op.Unlock()
	p.mu.Lock()
	running := p.cur != nil
	p.gen++
	p.want = true
	p.failures = 0
	p.crashes = nil
	p.mu.Unlock()
	if running {
		return nil
	}
	return p.launch(ctx)
}

// launch starts a process and makes it current; on failure the component
// is failed and not restarted. Called with p.op held.
func (p *proc) launch(ctx context.Context) error {
	p.set(services.StateActivating, "start", "")
	ch, err := p.spawn(ctx)
	if err != nil {
		p.mu.Lock()
		p.want = false
		p.mu.Unlock()
		p.set(services.StateFailed, "failed", err.Error())
		return err
	}
	p.mu.Lock()
	p.cur = ch
	gen := p.gen
	p.mu.Unlock()
	p.set(services.StateActive, "running", "")
	go p.watch(ch, gen)
	return nil
}

// stop stops the component's process (graceful, then the group is killed).
func (p *proc) stop() {
	p.op.Lock()
	defer p.op.Unlock()
	p.mu.Lock()
	p.gen++
	p.want = false
	ch := p.cur
	p.cur = nil
	p.mu.Unlock()
	if ch != nil {
		p.set(services.StateDeactivating, "stop-sigterm", "")
		p.terminate(ch)
		p.mu.Lock()
		p.exitCode = exitCode(ch.status)
		p.mu.Unlock()
	}
	p.mu.Lock()
	failed := p.state == services.StateFailed
	p.mu.Unlock()
	if !failed || ch != nil {
		p.set(services.StateInactive, "dead", "")
	}
}

// restart replaces the process. A component with listen sockets gets its
// new process started (and ready) before the old one is stopped: both
// accept from the same socket for a moment, and no connection is refused.
// If the new process fails to start, the old one keeps running.
func (p *proc) restart(ctx context.Context) error {
	p.op.Lock()
	defer p.op.Unlock()
	p.mu.Lock()
	p.gen++
	p.want = true
	p.failures = 0
	p.crashes = nil
	old := p.cur
	p.mu.Unlock()
	if old != nil && len(p.files) > 0 {
		p.set(services.StateReloading, "restart", "")
		ch, err := p.spawn(ctx)
		if err != nil {
			p.set(services.StateActive, "running", "restart failed, old process kept: "+err.Error())
			return err
		}
		p.mu.Lock()
		p.cur = ch
		gen := p.gen
		p.mu.Unlock()
		go p.watch(ch, gen)
		p.terminate(old)
		p.set(services.StateActive, "running", "")
		return nil
	}
	if old != nil {
		p.mu.Lock()
		p.cur = nil
		p.mu.Unlock()
		p.set(services.StateDeactivating, "stop-sigterm", "")
		p.terminate(old)
	}
	return p.launch(ctx)
}

func (p *proc) signal() error {
	p.mu.Lock()
	ch := p.cur
	sig := p.c.ReloadSig()
	p.mu.Unlock()
	if ch == nil {
		return fmt.Errorf("%w: component %q is not running", services.ErrNotFound, p.c.Name)
	}
	return syscall.Kill(ch.pid, sig)
}

// watch waits for the process to exit; if nobody asked for it, that is a
// crash: the group is killed and, per the restart policy, the component is
// started again after a backoff.
func (p *proc) watch(ch *child, gen int) {
	for {
		<-ch.done
		killGroup(ch.pid, syscall.SIGKILL)
		p.mu.Lock()
		if p.gen != gen || p.cur != ch {
			p.mu.Unlock()
			return // stopped or replaced on purpose
		}
		p.cur = nil
		code := exitCode(ch.status)
		p.exitCode = code
		lived := time.Since(ch.started)
		pol := p.c.Restart.WithDefaults()
		again := p.want && (p.c.Restart.When == services.RestartAlways ||
			(p.c.Restart.When == services.RestartOnFailure && code != 0))
		if !again {
			p.mu.Unlock()
			if code == 0 {
				p.set(services.StateInactive, "exited", "")
			} else {
				p.set(services.StateFailed, "failed", fmt.Sprintf("exited with status %d", code))
			}
			return
		}
		if lived > 10*time.Second {
			p.failures = 0
		}
		now := time.Now()
		recent := p.crashes[:0]
		for _, t := range p.crashes {
			if now.Sub(t) < pol.Interval {
				recent = append(recent, t)
			}
		}
		p.crashes = recent
		if len(p.crashes) >= pol.Burst {
			p.want = false
			p.mu.Unlock()
			msg := fmt.Sprintf("%v: %d restarts within %v, last exit status %d", ErrCrashLoop, pol.Burst, pol.Interval, code)
			p.s.log.Error("component crash loop", "component", p.c.Name, "status", code)
			p.set(services.StateFailed, "failed", msg)
			return
		}
		delay := pol.Delay << p.failures
		if delay > pol.MaxDelay || delay <= 0 {
			delay = pol.MaxDelay
		}
		p.failures++
		p.crashes = append(p.crashes, now)
		p.mu.Unlock()
		p.s.log.Warn("component exited, restarting", "component", p.c.Name, "status", code, "delay", delay)
		fmt.Fprintf(p.out, "deploykit-supervise: exited with status %d; restarting in %v\n", code, delay)
		p.set(services.StateActivating, "auto-restart", fmt.Sprintf("exited with status %d", code))

		select {
		case <-time.After(delay):
		case <-p.s.quit:
			return
		}
		p.op.Lock()
		p.mu.Lock()
		if p.gen != gen || !p.want || p.cur != nil {
			p.mu.Unlock()
			p.op.Unlock()
			return
		}
		p.restarts++
		p.mu.Unlock()
		next, err := p.spawn(context.Background())
		if err != nil {
			// A failed restart is one more crash: go round again with the
			// same bookkeeping, through a finished pseudo-child.
			fmt.Fprintf(p.out, "deploykit-supervise: restart failed: %v\n", err)
			p.op.Unlock()
			ch = &child{done: closedChan(), started: time.Now(), status: syscall.WaitStatus(1 << 8)}
			p.mu.Lock()
			p.cur = ch
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.cur = next
		p.mu.Unlock()
		p.set(services.StateActive, "running", "")
		p.op.Unlock()
		ch = next
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// terminate stops a process gracefully: the stop signal to its group, then
// SIGKILL to the group after the timeout; and SIGKILL to whatever is left
// of the group once the main process is gone.
func (p *proc) terminate(ch *child) {
	if ch.pid == 0 {
		return
	}
	killGroup(ch.pid, p.c.StopSig())
	select {
	case <-ch.done:
	case <-time.After(p.c.StopWait()):
		p.s.log.Warn("stop timeout, killing", "component", p.c.Name, "pid", ch.pid)
		fmt.Fprintf(p.out, "deploykit-supervise: stop timed out after %v, SIGKILL\n", p.c.StopWait())
	}
	killGroup(ch.pid, syscall.SIGKILL)
	<-ch.done
}

func killGroup(pgid int, sig syscall.Signal) {
	if pgid > 1 {
		syscall.Kill(-pgid, sig)
	}
}

func exitCode(ws syscall.WaitStatus) int {
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return -1
}

// shim sets LISTEN_PID to the pid the command will have (sh execs it, so
// its pid is sh's $$), as sd_listen_fds(3) requires.
const shim = `LISTEN_PID=$$; export LISTEN_PID; exec "$@"`

// spawn starts one process of the component and waits until it is ready.
func (p *proc) spawn(ctx context.Context) (*child, error) {
	c := &p.c
	fail := func(err error, log string) error {
		return &StartError{Instance: c.Instance, Component: c.Name, Err: err, Log: log}
	}
	if fi, err := os.Stat(c.Command[0]); err != nil {
		return nil, fail(fmt.Errorf("%w: %s: %v", ErrNoExecutable, c.Command[0], err), "")
	} else if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fail(fmt.Errorf("%w: %s", ErrNoExecutable, c.Command[0]), "")
	}
	cred, u, err := credential(c)
	if err != nil {
		return nil, fail(err, "")
	}
	if err := waitFree(ctx, c.SelfBound, portFreeWait); err != nil {
		return nil, fail(err, "")
	}
	env, err := p.environ(u)
	if err != nil {
		return nil, fail(err, "")
	}
	var notify *net.UnixConn
	if c.Ready.Kind == services.ReadyNotify {
		var rnd [6]byte
		rand.Read(rnd[:])
		addr := "@deploykit-notify-" + hex.EncodeToString(rnd[:])
		notify, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
		if err != nil {
			return nil, fail(fmt.Errorf("notify socket: %w", err), "")
		}
		defer notify.Close()
		env = append(env, "NOTIFY_SOCKET="+addr)
	}
	argv := c.Command
	if len(p.files) > 0 || c.Limits.LimitNOFILE > 0 {
		script := `exec "$@"`
		if len(p.files) > 0 {
			script = shim
		}
		if n := c.Limits.LimitNOFILE; n > 0 {
			script = "ulimit -n " + strconv.FormatUint(n, 10) + " || exit 126; " + script
		}
		argv = append([]string{"/bin/sh", "-c", script, "deploykit-shim"}, c.Command...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = c.WorkingDir
	if cmd.Dir == "" {
		cmd.Dir = "/"
	}
	cmd.ExtraFiles = p.files
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fail(err, "")
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(p.out, "%s%s] starting %s\n", startMarker, time.Now().UTC().Format(time.RFC3339Nano), strings.Join(c.Command, " "))
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fail(err, "")
	}
	pw.Close()
	ch := &child{cmd: cmd, pid: cmd.Process.Pid, started: time.Now(), done: make(chan struct{}), copied: make(chan struct{})}
	ch.pidStart = procStart(ch.pid)
	go func() {
		io.Copy(p.out, pr)
		pr.Close()
		close(ch.copied)
	}()
	go func() {
		cmd.Wait()
		ch.status = cmd.ProcessState.Sys().(syscall.WaitStatus)
		close(ch.done)
	}()
	if err := p.waitReady(ctx, ch, notify); err != nil {
		killGroup(ch.pid, syscall.SIGKILL)
		<-ch.done
		select {
		case <-ch.copied:
		case <-time.After(300 * time.Millisecond):
		}
		return nil, fail(err, tailLines(p.out.path, 10))
	}
	return ch, nil
}

func (p *proc) waitReady(ctx context.Context, ch *child, notify *net.UnixConn) error {
	c := &p.c
	timeout := c.Ready.Timeout
	if timeout <= 0 {
		timeout = services.DefaultReadyTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := make(chan error, 1)
	switch c.Ready.Kind {
	case services.ReadyNone:
		// Up once it survived the grace period.
		go func() {
			select {
			case <-time.After(p.s.opts.StartGrace):
				ready <- nil
			case <-ctx.Done():
			}
		}()
	case services.ReadyNotify:
		go func() {
			buf := make([]byte, 4096)
			for {
				notify.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				n, err := notify.Read(buf)
				if err == nil {
					for _, l := range strings.Split(string(buf[:n]), "\n") {
						if l == "READY=1" {
							ready <- nil
							return
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
			}
		}()
	case services.ReadyTCP, services.ReadyHTTP:
		addr := c.Ready.Address
		if addr == "" {
			// The first TCP socket, as bound (the spec may say port 0).
			for i, l := range c.Listen {
				if strings.HasPrefix(l.Network, "tcp") && i < len(p.addrs) {
					addr = p.addrs[i]
					break
				}
			}
		}
		if addr == "" {
			addr = c.FirstTCP()
		}
		r := services.Readiness{Kind: c.Ready.Kind, Address: addr, Path: c.Ready.Path}
		go func() {
			for ctx.Err() == nil {
				if services.Probe(ctx, r, time.Second, 2*time.Second) == nil {
					ready <- nil
					return
				}
				select {
				case <-time.After(50 * time.Millisecond):
				case <-ctx.Done():
				}
			}
		}()
	}
	select {
	case err := <-ready:
		if err != nil {
			return err
		}
		// Also catch an exit right after an early READY.
		select {
		case <-ch.done:
			return fmt.Errorf("%w: exited at once with status %d", ErrStartFailed, exitCode(ch.status))
		default:
		}
		return nil
	case <-ch.done:
		return fmt.Errorf("%w: exited at once with status %d", ErrStartFailed, exitCode(ch.status))
	case <-ctx.Done():
		return fmt.Errorf("%w: not ready (%s) within %v", ErrStartFailed, c.Ready.Kind, timeout)
	}
}

// credential returns the uid/gid to switch to (nil: stay as we are), and
// the user, if known.
func credential(c *services.Component) (*syscall.Credential, *user.User, error) {
	uid, gid := c.UID, c.GID
	var u *user.User
	var err error
	switch {
	case c.User != "":
		if u, err = user.Lookup(c.User); err != nil {
			if uid == 0 {
				return nil, nil, fmt.Errorf("user %q: %w", c.User, err)
			}
			u = nil
		}
	case uid != 0:
		u, _ = user.LookupId(strconv.Itoa(uid))
	}
	if u != nil && uid == 0 {
		uid, _ = strconv.Atoi(u.Uid)
	}
	if c.Group != "" && gid == 0 {
		g, err := user.LookupGroup(c.Group)
		if err != nil {
			return nil, nil, fmt.Errorf("group %q: %w", c.Group, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if gid == 0 && u != nil {
		gid, _ = strconv.Atoi(u.Gid)
	}
	if uid == 0 && gid == 0 && c.User == "" && c.Group == "" {
		return nil, u, nil
	}
	if uid != 0 && gid == 0 {
		return nil, nil, fmt.Errorf("uid %d has no group: set Group or GID", uid)
	}
	if os.Geteuid() != 0 {
		if uid == os.Geteuid() && gid == os.Getegid() {
			return nil, u, nil
		}
		return nil, nil, fmt.Errorf("%w: cannot run as uid %d gid %d: the supervisor is not root", os.ErrPermission, uid, gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, u, nil
}

// environ is the component's environment: a minimal base, the user's
// HOME/USER, the EnvironmentFile, Env, and the socket-activation variables.
func (p *proc) environ(u *user.User) ([]string, error) {
	c := &p.c
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if v := os.Getenv("LANG"); v != "" {
		env["LANG"] = v
	}
	if u != nil {
		env["HOME"], env["USER"], env["LOGNAME"] = u.HomeDir, u.Username, u.Username
	}
	if c.EnvironmentFile != "" {
		f, err := os.Open(c.EnvironmentFile)
		if err != nil {
			return nil, fmt.Errorf("environment file: %w", err)
		}
		kvs, err := ParseEnvFile(bufio.NewReader(f), c.EnvironmentFile)
		f.Close()
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			env[kv[0]] = kv[1]
		}
	}
	for k, v := range c.Env {
		env[k] = v
	}
	if len(c.Listen) > 0 {
		var names []string
		for _, l := range c.Listen {
			names = append(names, l.FDName(c.Name))
		}
		env["LISTEN_FDS"] = strconv.Itoa(len(c.Listen))
		env["LISTEN_FDNAMES"] = strings.Join(names, ":")
	}
	delete(env, "LISTEN_PID") // the shim sets it
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out, nil
}

// procStart is a process's start time (field 22 of /proc/PID/stat, clock
// ticks since boot), 0 if it does not exist: with the pid it identifies a
// process, so a recycled pid is not mistaken for it.
func procStart(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}
