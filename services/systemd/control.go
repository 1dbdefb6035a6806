package systemd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/services"
)

// Runner makes the command that runs argv (systemctl, journalctl) against
// the systemd to control: exec.CommandContext for the host's, or
// (*nspawn.Container).Command for one in a container.
type Runner func(ctx context.Context, argv ...string) *exec.Cmd

// Controller drives an instance's units with systemctl. The zero value
// writes to /etc/systemd/system and runs the host's systemctl.
type Controller struct {
	// UnitDir is where unit files are written (default /etc/systemd/system).
	UnitDir string
	// Command runs systemctl/journalctl (default exec.CommandContext).
	Command Runner
	// Probe runs one TCP or HTTP readiness check after Start and Restart
	// (systemd itself only knows sd_notify). The default dials from this
	// process; set it when systemd runs in another network namespace.
	Probe func(ctx context.Context, r services.Readiness) error
	// Logger receives what the controller does (nil = discard).
	Logger *slog.Logger
}

// ErrNotReady: a started component did not pass its readiness check.
var ErrNotReady = errors.New("component not ready")

var _ services.Controller = (*Controller)(nil)

// SystemctlError is a failed systemctl/journalctl run.
type SystemctlError struct {
	Args   []string
	Output string
	Err    error
}

func (e *SystemctlError) Error() string {
	return fmt.Sprintf("%s: %v: %s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Output))
}

func (e *SystemctlError) Unwrap() error { return e.Err }

func (c *Controller) dir() string {
	if c.UnitDir == "" {
		return "/etc/systemd/system"
	}
	return c.UnitDir
}

func (c *Controller) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

func (c *Controller) cmd(ctx context.Context, argv ...string) *exec.Cmd {
	if c.Command != nil {
		return c.Command(ctx, argv...)
	}
	return exec.CommandContext(ctx, argv[0], argv[1:]...)
}

func (c *Controller) run(ctx context.Context, argv ...string) ([]byte, error) {
	c.log().Debug("systemd", "run", argv)
	cmd := c.cmd(ctx, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &SystemctlError{Args: argv, Output: string(out) + stderr.String(), Err: err}
	}
	return out, nil
}

// owner reads the "# deploykit: instance=… component=…" header of a unit
// file; ok is false when the file does not exist.
func owner(path string) (instance, component string, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	if !strings.HasPrefix(line, "# deploykit:") {
		return "", "", true, nil // a unit deploykit did not write
	}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "# deploykit:")) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "instance":
			instance = v
		case "component":
			component = v
		}
	}
	return instance, component, true, nil
}

// installed lists the unit files of instance in the unit directory.
func (c *Controller) installed(instance string) ([]Unit, error) {
	m, err := filepath.Glob(filepath.Join(c.dir(), "deploykit-"+instance+"*"))
	if err != nil {
		return nil, err
	}
	var us []Unit
	for _, p := range m {
		inst, comp, ok, err := owner(p)
		if err != nil {
			return nil, err
		}
		if ok && inst == instance {
			us = append(us, Unit{Name: filepath.Base(p), Instance: inst, Component: comp})
		}
	}
	return us, nil
}

