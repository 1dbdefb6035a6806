package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/services"
)

// Options configure a supervisor. Instance, Components and Dir are
// required; the rest has useful zero values.
type Options struct {
	Instance   string
	Components []services.Component
	// Dir is the supervisor's state directory (lock, state.json,
	// control.sock, supervisor.log), made 0700.
	Dir string
	// LogDir holds the components' logs (default Dir/log).
	LogDir string
	// Autostart starts every component when Run begins (foreground mode).
	// Without it components start on a control request.
	Autostart bool
	// StartGrace: a process that exits sooner than this after it was started
	// failed to start (0 = 500ms). It also bounds how long a readiness-less
	// component is watched before Start returns.
	StartGrace time.Duration
	// MaxLogSize rotates a component log at this size (0 = 10 MiB);
	// LogFiles rotated files are kept (0 = 3).
	MaxLogSize int64
	LogFiles   int
	// SpecFile, when set, is re-read on an "update" request (see Spec).
	SpecFile string
	// Logger receives the supervisor's own log (nil = discard).
	Logger *slog.Logger
}

// Sentinel errors.
var (
	ErrRunning      = errors.New("supervisor already running")
	ErrNotRunning   = errors.New("supervisor not running")
	ErrStartFailed  = errors.New("component failed to start")
	ErrNoExecutable = errors.New("executable not found or not executable")
	ErrCrashLoop    = errors.New("crash loop")
)

// StartError is a component that could not be started, with the tail of its
// log.
type StartError struct {
	Instance, Component string
	Err                 error
	Log                 string
}

func (e *StartError) Error() string {
	s := fmt.Sprintf("instance %q component %q: %v", e.Instance, e.Component, e.Err)
	if e.Log != "" {
		s += "\n--- last log lines ---\n" + e.Log
	}
	return s
}

func (e *StartError) Unwrap() error { return e.Err }

// Supervisor supervises one instance's components.
type Supervisor struct {
	opts    Options
	log     *slog.Logger
	mu      sync.RWMutex // guards procs and order
	procs   map[string]*proc
	order   []string
	lock    *os.File
	ctl     net.Listener
	quit    chan struct{}
	quitO   sync.Once
	stateMu sync.Mutex
	started time.Time
}

// State file.
type stateFile struct {
	Instance   string           `json:"instance"`
	PID        int              `json:"pid"`
	PIDStart   uint64           `json:"pid_start"`
	Running    bool             `json:"running"`
	Socket     string           `json:"socket"`
	Updated    time.Time        `json:"updated"`
	Components []componentState `json:"components"`
}

type componentState struct {
	services.Status
	PGID     int    `json:"pgid"`
	PIDStart uint64 `json:"pid_start"`
}

func (o *Options) defaults() {
	if o.LogDir == "" {
		o.LogDir = filepath.Join(o.Dir, "log")
	}
	if o.StartGrace <= 0 {
		o.StartGrace = 500 * time.Millisecond
	}
	if o.MaxLogSize <= 0 {
		o.MaxLogSize = 10 << 20
	}
	if o.LogFiles <= 0 {
		o.LogFiles = 3
	}
}

// Run supervises until ctx is done or a shutdown request arrives, then stops
// every component. Listen sockets are opened before anything starts: a port
// in use is an error and nothing is left running. With Autostart, a
// component that fails to start makes Run stop the others and return the
// error.
func Run(ctx context.Context, opts Options) error {
	s, err := newSupervisor(opts)
	if err != nil {
		return err
	}
	return s.run(ctx)
}

