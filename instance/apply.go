package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/deploykit/deploykit/requirements/lock"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun computes the plan and changes nothing (Ansible's check mode).
	DryRun bool
}

// Apply actions.
const (
	ApplyCreate  = "create"  // the instance was (would be) created
	ApplyUpgrade = "upgrade" // a new release was (would be) built and switched to
	ApplyMove    = "move"    // the services were (would be) moved to the root's listen address
	ApplyNone    = "none"    // the instance matches the spec
)

// Plan says what Apply did or, in a dry run, would do.
type Plan struct {
	Instance string `json:"instance"`
	Action   string `json:"action"`
	Changed  bool   `json:"changed"`
	DryRun   bool   `json:"dry_run"`
	// Reasons name what differs: "absent", "spec", "migrations", "lock",
	// "listen address", "interrupted OP".
	Reasons []string `json:"reasons,omitempty"`
	// From is the release current before; Release the one current after
	// (in a dry run, the ID the new release would get).
	From    string `json:"from,omitempty"`
	Release string `json:"release,omitempty"`
	// Packages is the difference between the two releases' locks.
	Packages PackageChanges `json:"packages"`
	// Migrations are the migration files the new release applies
	// (pending before Apply ran).
	Migrations      []string `json:"migrations,omitempty"`
	ServicesAdded   []string `json:"services_added,omitempty"`
	ServicesRemoved []string `json:"services_removed,omitempty"`
	// ListenAddress is where the services are (would be) bound after
	// Apply; ListenFrom where they were, when that differs.
	ListenAddress string `json:"listen_address"`
	ListenFrom    string `json:"listen_from,omitempty"`
	// Ports are the listening services' ports after Apply.
	Ports map[string]int `json:"ports"`
	// Before and After are the release and its locked packages (name to
	// version) before and after: Ansible's diff mode shows them.
	Before *ReleaseSummary `json:"before,omitempty"`
	After  *ReleaseSummary `json:"after,omitempty"`
	// Elapsed is how long Apply took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// ReleaseSummary is a release and what its lock holds.
type ReleaseSummary struct {
	Release  string            `json:"release"`
	Packages map[string]string `json:"packages"`
}

// PackageChanges are the differences between two locks.
type PackageChanges struct {
	Added   []PackageChange `json:"added,omitempty"`
	Removed []PackageChange `json:"removed,omitempty"`
	// Changed holds packages whose version or source (file, hash, commit)
	// differs.
	Changed []PackageChange `json:"changed,omitempty"`
}

// PackageChange is one package in PackageChanges: From is "" when added,
// To "" when removed.
type PackageChange struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// String is a one-line account of the plan ("upgrade r2 → r3: spec, lock;
// 1 package changed, 1 migration").
func (p *Plan) String() string {
	var b strings.Builder
	switch p.Action {
	case ApplyNone:
		fmt.Fprintf(&b, "%s unchanged (release %s)", p.Instance, p.Release)
		return b.String()
	case ApplyCreate:
		fmt.Fprintf(&b, "%s created: release %s", p.Instance, p.Release)
	case ApplyUpgrade:
		fmt.Fprintf(&b, "%s upgraded from %s to %s", p.Instance, p.From, p.Release)
	case ApplyMove:
		fmt.Fprintf(&b, "%s moved from %s to %s (release %s)", p.Instance, p.ListenFrom, p.ListenAddress, p.Release)
	}
	if p.DryRun {
		b.WriteString(" (dry run: would be)")
	}
	if len(p.Reasons) > 0 {
		fmt.Fprintf(&b, "; differs: %s", strings.Join(p.Reasons, ", "))
	}
	var parts []string
	for _, c := range []struct {
		n    int
		verb string
	}{{len(p.Packages.Added), "added"}, {len(p.Packages.Removed), "removed"}, {len(p.Packages.Changed), "changed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.verb))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "; packages %s", strings.Join(parts, ", "))
	}
	if len(p.Migrations) > 0 {
		fmt.Fprintf(&b, "; migrations %s", strings.Join(p.Migrations, ", "))
	}
	if len(p.ServicesAdded) > 0 {
		fmt.Fprintf(&b, "; services added %s", strings.Join(p.ServicesAdded, ", "))
	}
	if len(p.ServicesRemoved) > 0 {
		fmt.Fprintf(&b, "; services removed %s", strings.Join(p.ServicesRemoved, ", "))
	}
	return b.String()
}

// Apply converges instance name to spec, declaratively: the unit of work
// of a configuration-management run (the deploykit.fleet Ansible
// collection calls `deploykit apply` on every host).
//
//   - An absent instance is created.
//   - An instance whose current release differs from what the spec makes
//     is upgraded (with the upgrade's rollback on failure). It differs when
//     the spec itself differs from the release's copy (its TOML, not its
//     formatting), when the spec's migrations directory holds files the
//     release's copy does not (or different ones), or when resolving the
//     spec's requirements again, preferring the current lock's versions as
//     an upgrade does, gives another lock. So an index that gains newer
//     versions changes nothing while the current ones still satisfy the
//     requirements; a changed requirement, pin or requirements file does.
//   - An instance bound on another address than the root's listen address
//     is moved to it (its services installed and started there).
//   - Otherwise nothing is done, and nothing is restarted.
//
// Not seen as changes: new code in a local project directory requirement,
// whose lock entry is its path, and files the services run from outside
// the release (a server script the spec names by absolute path).
//
// With DryRun, Apply only plans: it changes nothing on the host — no user,
// database, release, restart, instance directory or lock file, not even
// the root's directories. Resolving may fill the package cache when the
// root has one; without one it uses a temporary cache, removed afterwards.
//
// It returns the plan and the instance's record after it (in a dry run,
// the record as it is: nil for an absent instance). A failed upgrade is
// rolled back as Upgrade's is; the plan is returned with the error.
func (m *Manager) Apply(ctx context.Context, name string, spec *Spec, opts ApplyOptions) (*Plan, *State, error) {
	start := time.Now()
	if err := ValidateName(name); err != nil {
		return nil, nil, err
	}
	if spec == nil {
		return nil, nil, fmt.Errorf("instance %s: apply: no spec given: %w", name, ErrInvalidSpec)
	}
	if opts.DryRun {
		st, err := readState(m.layout, name)
		if errors.Is(err, ErrNotFound) {
			st, err = nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		p, err := m.planApply(ctx, name, st, spec, true)
		if p != nil {
			p.Elapsed = time.Since(start)
		}
		return p, st, err
	}
	unlock, _, err := m.begin(ctx, name, "apply")
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := readState(m.layout, name)
	if errors.Is(err, ErrNotFound) {
		st, err = nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := m.planApply(ctx, name, st, spec, false)
	if err != nil {
		if st == nil {
			m.cleanupEmpty(name)
		}
		return nil, nil, err
	}
	var before *State
	switch p.Action {
	case ApplyCreate:
		st, err = m.create(ctx, name, spec)
	case ApplyUpgrade:
		before = st
		st, err = m.upgradeLocked(ctx, name, "upgrade", spec, nil)
	case ApplyMove:
		if err = m.installAndRestart(ctx, st, spec, st.Current); err == nil {
			err = m.healthCheck(ctx, st, spec)
		}
	}
	p.Elapsed = time.Since(start)
	if err != nil {
		if p.Action == ApplyCreate {
			m.cleanupEmpty(name)
		}
		return p, nil, err
	}
	if p.Action == ApplyCreate || p.Action == ApplyUpgrade {
		// What was built, from the release's own lock: the plan did not
		// resolve when the spec alone told it that a release was due.
		after, err := lock.ReadFile(m.layout.ReleaseLock(name, st.Current))
		if err != nil {
			return p, st, err
		}
		var prev *lock.Lock
		if before != nil {
			if prev, err = lock.ReadFile(m.layout.ReleaseLock(name, before.Current)); err != nil {
				return p, st, err
			}
		}
		p.Packages = diffLocks(prev, after)
		p.After = &ReleaseSummary{Release: st.Current, Packages: lockVersions(after)}
	}
	p.Release = st.Current
	p.Ports = listeningPorts(st, spec)
	p.Elapsed = time.Since(start)
	return p, st, nil
}

// planApply decides what Apply does to instance name (st nil: absent).
// A dry run resolves whatever it needs to describe the change; a real one
// resolves only to decide (when the spec and migrations are the same).
func (m *Manager) planApply(ctx context.Context, name string, st *State, spec *Spec, dryRun bool) (*Plan, error) {
	p := &Plan{Instance: name, DryRun: dryRun, ListenAddress: m.listenAddress(), Packages: PackageChanges{}}
	if st == nil {
		p.Action, p.Changed, p.Reasons, p.Release = ApplyCreate, true, []string{"absent"}, "r1"
		p.ServicesAdded = sortedKeys(spec.Services)
		migs, err := specMigrations(spec)
		if err != nil {
			return nil, err
		}
		p.Migrations = sortedKeys(migs)
		if !dryRun {
			return p, nil
		}
		ports, err := m.allocatePorts(name, spec, nil)
		if err != nil {
			return nil, err
		}
		p.Ports = onlyListening(ports, spec)
		lk, err := m.planLock(ctx, spec, nil)
		if err != nil {
			return nil, err
		}
		p.Packages = diffLocks(nil, lk)
		p.After = &ReleaseSummary{Release: p.Release, Packages: lockVersions(lk)}
		return p, nil
	}
	if spec.Name != st.App {
		return nil, fmt.Errorf("instance %s runs application %q, the spec is for %q: %w", name, st.App, spec.Name, ErrInvalidSpec)
	}
	p.From, p.Release = st.Current, st.Current
	p.Ports = listeningPorts(st, spec)
	if js, err := readJournal(m.layout.JournalFile(name)); err == nil && js != nil {
		// Only a dry run can see one: a real Apply recovered it first.
		p.Reasons = append(p.Reasons, "interrupted "+js.Op)
	}
	cur, err := m.releaseSpec(name, st.Current)
	if err != nil {
		return nil, err
	}
	prev, err := lock.ReadFile(m.layout.ReleaseLock(name, st.Current))
	if err != nil {
		return nil, fmt.Errorf("instance %s: release %s: %w", name, st.Current, err)
	}
	p.Before = &ReleaseSummary{Release: st.Current, Packages: lockVersions(prev)}
	p.ServicesAdded, p.ServicesRemoved = diffKeys(cur.Services, spec.Services)

	newSpec, err := spec.Encode()
	if err != nil {
		return nil, err
	}
	oldSpec, err := cur.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(newSpec, oldSpec) {
		p.Reasons = append(p.Reasons, "spec")
	}
	pending, err := m.pendingMigrations(name, st.Current, spec)
	if err != nil {
		return nil, err
	}
	if len(pending) > 0 {
		p.Migrations = pending
		p.Reasons = append(p.Reasons, "migrations")
	}
	due := len(p.Reasons) > 0
	if !due || dryRun {
		lk, err := m.planLock(ctx, spec, prev)
		if err != nil {
			return nil, err
		}
		if !sameLock(prev, lk) {
			p.Reasons = append(p.Reasons, "lock")
			due = true
		}
		p.Packages = diffLocks(prev, lk)
		if due {
			p.After = &ReleaseSummary{Packages: lockVersions(lk)}
		}
	}
	switch {
	case due:
		p.Action, p.Changed = ApplyUpgrade, true
		if dryRun {
			p.Release = m.newReleaseID(name, st)
			p.After.Release = p.Release
			ports, err := m.allocatePorts(name, spec, st.Ports)
			if err != nil {
				return nil, err
			}
			p.Ports = onlyListening(ports, spec)
		}
		if m.moved(st) {
			p.ListenFrom = boundAddress(st)
		}
	case m.moved(st):
		p.Action, p.Changed = ApplyMove, true
		p.ListenFrom = boundAddress(st)
		p.Reasons = append(p.Reasons, "listen address")
	default:
		p.Action = ApplyNone
	}
	return p, nil
}

// planLock resolves spec's requirements into the lock a release built
// now would have, preferring prev's versions as an upgrade does, without
// installing anything. Without a root cache it resolves in a temporary
// one, so a dry run on a fresh host leaves no directory behind.
func (m *Manager) planLock(ctx context.Context, spec *Spec, prev *lock.Lock) (*lock.Lock, error) {
	cache := m.layout.CacheDir()
	if !exists(cache) {
		tmp, err := os.MkdirTemp("", "deploykit-plan-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		cache = tmp
	}
	want := spec.Python
	if m.opts.Python != "" {
		want = m.opts.Python
	}
	py, err := InstanceInterpreter(ctx, want, cache)
	if err != nil {
		return nil, err
	}
	reqs, err := ParseRequirements(ctx, spec, m.opts.Sources)
	if err != nil {
		return nil, err
	}
	rs, err := NewResolver(ctx, py, reqs.Sources, cache, m.log)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	return rs.Lock(ctx, reqs, LockOptions{Previous: prev, Logger: m.log})
}

// sameLock compares two locks by what they pin (packages, their sources
// and hashes, the environment), not by who wrote them.
func sameLock(a, b *lock.Lock) bool {
	enc := func(l *lock.Lock) []byte {
		c := *l
		c.CreatedBy, c.Tool, c.Warnings = "", nil, nil
		out, err := lock.Marshal(&c)
		if err != nil {
			return nil
		}
		return out
	}
	x, y := enc(a), enc(b)
	return x != nil && bytes.Equal(x, y)
}

// diffLocks lists the packages added, removed and changed from a to b (a
// nil: everything in b is added).
func diffLocks(a, b *lock.Lock) PackageChanges {
	var out PackageChanges
	old := map[string]lock.Package{}
	if a != nil {
		for _, p := range a.Packages {
			old[p.Name] = p
		}
	}
	seen := map[string]bool{}
	for _, p := range b.Packages {
		seen[p.Name] = true
		q, ok := old[p.Name]
		switch {
		case !ok:
			out.Added = append(out.Added, PackageChange{Name: p.Name, To: p.Version})
		case !samePackage(p, q):
			out.Changed = append(out.Changed, PackageChange{Name: p.Name, From: q.Version, To: p.Version})
		}
	}
	if a != nil {
		for _, p := range a.Packages {
			if !seen[p.Name] {
				out.Removed = append(out.Removed, PackageChange{Name: p.Name, From: p.Version})
			}
		}
	}
	for _, l := range [][]PackageChange{out.Added, out.Removed, out.Changed} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	return out
}

func samePackage(a, b lock.Package) bool {
	return sameLock(&lock.Lock{Packages: []lock.Package{a}}, &lock.Lock{Packages: []lock.Package{b}})
}

func lockVersions(l *lock.Lock) map[string]string {
	out := map[string]string{}
	for _, p := range l.Packages {
		out[p.Name] = p.Version
	}
	return out
}

// diffKeys returns the keys only in b (added) and only in a (removed).
func diffKeys[V any](a, b map[string]V) (added, removed []string) {
	for _, k := range sortedKeys(b) {
		if _, ok := a[k]; !ok {
			added = append(added, k)
		}
	}
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			removed = append(removed, k)
		}
	}
	return added, removed
}

// specMigrations reads the spec's migration files (name to content).
func specMigrations(spec *Spec) (map[string][]byte, error) {
	if spec.Database == nil || spec.Database.Migrations == "" {
		return nil, nil
	}
	return readMigrations(spec.Path(spec.Database.Migrations))
}

func readMigrations(dir string) (map[string][]byte, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

// pendingMigrations are the spec's migration files that release id does
// not hold, or holds with other content (an upgrade refuses an edited
// migration: that is for the upgrade to report, with file and line).
func (m *Manager) pendingMigrations(name, id string, spec *Spec) ([]string, error) {
	want, err := specMigrations(spec)
	if err != nil {
		return nil, err
	}
	have, err := readMigrations(m.layout.ReleaseMigrations(name, id))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range sortedKeys(want) {
		if !bytes.Equal(want[f], have[f]) {
			out = append(out, f)
		}
	}
	return out, nil
}

// listeningPorts are the ports of spec's listening services in st.
func listeningPorts(st *State, spec *Spec) map[string]int {
	return onlyListening(st.Ports, spec)
}

func onlyListening(ports map[string]int, spec *Spec) map[string]int {
	out := map[string]int{}
	for _, svc := range spec.ListeningServices() {
		if p, ok := ports[svc]; ok {
			out[svc] = p
		}
	}
	return out
}
