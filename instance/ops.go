package instance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// plan rebuilds an operation from its name and parameters: the same
// function plans a new operation and the recovery of an interrupted one,
// so both run exactly the same steps.
func (m *Manager) plan(ctx context.Context, name, op string, params map[string]string) (*operation, error) {
	switch op {
	case "create":
		return m.planCreate(ctx, name, params)
	case "upgrade", "hotfix":
		return m.planUpgrade(ctx, name, op, params)
	case "rollback":
		return m.planRollback(ctx, name, params)
	case "remove":
		return m.planRemove(ctx, name, params)
	case "restore":
		return m.planRestore(ctx, name, params)
	}
	return nil, fmt.Errorf("unknown operation %q in the journal", op)
}

// stateParams snapshots the instance record at the start of an
// operation: recovery plans from the record as it was, not as a step
// left it, and the commit step's undo restores it.
func stateParams(st *State, params map[string]string) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	params["state"] = string(b)
	return nil
}

// newReleaseID is the ID of the next release: never one the record lists
// or one whose directory exists (left by a failed build, say), so a new
// build never lands in, or is later undone over, an existing release.
func (m *Manager) newReleaseID(name string, st *State) string {
	n := st.NextRelease
	for _, r := range st.Releases {
		if k := releaseNumber(r.ID) + 1; k > n {
			n = k
		}
	}
	if ents, err := os.ReadDir(m.layout.ReleasesDir(name)); err == nil {
		for _, e := range ents {
			if k := releaseNumber(e.Name()) + 1; k > n {
				n = k
			}
		}
	}
	if n < 1 {
		n = 1
	}
	return fmt.Sprintf("r%d", n)
}

// planState returns the record snapshot of params, else the current one.
func (m *Manager) planState(name string, params map[string]string) (*State, error) {
	if params["state"] == "" {
		return readState(m.layout, name)
	}
	var st State
	if err := json.Unmarshal([]byte(params["state"]), &st); err != nil {
		return nil, fmt.Errorf("journal: state: %w", err)
	}
	if st.Ports == nil {
		st.Ports = map[string]int{}
	}
	return &st, nil
}

// specParams carries a spec inside journal parameters, so recovery does
// not depend on the spec file still being there.
func specParams(spec *Spec, params map[string]string) error {
	b, err := spec.Encode()
	if err != nil {
		return err
	}
	params["spec"] = string(b)
	params["spec_dir"] = spec.Dir
	params["spec_file"] = spec.File
	return nil
}

func specFromParams(params map[string]string) (*Spec, error) {
	s, err := ParseSpec([]byte(params["spec"]), params["spec_file"])
	if err != nil {
		return nil, err
	}
	s.Dir = params["spec_dir"]
	return s, nil
}

// Create makes a new instance of spec: its directories, user, database,
// first release (resolve → lock → venv → migrate), services, started and
// health-checked. Any failure undoes everything; a crash is undone by the
// next operation on the name.
func (m *Manager) Create(ctx context.Context, name string, spec *Spec) (*State, error) {
	unlock, _, err := m.begin(ctx, name, "create")
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.create(ctx, name, spec)
}

// create is Create with the instance lock held (Apply holds it across
// its plan and the operation).
func (m *Manager) create(ctx context.Context, name string, spec *Spec) (*State, error) {
	if _, err := os.Stat(m.layout.StateFile(name)); err == nil {
		return nil, fmt.Errorf("instance %s %w (upgrade it, or remove it first)", name, ErrExists)
	}
	ports, err := m.allocatePorts(name, spec, nil)
	if err != nil {
		return nil, err
	}
	params := map[string]string{"release": "r1", "ports": encodePorts(ports)}
	if err := specParams(spec, params); err != nil {
		return nil, err
	}
	op, err := m.planCreate(ctx, name, params)
	if err != nil {
		return nil, err
	}
	if err := m.run(ctx, name, op); err != nil {
		m.cleanupEmpty(name)
		return nil, err
	}
	return readState(m.layout, name)
}

// cleanupEmpty removes an instance directory a rolled-back create left
// with only its lock file in it.
func (m *Manager) cleanupEmpty(name string) {
	dir := m.layout.InstanceDir(name)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Name() != ".lock" {
			return
		}
	}
	os.RemoveAll(dir)
}

func encodePorts(p map[string]int) string {
	var parts []string
	for _, k := range sortedKeys(p) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, p[k]))
	}
	return strings.Join(parts, ",")
}

func decodePorts(s string) map[string]int {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		var n int
		fmt.Sscanf(v, "%d", &n)
		out[k] = n
	}
	return out
}

