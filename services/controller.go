package services

import (
	"context"
	"io"
	"time"
)

// Controller installs and drives an instance's components. Both
// services/systemd and services/supervise implement it.
//
// Component names select components; none means all of the instance's.
type Controller interface {
	// Install makes comps (all of one instance) the instance's components,
	// replacing an earlier set. It starts nothing.
	Install(ctx context.Context, instance string, comps []Component) error
	// Uninstall stops the instance and removes what Install made.
	Uninstall(ctx context.Context, instance string) error
	Start(ctx context.Context, instance string, components ...string) error
	Stop(ctx context.Context, instance string, components ...string) error
	Restart(ctx context.Context, instance string, components ...string) error
	// Reload sends the reload signal (SIGHUP by default).
	Reload(ctx context.Context, instance string, components ...string) error
	Status(ctx context.Context, instance string) ([]Status, error)
	// Logs returns a component's log; with Follow it keeps reading until
	// ctx is done or the reader is closed.
	Logs(ctx context.Context, instance, component string, opts LogOptions) (io.ReadCloser, error)
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow bool
	// Lines limits the output to the last n lines (0 = all).
	Lines int
	// Since, when set, leaves out what processes started before it wrote
	// (systemd: journalctl --since; the supervisor: lines before the first
	// start it logged at or after Since, within the log's last 16 KiB).
	// Read to explain why a start just failed, without an older run's
	// output.
	Since time.Time
}

// State is a component's coarse state, with systemd's ActiveState names.
type State string

// States.
const (
	StateActive       State = "active"
	StateInactive     State = "inactive"
	StateActivating   State = "activating"
	StateDeactivating State = "deactivating"
	StateReloading    State = "reloading"
	StateFailed       State = "failed"
	StateUnknown      State = "unknown"
)

// Status is one component's state. It is encoded with snake_case keys
// like the rest of deploykit's JSON (status --json, the supervisor's
// control protocol).
type Status struct {
	Instance  string `json:"instance"`
	Component string `json:"component"`
	// Unit is the systemd unit, or "" under the supervisor.
	Unit  string `json:"unit,omitempty"`
	State State  `json:"state"`
	// Sub is the finer state (systemd's SubState: running, exited,
	// auto-restart, dead…; the supervisor uses the same words).
	Sub string `json:"sub"`
	// PID is the main process, 0 when none.
	PID int `json:"pid"`
	// Since is when the component entered State (zero when unknown).
	Since time.Time `json:"since"`
	// Restarts counts automatic restarts (systemd's NRestarts).
	Restarts int `json:"restarts"`
	// ExitCode is the last exit status (-1 unknown; signal deaths are
	// 128+signal).
	ExitCode int `json:"exit_code"`
	// Error explains a failed state (crash loop, missing executable…).
	Error string `json:"error,omitempty"`
	// Listen are the bound addresses of the component's listen sockets
	// (the real port when the spec asked for port 0), when known.
	Listen []string `json:"listen,omitempty"`
}
