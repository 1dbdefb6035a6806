package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Manager. The zero value manages DefaultRoot() with
// the embedded PostgreSQL cluster and the service controller chosen by
// the host.
type Options struct {
	// Root is the deploykit root ("" = DefaultRoot()).
	Root string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Events receives progress events; nil ignores them. It is called
	// from the goroutine running the operation.
	Events func(Event)
	// DatabaseURL names an existing PostgreSQL server and a role allowed
	// to create roles and databases; "" uses (and if needed creates and
	// starts) the embedded cluster under ROOT/postgres.
	DatabaseURL string
	// BrokerURL names an existing RabbitMQ's management API with an
	// administrator's credentials (http://USER:PASSWORD@HOST:15672/);
	// "" uses (and if needed creates and starts) the embedded node under
	// ROOT/rabbitmq. Only instances whose spec has [broker] use it.
	BrokerURL string
	// Services is "auto" (""; systemd when PID 1 is systemd, else the
	// built-in supervisor), "systemd" or "supervise".
	Services string
	// KeepReleases is how many releases are kept (0 = 5); older ones are
	// removed after a successful upgrade.
	KeepReleases int
	// Python overrides the spec's interpreter constraint: a path or a
	// constraint.
	Python string
	// Sources adds package sources to those the requirements files name
	// (offline deployments pass FindLinks and NoIndex).
	Sources Sources
	// HealthTimeout bounds the health check after a (re)start (0 = 30s).
	HealthTimeout time.Duration
	// ListenAddress is the IP address listening services are bound on,
	// health-checked at and reported on; "" keeps the one the root
	// records (ROOT/settings.toml), else 127.0.0.1. A different value is
	// recorded for the whole root: see listen.go.
	ListenAddress string

	// SupervisorExecutable is the program the built-in supervisor
	// re-executes as its daemon (`PROGRAM __supervise DIR`, see
	// SupervisorMain); "" is the running program.
	SupervisorExecutable string

	// CrashAt is a test hook: the process kills itself (SIGKILL) at the
	// named step ("STEP" before it runs, "STEP:done" after it ran but
	// before the journal records it). The deploykit CLI sets it from
	// $DEPLOYKIT_TEST_CRASH_AT.
	CrashAt string
}

// Sources are package sources in pip's terms.
type Sources struct {
	IndexURL       string   `json:"index_url,omitempty"`
	ExtraIndexURLs []string `json:"extra_index_urls,omitempty"`
	FindLinks      []string `json:"find_links,omitempty"`
	NoIndex        bool     `json:"no_index,omitempty"`
	Pre            bool     `json:"pre,omitempty"`
	TrustedHosts   []string `json:"trusted_hosts,omitempty"`
	// PreferBinary is pip's --prefer-binary: an older version with a
	// wheel beats a newer one that has only an sdist.
	PreferBinary bool `json:"prefer_binary,omitempty"`
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventStep     EventKind = "step"     // a step started
	EventStepDone EventKind = "done"     // a step finished (Err set on failure)
	EventProgress EventKind = "progress" // Current of Total units within a step
	EventInfo     EventKind = "info"     // a message worth showing a user
)

// Event is a progress report from a long operation.
type Event struct {
	Instance string
	Op       string // "create", "upgrade", …
	Kind     EventKind
	Step     string
	Message  string
	Current  int64
	Total    int64
	Elapsed  time.Duration // for EventStepDone
	// Waited is, for the EventInfo of the compile step, how long the
	// operation waited for the release's background byte-compilation
	// (Elapsed is how long it took).
	Waited time.Duration
	Err    error
}

// Manager runs operations on the instances under one root. It is safe for
// concurrent use; operations on one instance exclude each other through
// the instance lock (also across processes).
type Manager struct {
	layout Layout
	opts   Options
	log    *slog.Logger
	dbState
	brokerState

	settingsMu sync.Mutex
	settings   Settings // as recorded in ROOT/settings.toml
}