// allocatePorts gives each listening service a port no other instance
// holds and nothing on the host listens on. Services in have keep theirs,
// and have's ports are all kept: an upgrade that adds a listening service
// gets a port for it, and a rollback to a release whose services the new
// spec dropped still finds theirs.
func (m *Manager) allocatePorts(name string, spec *Spec, have map[string]int) (map[string]int, error) {
	taken := map[int]bool{}
	others, err := m.List(context.Background())
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		for _, p := range o.Ports {
			taken[p] = true
		}
	}
	out := map[string]int{}
	for svc, p := range have {
		out[svc] = p
		taken[p] = true
	}
	for _, svc := range spec.ListeningServices() {
		if _, ok := out[svc]; ok {
			continue
		}
		for {
			p, err := AllocatePort(name, svc, taken)
			if err != nil {
				return nil, err
			}
			taken[p] = true
			if portFree(m.listenAddress(), p) {
				out[svc] = p
				break
			}
		}
	}
	return out, nil
}

func (m *Manager) newState(name string, spec *Spec, params map[string]string) *State {
	st := &State{
		Name:     name,
		App:      spec.Name,
		Created:  time.Now().UTC().Truncate(time.Second),
		SpecFile: filepath.Join(spec.Dir, filepath.Base(spec.File)),
		Ports:    decodePorts(params["ports"]),
		// Where its services will be bound: installAndRestart sets it.
		ListenAddress: m.listenAddress(),
	}
	if spec.File == "" {
		st.SpecFile = ""
	}
	m.identity(st, spec)
	return st
}

func (m *Manager) planCreate(ctx context.Context, name string, params map[string]string) (*operation, error) {
	spec, err := specFromParams(params)
	if err != nil {
		return nil, err
	}
	id := params["release"]
	st := m.newState(name, spec, params)
	l := m.layout
	var began time.Time // when the services were started, for explainStart
	rc := &releaseCompile{}
	op := &operation{op: "create", params: params}
	op.steps = []step{
		{name: "prepare", do: func(ctx context.Context) error {
			return m.prepareDirs(name)
		}, undo: func(ctx context.Context) error {
			// Everything but the lock and the journal, which the
			// operation itself still needs.
			return removeExcept(l.InstanceDir(name), ".lock", "journal")
		}},
		{name: "account", do: func(ctx context.Context) error {
			return m.ensureAccount(ctx, st)
		}, undo: func(ctx context.Context) error {
			return m.removeAccount(ctx, st)
		}},
		// The release compiles in the background from build to compile
		// (compile.go).
		{name: "build", do: func(ctx context.Context) error {
			return m.buildRelease(ctx, st, spec, id, buildBase{}, rc)
		}, undo: func(ctx context.Context) error {
			rc.stop()
			return os.RemoveAll(l.ReleaseDir(name, id))
		}},
		{name: "database", do: func(ctx context.Context) error {
			return m.ensureDatabase(ctx, st, spec)
		}, undo: func(ctx context.Context) error {
			return m.dropDatabase(ctx, st)
		}},
		{name: "broker", do: func(ctx context.Context) error {
			return m.ensureBroker(ctx, st, spec)
		}, undo: func(ctx context.Context) error {
			return m.dropBroker(ctx, st)
		}},
		{name: "compile", do: func(ctx context.Context) error {
			return m.finishCompile(ctx, rc, st, "create", id)
		}},
		{name: "migrate", do: func(ctx context.Context) error {
			return m.migrate(ctx, st, spec, id)
		}},
		{name: "switch", do: func(ctx context.Context) error {
			return atomicfile.Symlink(filepath.Join("releases", id), l.Current(name))
		}, undo: func(ctx context.Context) error {
			return removeIfExists(l.Current(name))
		}},
		{name: "services", do: func(ctx context.Context) error {
			began = time.Now()
			return m.installAndRestart(ctx, st, spec, id)
		}, undo: func(ctx context.Context) error {
			return m.uninstallServices(ctx, name)
		}},
		{name: "health", do: func(ctx context.Context) error {
			return m.explainStart(ctx, st, spec, began, m.healthCheck(ctx, st, spec))
		}},
		{name: "commit", commit: true, do: func(ctx context.Context) error {
			st.Current = id
			st.NextRelease = releaseNumber(id) + 1
			st.Releases = []Release{{ID: id, Created: time.Now().UTC().Truncate(time.Second), Kind: "create", Packages: m.countLocked(name, id)}}
			return writeState(l, st)
		}},
	}
	return op, nil
}

// buildBase is what a new release starts from: nothing (create), the
// current lock as preferences (upgrade), or the current lock with only
// the named requirements changed (hotfix).
type buildBase struct {
	lockFile string   // the previous release's pylock.toml
	changes  []string // hotfix: requirements that replace locked ones
}

