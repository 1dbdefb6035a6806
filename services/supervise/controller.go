package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/services"
)

// DaemonSubcommand is the hidden argument a program dispatches to
// DaemonMain: Controller re-executes the program as
// `PROGRAM __supervise INSTANCE-DIR`.
const DaemonSubcommand = "__supervise"

// Spec is what Install writes to INSTANCE-DIR/spec.json and the daemon runs.
type Spec struct {
	Instance   string               `json:"instance"`
	Components []services.Component `json:"components"`
	LogDir     string               `json:"log_dir,omitempty"`
}

// Controller implements services.Controller with one supervisor daemon per
// instance. The zero value is not usable: Dir is required.
type Controller struct {
	// Dir holds one state directory per instance (Dir/INSTANCE).
	Dir string
	// LogDir, when set, holds the components' logs (LogDir/INSTANCE/*.log)
	// instead of Dir/INSTANCE/log.
	LogDir string
	// Executable is the program re-executed as the daemon (default
	// os.Executable()); Args makes its arguments (default
	// [DaemonSubcommand, instanceDir]); Env is added to its environment.
	Executable string
	Args       func(instanceDir string) []string
	Env        []string
	// StartTimeout bounds waiting for a new daemon (0 = 30s).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

var _ services.Controller = (*Controller)(nil)

func (c *Controller) instDir(instance string) (string, error) {
	if c.Dir == "" {
		return "", errors.New("supervise: Controller.Dir is required")
	}
	if !services.ValidInstanceName(instance) {
		return "", fmt.Errorf("supervise: %w: instance name %q", services.ErrInvalid, instance)
	}
	return filepath.Join(c.Dir, instance), nil
}

func (c *Controller) logDir(instance string) string {
	if c.LogDir != "" {
		return filepath.Join(c.LogDir, instance)
	}
	return filepath.Join(c.Dir, instance, "log")
}

func (c *Controller) sock(instance string) string {
	return filepath.Join(c.Dir, instance, "control.sock")
}

// Install writes the instance's spec. A running supervisor is told to load
// it: changed components run their new definition from their next
// (re)start, added ones are set up stopped, removed ones are stopped.
func (c *Controller) Install(ctx context.Context, instance string, comps []services.Component) error {
	dir, err := c.instDir(instance)
	if err != nil {
		return err
	}
	if err := services.ValidateAll(comps); err != nil {
		return err
	}
	for _, x := range comps {
		if x.Instance != instance {
			return fmt.Errorf("%w: component %q belongs to instance %q, not %q", services.ErrInvalid, x.Name, x.Instance, instance)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(Spec{Instance: instance, Components: comps, LogDir: c.logDir(instance)}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "spec.json"), append(b, '\n'), 0o600); err != nil {
		return err
	}
	if running(dir) {
		_, err := c.call(ctx, instance, Request{Op: "update"})
		return err
	}
	return nil
}

// Uninstall stops the instance's supervisor and removes its state
// directory (and its logs).
func (c *Controller) Uninstall(ctx context.Context, instance string) error {
	dir, err := c.instDir(instance)
	if err != nil {
		return err
	}
	if err := c.Stop(ctx, instance); err != nil && !errors.Is(err, services.ErrNotFound) {
		return err
	}
	if c.LogDir != "" {
		os.RemoveAll(c.logDir(instance))
	}
	return os.RemoveAll(dir)
}

// running reports whether a supervisor holds the instance lock.
func running(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	ok, err := flock.Try(f, false)
	return err != nil || !ok // closing f drops the probe's own lock
}

func (c *Controller) call(ctx context.Context, instance string, req Request) (*Response, error) {
	resp, err := call(ctx, c.sock(instance), req)
	if err != nil {
		return nil, err
	}
	if !resp.OK {
		err := errors.New(resp.Error)
		if resp.ShuttingDown {
			return resp, fmt.Errorf("%w: %s", ErrNotRunning, resp.Error)
		}
		if resp.NotFound {
			err = fmt.Errorf("%w: %s", services.ErrNotFound, resp.Error)
		}
		return resp, err
	}
	return resp, nil
}

// Start starts the components (all when none), first starting the
// instance's supervisor daemon if it is not running. If that fails, a
// daemon started here is shut down again: nothing is left running.
func (c *Controller) Start(ctx context.Context, instance string, components ...string) error {
	dir, err := c.instDir(instance)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		fresh := false
		if !running(dir) {
			if err := c.spawn(ctx, instance, dir); err != nil {
				return err
			}
			fresh = true
		}
		_, err = c.call(ctx, instance, Request{Op: "start", Components: components})
		if errors.Is(err, ErrNotRunning) && !fresh && attempt == 0 {
			// A supervisor that is shutting down (a stop whose caller was
			// killed, say) has closed its control socket but holds its
			// lock until its components are gone: wait for it to exit,
			// then start a new one.
			wctx, cancel := context.WithTimeout(ctx, exitingWait)
			werr := waitExited(wctx, dir)
			cancel()
			if werr != nil {
				return fmt.Errorf("supervisor of %q is shutting down and did not exit: %w", instance, werr)
			}
			continue
		}
		if err != nil && fresh {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			c.shutdown(sctx, instance, dir)
		}
		return err
	}
}

// Stop stops the components; with none, the whole instance: every
// component is stopped and the supervisor exits. Stopping an instance whose
// supervisor is not running is not an error.
func (c *Controller) Stop(ctx context.Context, instance string, components ...string) error {
	dir, err := c.instDir(instance)
	if err != nil {
		return err
	}
	if !running(dir) {
		if _, err := os.Stat(filepath.Join(dir, "spec.json")); err != nil {
			return fmt.Errorf("%w: instance %q is not installed in %s", services.ErrNotFound, instance, c.Dir)
		}
		return nil
	}
	if len(components) > 0 {
		_, err := c.call(ctx, instance, Request{Op: "stop", Components: components})
		return err
	}
	return c.shutdown(ctx, instance, dir)
}

func (c *Controller) shutdown(ctx context.Context, instance, dir string) error {
	if _, err := c.call(ctx, instance, Request{Op: "shutdown"}); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	if err := waitExited(ctx, dir); err != nil {
		return fmt.Errorf("supervisor of %q did not exit: %w", instance, err)
	}
	return nil
}

// exitingWait bounds how long Start waits for a supervisor that is
// shutting down: its components' stop timeouts, then SIGKILL.
const exitingWait = 2 * time.Minute

// waitExited waits until no supervisor holds the instance lock in dir.
func waitExited(ctx context.Context, dir string) error {
	for running(dir) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Restart restarts the components (all when none); components with listen
// sockets without dropping a connection. A stopped instance is started.
func (c *Controller) Restart(ctx context.Context, instance string, components ...string) error {
	dir, err := c.instDir(instance)
	if err != nil {
		return err
	}
	if !running(dir) {
		return c.Start(ctx, instance, components...)
	}
	_, err = c.call(ctx, instance, Request{Op: "restart", Components: components})
	return err
}

// Reload sends the components their reload signal.
func (c *Controller) Reload(ctx context.Context, instance string, components ...string) error {
	if _, err := c.instDir(instance); err != nil {
		return err
	}
	_, err := c.call(ctx, instance, Request{Op: "reload", Components: components})
	return err
}

// Status asks the running supervisor; when none runs, every component is
// inactive (and, if the state file says a supervisor was running, its
// Error says it is gone).
func (c *Controller) Status(ctx context.Context, instance string) ([]services.Status, error) {
	dir, err := c.instDir(instance)
	if err != nil {
		return nil, err
	}
	if running(dir) {
		resp, err := c.call(ctx, instance, Request{Op: "status"})
		if err == nil {
			return resp.Status, nil
		}
		// A supervisor that is dying holds its lock until its last thread
		// is gone: give it a moment before reporting the error.
		for i := 0; i < 20 && running(dir); i++ {
			time.Sleep(25 * time.Millisecond)
		}
		if running(dir) {
			return nil, err
		}
	}
	spec, err := readSpec(dir)
	if err != nil {
		return nil, err
	}
	note := ""
	if st, err := readState(filepath.Join(dir, "state.json")); err == nil && st.Running {
		note = fmt.Sprintf("supervisor (pid %d) is gone without stopping: crashed or killed", st.PID)
	}
	var out []services.Status
	for _, x := range spec.Components {
		out = append(out, services.Status{Instance: instance, Component: x.Name, State: services.StateInactive, Sub: "dead", ExitCode: -1, Error: note})
	}
	return out, nil
}

// Logs opens a component's log file; with Follow it keeps reading across
// rotations until ctx is done or it is closed.
func (c *Controller) Logs(ctx context.Context, instance, component string, opts services.LogOptions) (io.ReadCloser, error) {
	dir, err := c.instDir(instance)
	if err != nil {
		return nil, err
	}
	spec, err := readSpec(dir)
	if err != nil {
		return nil, err
	}
	found := false
	for _, x := range spec.Components {
		found = found || x.Name == component
	}
	if !found {
		return nil, fmt.Errorf("%w: instance %q has no component %q", services.ErrNotFound, instance, component)
	}
	path := filepath.Join(spec.LogDir, component+".log")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		os.MkdirAll(spec.LogDir, 0o750)
		os.WriteFile(path, nil, 0o640)
	}
	return openLog(ctx, path, opts.Lines, opts.Since, opts.Follow)
}

func readSpec(dir string) (*Spec, error) {
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no supervisor spec in %s (not installed)", services.ErrNotFound, dir)
	}
	if err != nil {
		return nil, err
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "spec.json"), err)
	}
	if s.LogDir == "" {
		s.LogDir = filepath.Join(dir, "log")
	}
	return &s, nil
}

