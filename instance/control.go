package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// Status is an instance's record and the live state of its services.
type Status struct {
	*State
	Home     string            `json:"home"`
	Mode     string            `json:"services_mode"`
	Services []services.Status `json:"services"`
	// Recovered reports an interrupted operation Status finished (rolled
	// back or forward) before reading.
	Recovered *Recovery `json:"recovered,omitempty"`
	// Busy is set when another operation holds the lock; the record is
	// then read as it is, without recovery.
	Busy string `json:"busy,omitempty"`
}

// Status reads an instance's record and its services' state. When no
// other operation is running, an interrupted one is recovered first, so
// the state reported is the old or the new one, never in between.
func (m *Manager) Status(ctx context.Context, name string) (*Status, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	out := &Status{Home: m.layout.InstanceDir(name), Mode: m.ServicesMode()}
	unlock, rec, err := m.begin(ctx, name, "status")
	var le *LockedError
	switch {
	case errors.As(err, &le):
		out.Busy = le.Error()
	case err != nil:
		return nil, err
	default:
		defer unlock()
		out.Recovered = rec
	}
	st, err := readState(m.layout, name)
	if err != nil {
		if unlock != nil {
			m.cleanupEmpty(name)
		}
		return nil, err
	}
	out.State = st
	st.ListenAddress = boundAddress(st)
	ctrl, err := m.controller()
	if err != nil {
		return nil, err
	}
	ss, err := ctrl.Status(ctx, name)
	if err != nil && !errors.Is(err, services.ErrNotFound) {
		return nil, fmt.Errorf("instance %s: services: %w", name, err)
	}
	out.Services = ss
	return out, nil
}

// Start starts the instance's components (all when none are named).
func (m *Manager) Start(ctx context.Context, name string, components ...string) error {
	return m.control(ctx, name, "start", components, func(c services.Controller) error {
		return c.Start(ctx, name, components...)
	})
}

// Stop stops the instance's components (all when none are named).
func (m *Manager) Stop(ctx context.Context, name string, components ...string) error {
	return m.control(ctx, name, "stop", components, func(c services.Controller) error {
		return c.Stop(ctx, name, components...)
	})
}

// Restart restarts the instance's components (all when none are named);
// listening components hand their sockets over, so no request is dropped.
func (m *Manager) Restart(ctx context.Context, name string, components ...string) error {
	return m.control(ctx, name, "restart", components, func(c services.Controller) error {
		return c.Restart(ctx, name, components...)
	})
}

func (m *Manager) control(ctx context.Context, name, op string, components []string, f func(services.Controller) error) error {
	unlock, _, err := m.begin(ctx, name, op)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(m.layout, name)
	if err != nil {
		return err
	}
	spec, err := m.releaseSpec(name, st.Current)
	if err != nil {
		return err
	}
	for _, c := range components {
		if _, ok := spec.Services[c]; !ok {
			return fmt.Errorf("instance %s: component %q: %w", name, c, ErrNotFound)
		}
	}
	if op != "stop" {
		// An instance bound on another address than the root's moves now
		// (all of it: its sockets are replaced).
		if rebound, err := m.rebindIfMoved(ctx, st, spec); err != nil {
			return fmt.Errorf("instance %s: %s on %s: %w", name, op, m.listenAddress(), err)
		} else if rebound {
			return m.healthCheck(ctx, st, spec)
		}
	}
	ctrl, err := m.controller()
	if err != nil {
		return err
	}
	began := time.Now()
	if err := f(ctrl); err != nil {
		return m.explainStart(ctx, st, spec, began, fmt.Errorf("instance %s: %s: %w", name, op, err))
	}
	if op != "stop" {
		return m.explainStart(ctx, st, spec, began, m.healthCheck(ctx, st, spec))
	}
	return nil
}

// Logs returns a component's log (all components' when component is "").
func (m *Manager) Logs(ctx context.Context, name, component string, opts services.LogOptions) (io.ReadCloser, error) {
	st, err := readState(m.layout, name)
	if err != nil {
		return nil, err
	}
	spec, err := m.releaseSpec(name, st.Current)
	if err != nil {
		return nil, err
	}
	if component == "" {
		names := sortedKeys(spec.Services)
		if len(names) != 1 {
			return nil, fmt.Errorf("instance %s has components %v: name one", name, names)
		}
		component = names[0]
	}
	if _, ok := spec.Services[component]; !ok {
		return nil, fmt.Errorf("instance %s: component %q: %w", name, component, ErrNotFound)
	}
	ctrl, err := m.controller()
	if err != nil {
		return nil, err
	}
	return ctrl.Logs(ctx, name, component, opts)
}

// Unit is a rendered systemd unit file.
type Unit = systemd.Unit

// Units renders the systemd units of an instance: of its current release,
// or, with spec given, of what that spec would make — also for an instance
// that does not exist yet (ports are then allocated as Create would).
func (m *Manager) Units(ctx context.Context, name string, spec *Spec) ([]Unit, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	st, err := readState(m.layout, name)
	id := ""
	switch {
	case err == nil:
		id = st.Current
		if spec == nil {
			if spec, err = m.releaseSpec(name, id); err != nil {
				return nil, err
			}
		}
	case errors.Is(err, ErrNotFound) && spec != nil:
		ports, perr := m.allocatePorts(name, spec, nil)
		if perr != nil {
			return nil, perr
		}
		st = m.newState(name, spec, map[string]string{"ports": encodePorts(ports)})
		id = "r1"
	default:
		return nil, err
	}
	comps, err := m.components(st, spec, id)
	if err != nil {
		return nil, err
	}
	return unitsFor(name, comps)
}