// Upgrade builds a new release from spec (nil: the spec the instance was
// last deployed from), migrates, switches to it, restarts and
// health-checks; any failure switches back and restarts the old release,
// so the instance keeps serving.
func (m *Manager) Upgrade(ctx context.Context, name string, spec *Spec) (*State, error) {
	return m.upgrade(ctx, name, "upgrade", spec, nil)
}

// Hotfix makes a new release from the current lock with only the named
// requirements changed (e.g. "demo @ git+https://…@fix-123"), so nothing
// else moves; then as Upgrade.
func (m *Manager) Hotfix(ctx context.Context, name string, changes []string) (*State, error) {
	if len(changes) == 0 {
		return nil, errors.New("hotfix: no requirements given")
	}
	return m.upgrade(ctx, name, "hotfix", nil, changes)
}

func (m *Manager) upgrade(ctx context.Context, name, kind string, spec *Spec, changes []string) (*State, error) {
	unlock, _, err := m.begin(ctx, name, kind)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.upgradeLocked(ctx, name, kind, spec, changes)
}

// upgradeLocked is upgrade with the instance lock held.
func (m *Manager) upgradeLocked(ctx context.Context, name, kind string, spec *Spec, changes []string) (*State, error) {
	st, err := readState(m.layout, name)
	if err != nil {
		return nil, err
	}
	// An upgrade from a given spec file makes it the one a later plain
	// upgrade reads again ("the spec the instance was last deployed from").
	specFile := ""
	if spec == nil {
		spec, err = m.releaseSpec(name, st.Current)
		if err != nil {
			return nil, err
		}
	} else if spec.File != "" {
		specFile = filepath.Join(spec.Dir, filepath.Base(spec.File))
	}
	if spec.Name != st.App {
		return nil, fmt.Errorf("instance %s runs application %q, the spec is for %q: %w", name, st.App, spec.Name, ErrInvalidSpec)
	}
	if st.Ports, err = m.allocatePorts(name, spec, st.Ports); err != nil {
		return nil, err
	}
	params := map[string]string{
		"release":  m.newReleaseID(name, st),
		"previous": st.Current,
		"changes":  strings.Join(changes, "\n"),
	}
	if specFile != "" {
		params["record_spec_file"] = specFile
	}
	if err := specParams(spec, params); err != nil {
		return nil, err
	}
	if err := stateParams(st, params); err != nil {
		return nil, err
	}
	op, err := m.planUpgrade(ctx, name, kind, params)
	if err != nil {
		return nil, err
	}
	if err := m.run(ctx, name, op); err != nil {
		return nil, err
	}
	return readState(m.layout, name)
}

// releaseSpec reads the spec copy a release was built from.
func (m *Manager) releaseSpec(name, id string) (*Spec, error) {
	p := m.layout.ReleaseSpec(name, id)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("instance %s: release %s: %w", name, id, err)
	}
	s, err := ParseSpec(b, p)
	if err != nil {
		return nil, err
	}
	st, err := readState(m.layout, name)
	if err == nil && st.SpecFile != "" {
		s.Dir = filepath.Dir(st.SpecFile)
	}
	return s, nil
}

