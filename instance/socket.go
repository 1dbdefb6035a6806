package instance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/deploykit/deploykit/services"
)

// SocketConflictError is a start that failed because a service whose port
// deploykit holds and passes (socket = "passed") tried to bind that port
// itself: its output since the start says "Address already in use". The
// port is deploykit's socket, so the bind can only fail; Error says the
// two ways out.
type SocketConflictError struct {
	Instance, Service string
	Port              int
	// Err is the start failure this explains (a failed start or health
	// check), for errors.Is/As.
	Err error
}

func (e *SocketConflictError) Error() string {
	return fmt.Sprintf("service %s of instance %s exited at start with \"Address already in use\" on port %d: "+
		"deploykit holds that port and passes it to the program as fd 3 (LISTEN_FDS), so the program must not bind it; "+
		"either make it use the passed socket (gunicorn does by itself; uvicorn with --fd 3) "+
		"or set socket = \"self\" under [services.%s] to let it bind {port} itself",
		e.Service, e.Instance, e.Port, e.Service)
}

func (e *SocketConflictError) Unwrap() error { return e.Err }

// explainStart returns err, or a *SocketConflictError wrapping it when a
// passed-socket service of spec printed "Address already in use" since
// began (when the start was asked for). It reads the services' logs, so it
// runs before a rollback uninstalls them.
func (m *Manager) explainStart(ctx context.Context, st *State, spec *Spec, began time.Time, err error) error {
	if err == nil || began.IsZero() {
		return err
	}
	ctrl, cerr := m.controller()
	if cerr != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, name := range spec.ListeningServices() {
		if spec.Services[name].Socket == SocketSelf {
			continue
		}
		if boundItself(ctx, ctrl, st.Name, name, began) {
			return &SocketConflictError{Instance: st.Name, Service: name, Port: st.Ports[name], Err: err}
		}
	}
	return err
}

// boundItself reports whether the component's output since began says
// that a bind failed with EADDRINUSE, in the words of Python
// ("[Errno 98] Address already in use"), Go and libc ("address already in
// use") or Node ("EADDRINUSE").
func boundItself(ctx context.Context, ctrl services.Controller, instance, component string, began time.Time) bool {
	r, err := ctrl.Logs(ctx, instance, component, services.LogOptions{Since: began, Lines: 200})
	if err != nil {
		return false
	}
	defer r.Close()
	out, _ := io.ReadAll(io.LimitReader(r, 256<<10))
	return bytes.Contains(bytes.ToLower(out), []byte("address already in use")) || bytes.Contains(out, []byte("EADDRINUSE"))
}