// Install writes the instance's units (atomically, one file at a time),
// removes units of components no longer present, reloads systemd and
// enables the instance's target. A unit file of the same name that belongs
// to another instance or component, or was not written by deploykit, is an
// ErrCollision and nothing is written.
func (c *Controller) Install(ctx context.Context, instance string, comps []services.Component) error {
	for i := range comps {
		if err := checkTmp(&comps[i]); err != nil {
			return err
		}
	}
	units, err := Render(instance, comps)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir(), 0o755); err != nil {
		return err
	}
	for _, u := range units {
		inst, comp, ok, err := owner(filepath.Join(c.dir(), u.Name))
		if err != nil {
			return err
		}
		if ok && (inst != u.Instance || comp != u.Component) {
			who := "not written by deploykit"
			if inst != "" {
				who = fmt.Sprintf("belongs to instance %q component %q", inst, comp)
			}
			return fmt.Errorf("%w: unit %s for instance %q component %q already exists and %s",
				services.ErrCollision, u.Name, u.Instance, u.Component, who)
		}
	}
	old, err := c.installed(instance)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, u := range units {
		keep[u.Name] = true
	}
	var stale []string
	for _, u := range old {
		if !keep[u.Name] {
			stale = append(stale, u.Name)
		}
	}
	if len(stale) > 0 {
		// Stop what is going away while systemd still knows its definition.
		if _, err := c.run(ctx, append([]string{"systemctl", "stop"}, stale...)...); err != nil {
			c.log().Warn("stopping stale units", "units", stale, "err", err)
		}
	}
	for _, u := range units {
		if err := atomicfile.WriteFile(filepath.Join(c.dir(), u.Name), u.Content, 0o644); err != nil {
			return err
		}
	}
	for _, n := range stale {
		if err := os.Remove(filepath.Join(c.dir(), n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if _, err := c.run(ctx, "systemctl", "daemon-reload"); err != nil {
		return err
	}
	_, err = c.run(ctx, "systemctl", "enable", "--quiet", TargetName(instance))
	return err
}

// Uninstall stops and disables the instance, removes its unit files and
// reloads systemd.
func (c *Controller) Uninstall(ctx context.Context, instance string) error {
	us, err := c.installed(instance)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		return fmt.Errorf("%w: instance %q has no units in %s", services.ErrNotFound, instance, c.dir())
	}
	names := unitNames(us)
	var errs []error
	if _, err := c.run(ctx, append([]string{"systemctl", "stop"}, names...)...); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.run(ctx, "systemctl", "disable", "--quiet", TargetName(instance)); err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if err := os.Remove(filepath.Join(c.dir(), n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if _, err := c.run(ctx, "systemctl", "daemon-reload"); err != nil {
		errs = append(errs, err)
	}
	c.run(ctx, append([]string{"systemctl", "reset-failed"}, names...)...)
	return errors.Join(errs...)
}

func unitNames(us []Unit) []string {
	var n []string
	for _, u := range us {
		n = append(n, u.Name)
	}
	sort.Strings(n)
	return n
}

// selectUnits returns the units of the named components (all when none),
// services and/or sockets.
func (c *Controller) selectUnits(instance string, components []string, sockets, svcs bool) ([]string, error) {
	us, err := c.installed(instance)
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("%w: instance %q has no units in %s", services.ErrNotFound, instance, c.dir())
	}
	want := map[string]bool{}
	for _, n := range components {
		want[n] = true
	}
	found := map[string]bool{}
	var out []string
	for _, u := range us {
		if u.Component == "" || (len(want) > 0 && !want[u.Component]) {
			continue
		}
		found[u.Component] = true
		if (svcs && strings.HasSuffix(u.Name, ".service")) || (sockets && strings.HasSuffix(u.Name, ".socket")) {
			out = append(out, u.Name)
		}
	}
	for _, n := range components {
		if !found[n] {
			return nil, fmt.Errorf("%w: instance %q has no component %q", services.ErrNotFound, instance, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Start starts the instance's target, or the named components' sockets and
// services.
func (c *Controller) Start(ctx context.Context, instance string, components ...string) error {
	if len(components) == 0 {
		if _, err := c.selectUnits(instance, nil, true, true); err != nil {
			return err
		}
		if _, err := c.run(ctx, "systemctl", "start", TargetName(instance)); err != nil {
			return err
		}
		return c.waitReady(ctx, instance, nil)
	}
	us, err := c.selectUnits(instance, components, true, true)
	if err != nil {
		return err
	}
	if _, err = c.run(ctx, append([]string{"systemctl", "start"}, us...)...); err != nil {
		return err
	}
	return c.waitReady(ctx, instance, components)
}

// Stop stops the instance's target (and with it, through PartOf=, every
// unit of the instance), or the named components' services and sockets.
func (c *Controller) Stop(ctx context.Context, instance string, components ...string) error {
	var us []string
	var err error
	if len(components) == 0 {
		us, err = c.selectUnits(instance, nil, true, true)
		us = append(us, TargetName(instance))
	} else {
		us, err = c.selectUnits(instance, components, true, true)
	}
	if err != nil {
		return err
	}
	_, err = c.run(ctx, append([]string{"systemctl", "stop"}, us...)...)
	return err
}

// Restart restarts the service units only; their socket units keep the
// listen sockets, so clients queue in the backlog instead of being refused.
func (c *Controller) Restart(ctx context.Context, instance string, components ...string) error {
	us, err := c.selectUnits(instance, components, false, true)
	if err != nil {
		return err
	}
	if _, err = c.run(ctx, append([]string{"systemctl", "restart"}, us...)...); err != nil {
		return err
	}
	return c.waitReady(ctx, instance, components)
}

// waitReady probes the TCP/HTTP readiness checks recorded in the selected
// components' service units.
func (c *Controller) waitReady(ctx context.Context, instance string, components []string) error {
	us, err := c.selectUnits(instance, components, false, true)
	if err != nil {
		return err
	}
	var errs []error
	for _, u := range us {
		r, ok, err := readReady(filepath.Join(c.dir(), u))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		timeout := r.Timeout
		if timeout <= 0 {
			timeout = services.DefaultReadyTimeout
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		// A unit that has given up (its start limit hit after a crash
		// loop, say) will not come up: a watcher stops the probing as
		// soon as systemd says so, also in the middle of a probe that
		// waits on a socket unit's backlog.
		wctx, stop := context.WithCancel(pctx)
		var why string
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for {
				select {
				case <-wctx.Done():
					return
				case <-time.After(300 * time.Millisecond):
				}
				if w := c.failed(wctx, u); w != "" {
					why = w
					stop()
					return
				}
			}
		}()
		var last error
		for {
			if last = c.probe(wctx, r); last == nil {
				break
			}
			select {
			case <-wctx.Done():
			case <-time.After(50 * time.Millisecond):
				continue
			}
			break
		}
		stop()
		<-watched
		if last != nil && why != "" {
			last = fmt.Errorf("%s: %w", why, last)
		}
		cancel()
		if last != nil {
			errs = append(errs, fmt.Errorf("%w: %s: %s check of %s within %v: %v", ErrNotReady, u, r.Kind, r.Address, timeout, last))
		}
	}
	return errors.Join(errs...)
}

// failed says why unit is in the failed state, or "" when it is not.
func (c *Controller) failed(ctx context.Context, unit string) string {
	out, err := c.run(ctx, "systemctl", "show", "-p", "ActiveState,Result", unit)
	if err != nil {
		return ""
	}
	p := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			p[k] = v
		}
	}
	if p["ActiveState"] != string(services.StateFailed) {
		return ""
	}
	return "the unit failed (result: " + p["Result"] + ")"
}

func (c *Controller) probe(ctx context.Context, r services.Readiness) error {
	if c.Probe != nil {
		return c.Probe(ctx, r)
	}
	return Probe(ctx, r)
}

// Probe runs one readiness check from this process (services.Probe: a
// TCP connect, or an HTTP GET that must answer below 500), allowing 2s to
// connect and 5s for a request.
func Probe(ctx context.Context, r services.Readiness) error {
	return services.Probe(ctx, r, 2*time.Second, 5*time.Second)
}

// readReady reads a unit's "# deploykit-ready:" line.
func readReady(path string) (services.Readiness, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return services.Readiness{}, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "#") {
			break
		}
		if rest, ok := strings.CutPrefix(line, readyPrefix); ok {
			var rl readyLine
			if err := json.Unmarshal([]byte(rest), &rl); err != nil {
				return services.Readiness{}, false, fmt.Errorf("%s: readiness line: %w", path, err)
			}
			return services.Readiness{Kind: services.ReadyKind(rl.Kind), Address: rl.Address, Path: rl.Path, Timeout: rl.Timeout}, true, nil
		}
	}
	return services.Readiness{}, false, sc.Err()
}

// Reload runs the services' ExecReload= (the reload signal).
func (c *Controller) Reload(ctx context.Context, instance string, components ...string) error {
	us, err := c.selectUnits(instance, components, false, true)
	if err != nil {
		return err
	}
	_, err = c.run(ctx, append([]string{"systemctl", "reload"}, us...)...)
	return err
}

// statusProps are read with systemctl show.
var statusProps = "Id,LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainCode,ExecMainStatus,StateChangeTimestamp,Result"

// Status reads every component's service state with `systemctl show`.
func (c *Controller) Status(ctx context.Context, instance string) ([]services.Status, error) {
	us, err := c.installed(instance)
	if err != nil {
		return nil, err
	}
	comp := map[string]string{}
	var names []string
	for _, u := range us {
		if strings.HasSuffix(u.Name, ".service") {
			comp[u.Name] = u.Component
			names = append(names, u.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: instance %q has no units in %s", services.ErrNotFound, instance, c.dir())
	}
	sort.Strings(names)
	out, err := c.run(ctx, append([]string{"systemctl", "show", "--timestamp=unix", "-p", statusProps}, names...)...)
	if err != nil {
		return nil, err
	}
	sts, err := ParseShow(out)
	if err != nil {
		return nil, err
	}
	for i := range sts {
		sts[i].Instance = instance
		sts[i].Component = comp[sts[i].Unit]
	}
	return sts, nil
}

// ParseShow parses `systemctl show --timestamp=unix -p …` output for
// several units (blocks of KEY=VALUE lines separated by blank lines).
func ParseShow(out []byte) ([]services.Status, error) {
	var sts []services.Status
	for i, block := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		if strings.TrimSpace(block) == "" {
			continue
		}
		p := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("systemctl show: block %d: malformed line %q", i+1, line)
			}
			p[k] = v
		}
		if p["Id"] == "" {
			return nil, fmt.Errorf("systemctl show: block %d has no Id", i+1)
		}
		st := services.Status{Unit: p["Id"], State: services.State(p["ActiveState"]), Sub: p["SubState"], ExitCode: -1}
		if st.State == "" {
			st.State = services.StateUnknown
		}
		st.PID, _ = strconv.Atoi(p["MainPID"])
		st.Restarts, _ = strconv.Atoi(p["NRestarts"])
		if ts := strings.TrimPrefix(p["StateChangeTimestamp"], "@"); ts != "" {
			if sec, err := strconv.ParseInt(ts, 10, 64); err == nil {
				st.Since = time.Unix(sec, 0)
			}
		}
		if code, err := strconv.Atoi(p["ExecMainStatus"]); err == nil && p["ExecMainCode"] != "0" {
			st.ExitCode = code
			if p["ExecMainCode"] == "2" || p["ExecMainCode"] == "3" { // CLD_KILLED, CLD_DUMPED
				st.ExitCode = 128 + code
			}
		}
		if p["LoadState"] != "" && p["LoadState"] != "loaded" {
			st.State = services.StateUnknown
			st.Error = "unit " + p["LoadState"]
		} else if st.State == services.StateFailed {
			st.Error = "result: " + p["Result"]
		}
		sts = append(sts, st)
	}
	return sts, nil
}

// Logs reads a component's journal (journalctl -u UNIT -o cat).
func (c *Controller) Logs(ctx context.Context, instance, component string, opts services.LogOptions) (io.ReadCloser, error) {
	us, err := c.selectUnits(instance, []string{component}, false, true)
	if err != nil {
		return nil, err
	}
	args := []string{"journalctl", "--no-pager", "-o", "cat", "-u", us[0]}
	if !opts.Since.IsZero() {
		args = append(args, "--since", "@"+strconv.FormatInt(opts.Since.Unix(), 10))
	}
	if opts.Lines > 0 {
		args = append(args, "-n", strconv.Itoa(opts.Lines))
	} else if opts.Follow {
		args = append(args, "-n", "all") // -f alone shows only the last 10
	}
	if opts.Follow {
		args = append(args, "-f")
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := c.cmd(ctx, args...)
	pr, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, &SystemctlError{Args: args, Err: err}
	}
	r := &cmdReader{r: pr, cmd: cmd, cancel: cancel}
	// A reader blocked in Read returns once ctx is done, even if the
	// program's pipe is held open by something else.
	stop := context.AfterFunc(ctx, func() {
		if c, ok := pr.(io.Closer); ok {
			c.Close()
		}
	})
	r.stop = stop
	return r, nil
}

type cmdReader struct {
	stop   func() bool
	r      io.Reader
	cmd    *exec.Cmd
	cancel context.CancelFunc
	once   sync.Once
}

func (r *cmdReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *cmdReader) Close() error {
	r.once.Do(func() {
		r.cancel()
		r.cmd.Wait()
	})
	return nil
}