func (m *Manager) planUpgrade(ctx context.Context, name, kind string, params map[string]string) (*operation, error) {
	spec, err := specFromParams(params)
	if err != nil {
		return nil, err
	}
	st, err := m.planState(name, params)
	if err != nil {
		return nil, err
	}
	old, err := m.planState(name, params)
	if err != nil {
		return nil, err
	}
	id, prev := params["release"], params["previous"]
	var changes []string
	if params["changes"] != "" {
		changes = strings.Split(params["changes"], "\n")
	}
	prevSpec, err := m.releaseSpec(name, prev)
	if err != nil {
		return nil, err
	}
	base := buildBase{lockFile: m.layout.ReleaseLock(name, prev), changes: changes}
	l := m.layout
	rc := &releaseCompile{}
	op := &operation{op: kind, params: params}
	op.steps = []step{
		// The release compiles in the background from build to compile
		// (compile.go).
		{name: "build", do: func(ctx context.Context) error {
			return m.buildRelease(ctx, st, spec, id, base, rc)
		}, undo: func(ctx context.Context) error {
			rc.stop()
			return os.RemoveAll(l.ReleaseDir(name, id))
		}},
		{name: "database", do: func(ctx context.Context) error {
			// A spec may gain a database in an upgrade (see databaseUndo).
			return m.ensureDatabase(ctx, st, spec)
		}, undo: func(ctx context.Context) error {
			return m.databaseUndo(ctx, old, spec)
		}},
		{name: "broker", do: func(ctx context.Context) error {
			// Or a broker (see brokerUndo).
			return m.ensureBroker(ctx, st, spec)
		}, undo: func(ctx context.Context) error {
			return m.brokerUndo(ctx, old, spec)
		}},
		{name: "compile", do: func(ctx context.Context) error {
			return m.finishCompile(ctx, rc, st, kind, id)
		}},
		{name: "migrate", do: func(ctx context.Context) error {
			return m.migrate(ctx, st, spec, id)
		}},
	}
	op.steps = append(op.steps, m.switchSteps(st, spec, id, prevSpec, prev)...)
	op.steps = append(op.steps, []step{
		{name: "commit", commit: true, do: func(ctx context.Context) error {
			st.Current = id
			if f := params["record_spec_file"]; f != "" {
				st.SpecFile = f
			}
			if n := releaseNumber(id) + 1; n > st.NextRelease {
				st.NextRelease = n
			}
			if _, ok := st.Release(id); !ok {
				st.Releases = append(st.Releases, Release{ID: id, Created: time.Now().UTC().Truncate(time.Second), Kind: kind, Changes: changes, Packages: m.countLocked(name, id)})
			}
			return writeState(l, st)
		}, undo: func(ctx context.Context) error {
			return writeState(l, old)
		}},
		{name: "prune", do: func(ctx context.Context) error {
			return m.pruneReleases(st)
		}},
	}...)
	return op, nil
}

// pruneReleases keeps the newest KeepReleases releases (and always the
// current one).
func (m *Manager) pruneReleases(st *State) error {
	if len(st.Releases) <= m.opts.KeepReleases {
		return nil
	}
	drop := st.Releases[:len(st.Releases)-m.opts.KeepReleases]
	var keep []Release
	for _, r := range drop {
		if r.ID == st.Current {
			keep = append(keep, r)
			continue
		}
		if err := os.RemoveAll(m.layout.ReleaseDir(st.Name, r.ID)); err != nil {
			return err
		}
	}
	st.Releases = append(keep, st.Releases[len(st.Releases)-m.opts.KeepReleases:]...)
	return writeState(m.layout, st)
}

// Rollback switches back to an earlier release (to == "": the one before
// the current), without rebuilding, and restarts.
func (m *Manager) Rollback(ctx context.Context, name, to string) (*State, error) {
	unlock, _, err := m.begin(ctx, name, "rollback")
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := readState(m.layout, name)
	if err != nil {
		return nil, err
	}
	if to == "" {
		for i, r := range st.Releases {
			if r.ID == st.Current && i > 0 {
				to = st.Releases[i-1].ID
			}
		}
		if to == "" {
			return nil, fmt.Errorf("instance %s: no release before %s: %w", name, st.Current, ErrNotFound)
		}
	}
	if _, ok := st.Release(to); !ok {
		return nil, fmt.Errorf("instance %s: release %s: %w", name, to, ErrNotFound)
	}
	if to == st.Current {
		return st, nil
	}
	params := map[string]string{"release": to, "previous": st.Current}
	if err := stateParams(st, params); err != nil {
		return nil, err
	}
	op, err := m.planRollback(ctx, name, params)
	if err != nil {
		return nil, err
	}
	if err := m.run(ctx, name, op); err != nil {
		return nil, err
	}
	return readState(m.layout, name)
}

func (m *Manager) planRollback(ctx context.Context, name string, params map[string]string) (*operation, error) {
	st, err := m.planState(name, params)
	if err != nil {
		return nil, err
	}
	old, err := m.planState(name, params)
	if err != nil {
		return nil, err
	}
	id, prev := params["release"], params["previous"]
	spec, err := m.releaseSpec(name, id)
	if err != nil {
		return nil, err
	}
	prevSpec, err := m.releaseSpec(name, prev)
	if err != nil {
		return nil, err
	}
	l := m.layout
	steps := append(m.switchSteps(st, spec, id, prevSpec, prev), step{name: "commit", commit: true, do: func(ctx context.Context) error {
		st.Current = id
		return writeState(l, st)
	}, undo: func(ctx context.Context) error {
		return writeState(l, old)
	}})
	return &operation{op: "rollback", params: params, steps: steps}, nil
}