func newSupervisor(opts Options) (*Supervisor, error) {
	opts.defaults()
	if opts.Dir == "" {
		return nil, fmt.Errorf("supervise: Options.Dir is required")
	}
	if !services.ValidInstanceName(opts.Instance) {
		return nil, fmt.Errorf("supervise: %w: instance name %q", services.ErrInvalid, opts.Instance)
	}
	if err := services.ValidateAll(opts.Components); err != nil {
		return nil, err
	}
	for _, c := range opts.Components {
		if c.Instance != opts.Instance {
			return nil, fmt.Errorf("supervise: %w: component %q belongs to instance %q, not %q", services.ErrInvalid, c.Name, c.Instance, opts.Instance)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{opts: opts, log: log.With("instance", opts.Instance), procs: map[string]*proc{}, quit: make(chan struct{})}, nil
}

func (s *Supervisor) run(ctx context.Context) (err error) {
	if err := os.MkdirAll(s.opts.Dir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(s.opts.LogDir, 0o750); err != nil {
		return err
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	s.started = time.Now()

	// Sockets first: a port in use fails here, before any process exists.
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	for i := range s.opts.Components {
		c := s.opts.Components[i]
		files, addrs, err := listen(&c)
		opened = append(opened, files...)
		if err != nil {
			closeAll()
			return err
		}
		lg, err := openRotator(filepath.Join(s.opts.LogDir, c.Name+".log"), s.opts.MaxLogSize, s.opts.LogFiles)
		if err != nil {
			closeAll()
			return err
		}
		p := &proc{s: s, c: c, files: files, addrs: addrs, out: lg, state: services.StateInactive, sub: "dead", exitCode: -1}
		s.procs[c.Name] = p
		s.order = append(s.order, c.Name)
	}
	opened = nil
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.procs {
			p.out.Close()
			for _, f := range p.files {
				f.Close()
			}
		}
	}()
	if err := s.serveControl(); err != nil {
		return err
	}
	defer s.ctl.Close()
	s.writeState(true)
	s.log.Info("supervisor running", "pid", os.Getpid(), "components", s.order)

	if s.opts.Autostart {
		if err := s.startAll(ctx, nil); err != nil {
			s.stopAll(nil)
			s.writeState(false)
			return err
		}
	}
	select {
	case <-ctx.Done():
	case <-s.quit:
	}
	s.log.Info("supervisor stopping")
	s.ctl.Close()
	s.stopAll(nil)
	s.writeState(false)
	os.Remove(s.socketPath())
	return nil
}

func (s *Supervisor) socketPath() string { return filepath.Join(s.opts.Dir, "control.sock") }
func (s *Supervisor) statePath() string  { return filepath.Join(s.opts.Dir, "state.json") }

// acquire takes the instance lock, and cleans up after a crashed
// supervisor whose state file says it was running.
func (s *Supervisor) acquire() error {
	f, err := os.OpenFile(filepath.Join(s.opts.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	if ok, err := flock.Try(f, true); err != nil || !ok {
		f.Close()
		if err == nil {
			pid := 0
			if st, err := readState(s.statePath()); err == nil {
				pid = st.PID
			}
			return fmt.Errorf("%w: instance %q (pid %d, %s)", ErrRunning, s.opts.Instance, pid, s.opts.Dir)
		}
		return err
	}
	s.lock = f
	if st, err := readState(s.statePath()); err == nil && st.Running {
		s.log.Warn("stale supervisor state from a crashed run", "pid", st.PID)
		for _, c := range st.Components {
			if c.PGID > 0 && c.PIDStart != 0 && procStart(c.PID) == c.PIDStart {
				s.log.Warn("killing leftover process group", "component", c.Component, "pgid", c.PGID)
				killGroup(c.PGID, syscall.SIGKILL)
			}
		}
	}
	os.Remove(s.socketPath())
	return nil
}

func (s *Supervisor) release() {
	if s.lock != nil {
		s.lock.Close()
	}
}

func readState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

func (s *Supervisor) writeState(running bool) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	st := stateFile{Instance: s.opts.Instance, PID: os.Getpid(), PIDStart: procStart(os.Getpid()),
		Running: running, Socket: s.socketPath(), Updated: time.Now().UTC()}
	s.mu.RLock()
	for _, n := range s.order {
		st.Components = append(st.Components, s.procs[n].snapshot())
	}
	s.mu.RUnlock()
	b, _ := json.MarshalIndent(st, "", "  ")
	// Renamed into place but not fsynced: it changes on every state
	// transition, and after a power loss the lock, not this file, says
	// whether a supervisor runs.
	tmp := s.statePath() + ".tmp"
	err := os.WriteFile(tmp, append(b, '\n'), 0o644)
	if err == nil {
		err = os.Rename(tmp, s.statePath())
	}
	if err != nil {
		s.log.Error("writing state", "err", err)
	}
}

func (s *Supervisor) selectProcs(names []string) ([]*proc, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(names) == 0 {
		ps := make([]*proc, 0, len(s.order))
		for _, n := range s.order {
			ps = append(ps, s.procs[n])
		}
		return ps, nil
	}
	var ps []*proc
	for _, n := range names {
		p, ok := s.procs[n]
		if !ok {
			return nil, fmt.Errorf("%w: instance %q has no component %q", services.ErrNotFound, s.opts.Instance, n)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// each runs f on the procs in parallel and joins the errors.
func each(ps []*proc, f func(p *proc) error) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *Supervisor) startAll(ctx context.Context, names []string) error {
	ps, err := s.selectProcs(names)
	if err != nil {
		return err
	}
	return each(ps, func(p *proc) error { return p.start(ctx) })
}

func (s *Supervisor) stopAll(names []string) error {
	ps, err := s.selectProcs(names)
	if err != nil {
		return err
	}
	return each(ps, func(p *proc) error { p.stop(); return nil })
}

func (s *Supervisor) restartAll(ctx context.Context, names []string) error {
	ps, err := s.selectProcs(names)
	if err != nil {
		return err
	}
	return each(ps, func(p *proc) error { return p.restart(ctx) })
}

func (s *Supervisor) signalAll(names []string) error {
	ps, err := s.selectProcs(names)
	if err != nil {
		return err
	}
	return each(ps, func(p *proc) error { return p.signal() })
}

func (s *Supervisor) status() []services.Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []services.Status
	for _, n := range s.order {
		out = append(out, s.procs[n].snapshot().Status)
	}
	return out
}

func (s *Supervisor) shutdown() { s.quitO.Do(func() { close(s.quit) }) }

// listen opens a component's listen sockets and returns them as files
// (the fds passed to children; the listeners are closed, the files keep
// the sockets open).
func listen(c *services.Component) ([]*os.File, []string, error) {
	var files []*os.File
	var addrs []string
	for _, l := range c.Listen {
		var ln net.Listener
		var err error
		if l.Network == "unix" {
			os.Remove(l.Address) // a stale socket file; a live one is replaced like systemd does
			ln, err = net.Listen("unix", l.Address)
			if err == nil {
				mode := l.Mode
				if mode == 0 {
					mode = 0o660
				}
				os.Chmod(l.Address, mode)
				if c.UID != 0 || c.GID != 0 {
					os.Chown(l.Address, c.UID, c.GID)
				}
				ln.(*net.UnixListener).SetUnlinkOnClose(false)
			}
		} else {
			ln, err = net.Listen(l.Network, l.Address)
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, nil, &StartError{Instance: c.Instance, Component: c.Name, Err: fmt.Errorf("listen socket %s %s: %w", l.Network, l.Address, err)}
		}
		addrs = append(addrs, ln.Addr().String())
		f, err := ln.(interface{ File() (*os.File, error) }).File()
		ln.Close()
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, nil, err
		}
		// Children get a blocking socket, as systemd passes them — set once,
		// here, before any child holds it. The socket's open file description
		// (and so its O_NONBLOCK flag) is shared with every child, and a
		// running server (gunicorn) makes it non-blocking for its
		// select-then-accept loop. os.StartProcess calls Fd(), which on a
		// File that Go opened non-blocking clears O_NONBLOCK again: at the
		// next child's start the old child's accept would then block and
		// ignore SIGTERM until SIGKILL. A File made from a blocking fd is not
		// touched by Fd(), so re-wrap it.
		bf, err := blockingFile(f)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, nil, err
		}
		files = append(files, bf)
	}
	return files, addrs, nil
}

// blockingFile returns a File for f's socket in blocking mode whose Fd()
// never changes the mode again, and closes f.
func blockingFile(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd())) // Fd() puts the socket in blocking mode
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Main is the foreground supervisor of a container's main process: it runs
// opts with Autostart until SIGTERM or SIGINT.
func Main(opts Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	opts.Autostart = true
	return Run(ctx, opts)
}

// update re-reads the spec file: changed components take their new
// definition (used from their next start), new ones are set up stopped,
// removed ones are stopped and dropped. A component whose sockets changed
// (another address, or a port it now binds itself instead of being passed
// it, or the other way round) is stopped and its sockets replaced: it
// runs the new definition from its next start.
func (s *Supervisor) update() error {
	if s.opts.SpecFile == "" {
		return errors.New("this supervisor has no spec file to reload")
	}
	spec, err := readSpec(filepath.Dir(s.opts.SpecFile))
	if err != nil {
		return err
	}
	if spec.Instance != s.opts.Instance {
		return fmt.Errorf("%w: spec is for instance %q, supervisor runs %q", services.ErrInvalid, spec.Instance, s.opts.Instance)
	}
	if err := services.ValidateAll(spec.Components); err != nil {
		return err
	}
	keep := map[string]bool{}
	var added []*proc
	for _, c := range spec.Components {
		keep[c.Name] = true
		s.mu.RLock()
		p, ok := s.procs[c.Name]
		s.mu.RUnlock()
		if ok && !sameListen(p.c.Listen, c.Listen) {
			if err := p.replaceSockets(c); err != nil {
				return err
			}
			continue
		}
		if ok {
			p.op.Lock()
			p.mu.Lock()
			p.c = c
			p.mu.Unlock()
			p.op.Unlock()
			continue
		}
		files, addrs, err := listen(&c)
		if err != nil {
			return err
		}
		lg, err := openRotator(filepath.Join(s.opts.LogDir, c.Name+".log"), s.opts.MaxLogSize, s.opts.LogFiles)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return err
		}
		added = append(added, &proc{s: s, c: c, files: files, addrs: addrs, out: lg, state: services.StateInactive, sub: "dead", exitCode: -1})
	}
	var gone []*proc
	s.mu.Lock()
	var order []string
	for _, n := range s.order {
		if keep[n] {
			order = append(order, n)
		} else {
			gone = append(gone, s.procs[n])
			delete(s.procs, n)
		}
	}
	for _, p := range added {
		s.procs[p.c.Name] = p
		order = append(order, p.c.Name)
	}
	s.order = order
	s.mu.Unlock()
	for _, p := range gone {
		p.stop()
		p.out.Close()
		for _, f := range p.files {
			f.Close()
		}
	}
	s.writeState(true)
	return nil
}

// replaceSockets stops the component, closes the sockets it was passed
// and opens c's, waiting for the old process's self-bound ports to be
// released. On error the component is left stopped, without sockets.
func (p *proc) replaceSockets(c services.Component) error {
	p.stop()
	p.op.Lock()
	defer p.op.Unlock()
	for _, f := range p.files {
		f.Close()
	}
	p.mu.Lock()
	old := p.c.SelfBound
	p.files, p.addrs, p.c = nil, nil, c
	p.mu.Unlock()
	if err := waitFree(context.Background(), old, portFreeWait); err != nil {
		return &StartError{Instance: c.Instance, Component: c.Name, Err: err}
	}
	files, addrs, err := listen(&c)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.files, p.addrs = files, addrs
	p.mu.Unlock()
	p.s.writeState(true)
	return nil
}

func sameListen(a, b []services.Listen) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
