package instance

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/supervise"
	"github.com/deploykit/deploykit/services/systemd"
)

// SupervisorDir holds the built-in supervisor's state, one directory per
// instance (control socket, state file, logs): ROOT/supervise, unless the
// root is so deep that a control socket path there would exceed the
// kernel's limit for Unix socket names (108 bytes); then a directory
// under the temporary directory named after the root's hash. That state
// is runtime state (sockets, pids), like /run.
func (l Layout) SupervisorDir() string {
	d := filepath.Join(l.Root, "supervise")
	if len(d)+1+24+len("/control.sock") < 100 {
		return d
	}
	h := fnv.New64a()
	h.Write([]byte(l.Root))
	return filepath.Join(os.TempDir(), fmt.Sprintf("deploykit-supervise-%x", h.Sum64()))
}

// controller returns the service controller Options.Services selects.
func (m *Manager) controller() (services.Controller, error) {
	if m.ServicesMode() == "systemd" {
		return &systemd.Controller{Logger: m.log}, nil
	}
	return &supervise.Controller{Dir: m.layout.SupervisorDir(), Executable: m.opts.SupervisorExecutable, Logger: m.log}, nil
}

// installAndRestart installs release id's components and (re)starts
// them. A restart of a listening component hands its socket over, so
// requests queue instead of failing (a self-bound one is stopped, then
// started). A service that fails because it bound its passed port itself
// gets a *SocketConflictError.
func (m *Manager) installAndRestart(ctx context.Context, st *State, spec *Spec, id string) error {
	began := time.Now()
	// Sockets on another address than the root's cannot be handed over:
	// a move stops the instance, installs it on the new address and
	// starts it (see listen.go).
	moved := m.moved(st)
	st.ListenAddress = m.listenAddress()
	comps, err := m.components(st, spec, id)
	if err != nil {
		return err
	}
	ctrl, err := m.controller()
	if err != nil {
		return err
	}
	if moved {
		m.emit(Event{Instance: st.Name, Kind: EventInfo, Message: "moving the instance's listening services to " + st.ListenAddress})
		if err := ctrl.Stop(ctx, st.Name); err != nil && !errors.Is(err, services.ErrNotFound) {
			return err
		}
	}
	if err := ctrl.Install(ctx, st.Name, comps); err != nil {
		return err
	}
	// Recorded once they are installed there, whether or not they then
	// start: a move whose start fails is done again by the next start on
	// that address, and undone by the next one on the old address (the
	// move taken back), which would otherwise see nothing to move and
	// restart them where they were installed.
	if err := m.recordListenAddress(st); err != nil {
		return err
	}
	if moved {
		err = ctrl.Start(ctx, st.Name)
	} else {
		err = ctrl.Restart(ctx, st.Name)
	}
	if err != nil {
		return m.explainStart(ctx, st, spec, began, err)
	}
	return nil
}

func (m *Manager) uninstallServices(ctx context.Context, name string) error {
	ctrl, err := m.controller()
	if err != nil {
		return err
	}
	err = ctrl.Uninstall(ctx, name)
	if errors.Is(err, services.ErrNotFound) {
		return nil
	}
	return err
}

// SupervisorMain runs the built-in supervisor daemon when a program was
// started for it: programs that use a Manager with the supervisor (the
// default without systemd) call it first thing in main, because the
// supervisor re-executes the program (Options.SupervisorExecutable, by
// default the running one) as `PROGRAM __supervise DIR`. It reports
// whether args asked for the daemon; err is the daemon's.
func SupervisorMain(ctx context.Context, args []string, log *slog.Logger) (handled bool, err error) {
	if len(args) < 1 || args[0] != supervise.DaemonSubcommand {
		return false, nil
	}
	return true, supervise.DaemonMain(ctx, args[1:], log)
}

// exists reports whether a path exists.
func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