// switchSteps are the steps upgrade and rollback share: point current at
// release id, restart its services (undone by restarting prev's), and
// health-check them.
func (m *Manager) switchSteps(st *State, spec *Spec, id string, prevSpec *Spec, prev string) []step {
	l, name := m.layout, st.Name
	var began time.Time // when the services were restarted, for explainStart
	return []step{
		{name: "switch", do: func(ctx context.Context) error {
			return atomicfile.Symlink(filepath.Join("releases", id), l.Current(name))
		}, undo: func(ctx context.Context) error {
			return atomicfile.Symlink(filepath.Join("releases", prev), l.Current(name))
		}},
		{name: "restart", do: func(ctx context.Context) error {
			began = time.Now()
			return m.installAndRestart(ctx, st, spec, id)
		}, undo: func(ctx context.Context) error {
			return m.installAndRestart(ctx, st, prevSpec, prev)
		}},
		{name: "health", do: func(ctx context.Context) error {
			return m.explainStart(ctx, st, spec, began, m.healthCheck(ctx, st, spec))
		}},
	}
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// DeleteBackups also removes backups/NAME; by default they are kept.
	DeleteBackups bool
}

// Remove stops the instance and removes its services, database, role,
// user and directories. Backups are kept unless opts.DeleteBackups.
// Removal only rolls forward: once begun it is finished, even after a
// crash.
func (m *Manager) Remove(ctx context.Context, name string, opts RemoveOptions) error {
	unlock, _, err := m.begin(ctx, name, "remove")
	if err != nil {
		return err
	}
	defer unlock()
	cur, err := readState(m.layout, name)
	if err != nil {
		m.cleanupEmpty(name)
		return err
	}
	// Removal rolls forward once begun: refuse a wrong database server
	// before anything is stopped.
	if cur.Database != "" && cur.DatabaseServer != "" {
		if id, err := m.serverID(); err != nil {
			return err
		} else if id != cur.DatabaseServer {
			return fmt.Errorf("instance %s: %w: it is on %s, this command uses %s (pass the --database-url it was created with)", name, ErrOtherServer, cur.DatabaseServer, id)
		}
	}
	if cur.Broker != "" && cur.BrokerServer != "" {
		if err := m.checkBrokerServer(cur); err != nil {
			return err
		}
	}
	params := map[string]string{}
	if st, err := readState(m.layout, name); err == nil {
		if err := stateParams(st, params); err != nil {
			return err
		}
	}
	if opts.DeleteBackups {
		params["delete_backups"] = "1"
	}
	op, err := m.planRemove(ctx, name, params)
	if err != nil {
		return err
	}
	if err := m.run(ctx, name, op); err != nil {
		return err
	}
	// Only the lock file is left; a concurrent operation that opened it
	// meanwhile finds no instance record and stops.
	m.cleanupEmpty(name)
	return nil
}

func (m *Manager) planRemove(ctx context.Context, name string, params map[string]string) (*operation, error) {
	st, err := m.planState(name, params)
	if err != nil {
		return nil, err
	}
	l := m.layout
	return &operation{op: "remove", params: params, steps: []step{
		{name: "stop", commit: true, do: func(ctx context.Context) error {
			return m.uninstallServices(ctx, name)
		}, undo: func(ctx context.Context) error {
			// Killed before the commit: the instance goes on running.
			spec, err := m.releaseSpec(name, st.Current)
			if err != nil {
				return err
			}
			return m.installAndRestart(ctx, st, spec, st.Current)
		}},
		{name: "database", do: func(ctx context.Context) error {
			return m.dropDatabase(ctx, st)
		}},
		{name: "broker", do: func(ctx context.Context) error {
			return m.dropBroker(ctx, st)
		}},
		{name: "account", do: func(ctx context.Context) error {
			return m.removeAccount(ctx, st)
		}},
		{name: "files", do: func(ctx context.Context) error {
			if params["delete_backups"] != "" {
				if err := os.RemoveAll(l.BackupsDir(name)); err != nil {
					return err
				}
			}
			return removeExcept(l.InstanceDir(name), ".lock", "journal")
		}},
	}}, nil
}

func (m *Manager) prepareDirs(name string) error {
	l := m.layout
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{l.InstanceDir(name), 0o755},
		{l.ReleasesDir(name), 0o755},
		{l.DataDir(name), 0o750},
		{l.RunDir(name), 0o750},
		{l.LogDir(name), 0o750},
		{l.SecretsDir(name), 0o700},
		{l.CacheDir(), 0o755},
	} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return err
		}
	}
	return nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeExcept removes everything in dir except the named entries; a
// missing dir is fine.
func removeExcept(dir string, keep ...string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
outer:
	for _, e := range ents {
		for _, k := range keep {
			if e.Name() == k {
				continue outer
			}
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// portFree reports whether nothing on the host listens on addr:port (the
// root's listen address: a port taken only on another address is free).
func portFree(addr string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