// Open returns a Manager for opts.Root. It creates nothing: the root's
// directories are made by the first operation that needs them.
func Open(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Root == "" {
		r, err := DefaultRoot()
		if err != nil {
			return nil, err
		}
		opts.Root = r
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	opts.Root = root
	switch opts.Services {
	case "", "auto", "systemd", "supervise":
	default:
		return nil, fmt.Errorf("instance: services %q: want auto, systemd or supervise", opts.Services)
	}
	if opts.KeepReleases <= 0 {
		opts.KeepReleases = 5
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = 30 * time.Second
	}
	if opts.ListenAddress != "" {
		if err := ValidateListenAddress(opts.ListenAddress); err != nil {
			return nil, err
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	layout := Layout{Root: root}
	settings, err := layout.ReadSettings()
	if err != nil {
		return nil, err
	}
	return &Manager{layout: layout, opts: opts, log: log, settings: settings}, nil
}

// Layout returns the manager's directory layout.
func (m *Manager) Layout() Layout { return m.layout }

func (m *Manager) emit(e Event) {
	if m.opts.Events != nil {
		m.opts.Events(e)
	}
}

// Summary is one line of List.
type Summary struct {
	Name     string    `json:"name"`
	App      string    `json:"app"`
	Current  string    `json:"current"`
	Releases int       `json:"releases"`
	Ports    []int     `json:"ports"`
	Created  time.Time `json:"created"`
	// Pending is an interrupted operation waiting for recovery ("" none).
	Pending string `json:"pending,omitempty"`
}

// List returns the instances under the root, sorted by name. It reads
// without taking locks (records are replaced atomically).
func (m *Manager) List(ctx context.Context) ([]Summary, error) {
	ents, err := os.ReadDir(m.layout.InstancesDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, e := range ents {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		st, err := readState(m.layout, e.Name())
		if errors.Is(err, ErrNotFound) {
			// Being created (or a create was interrupted): not listed
			// until it has a record.
			continue
		}
		if err != nil {
			return nil, err
		}
		s := Summary{Name: st.Name, App: st.App, Current: st.Current, Releases: len(st.Releases), Created: st.Created}
		for _, p := range st.Ports {
			s.Ports = append(s.Ports, p)
		}
		sort.Ints(s.Ports)
		if js, err := readJournal(m.layout.JournalFile(st.Name)); err == nil && js != nil {
			s.Pending = js.Op
		}
		out = append(out, s)
	}
	return out, nil
}

// begin validates the name, takes the instance lock and recovers an
// interrupted operation. The caller must call the returned unlock.
func (m *Manager) begin(ctx context.Context, name, op string) (unlock func(), rec *Recovery, err error) {
	if err := ValidateName(name); err != nil {
		return nil, nil, err
	}
	// Only create (and apply, which may create) makes an instance
	// directory (the lock lives in it): any
	// other operation on an unknown instance fails here, before it leaves
	// a lock file behind or does work (clone's backup) for nothing.
	if op != "create" && op != "apply" {
		if _, err := os.Stat(m.layout.InstanceDir(name)); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("instance %s: %w", name, ErrNotFound)
		}
	}
	if err := os.MkdirAll(m.layout.InstancesDir(), 0o755); err != nil {
		return nil, nil, err
	}
	if op != "status" {
		if err := m.recordSettings(); err != nil {
			return nil, nil, err
		}
	}
	lk, err := lockInstance(m.layout.LockFile(name), name, op)
	if err != nil {
		return nil, nil, err
	}
	rec, err = m.recover(ctx, name)
	if err != nil {
		lk.Unlock()
		return nil, nil, err
	}
	if rec != nil {
		m.log.Info("recovered an interrupted operation", "instance", name, "op", rec.Op, "rolled_back", rec.RolledBack, "steps", rec.Steps)
		m.emit(Event{Instance: name, Op: op, Kind: EventInfo, Message: rec.String()})
	}
	return lk.Unlock, rec, nil
}

func (m *Manager) recover(ctx context.Context, name string) (*Recovery, error) {
	rec, err := recoverOperation(ctx, m.layout.JournalFile(name), m.opts.CrashAt, func(op string, params map[string]string) (*operation, error) {
		return m.plan(ctx, name, op, params)
	})
	return rec, nameInstance(err, name)
}

// run executes a planned operation with events and logs.
func (m *Manager) run(ctx context.Context, name string, op *operation) error {
	starts := map[string]time.Time{}
	m.log.Info("operation", "instance", name, "op", op.op, "params", op.params)
	err := runOperation(ctx, m.layout.JournalFile(name), op, m.opts.CrashAt, func(s string, done bool, err error) {
		if !done {
			starts[s] = time.Now()
			m.emit(Event{Instance: name, Op: op.op, Kind: EventStep, Step: s})
			return
		}
		el := time.Since(starts[s])
		if err != nil {
			// Info, not Error: the error is returned, and said once by
			// whoever gets it.
			m.log.Info("step failed", "instance", name, "op", op.op, "step", s, "err", err)
		} else {
			m.log.Debug("step done", "instance", name, "op", op.op, "step", s, "elapsed", el)
		}
		m.emit(Event{Instance: name, Op: op.op, Kind: EventStepDone, Step: s, Elapsed: el, Err: err})
	})
	return nameInstance(err, name)
}

// nameInstance names the instance in a *StepError err wraps.
func nameInstance(err error, name string) error {
	var se *StepError
	if errors.As(err, &se) && se.Instance == "" {
		se.Instance = name
	}
	return err
}

func releaseNumber(id string) int {
	var n int
	fmt.Sscanf(strings.TrimPrefix(id, "r"), "%d", &n)
	return n
}