// spawn starts the daemon detached (own session, stdio to
// INSTANCE-DIR/supervisor.log) and waits until its control socket answers.
func (c *Controller) spawn(ctx context.Context, instance, dir string) error {
	if _, err := readSpec(dir); err != nil {
		return err
	}
	exe := c.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return err
		}
	}
	args := []string{DaemonSubcommand, dir}
	if c.Args != nil {
		args = c.Args(dir)
	}
	logPath := filepath.Join(dir, "supervisor.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, _ := logf.Stat()
	offset := st.Size()
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("starting supervisor for %q: %w", instance, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it if it dies while we live
	timeout := c.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.After(timeout)
	for {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := call(qctx, c.sock(instance), Request{Op: "status"})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("supervisor for %q exited (%v): %s", instance, werr, logSince(logPath, offset))
		case <-deadline:
			cmd.Process.Kill()
			return fmt.Errorf("supervisor for %q not answering after %v: %s", instance, timeout, logSince(logPath, offset))
		case <-ctx.Done():
			cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func logSince(path string, off int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < off {
		return ""
	}
	return lastLines(string(b[off:]), 10)
}

// DaemonMain is the supervisor daemon's entry point: a program calls it
// when started with DaemonSubcommand, passing the arguments after it
// ([INSTANCE-DIR]). It runs the instance's spec.json until SIGTERM/SIGINT
// or a shutdown request. log may be nil (then: text to stderr, which the
// Controller sends to INSTANCE-DIR/supervisor.log).
func DaemonMain(ctx context.Context, args []string, log *slog.Logger) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: %s INSTANCE-DIR", DaemonSubcommand)
	}
	dir := args[0]
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	spec, err := readSpec(dir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP)
	err = Run(ctx, Options{Instance: spec.Instance, Components: spec.Components, Dir: dir, LogDir: spec.LogDir,
		SpecFile: filepath.Join(dir, "spec.json"), Logger: log})
	if err != nil {
		log.Error("supervisor failed", "err", err)
	}
	return err
}
