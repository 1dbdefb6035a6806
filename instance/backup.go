package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deploykit/deploykit/backup"
	"github.com/deploykit/deploykit/services"
)

// BackupResult describes an archive Backup wrote or Verify checked.
type BackupResult struct {
	Path     string    `json:"path"`
	Instance string    `json:"instance"`
	Release  string    `json:"release"`
	Created  time.Time `json:"created"`
	Files    int       `json:"files"`
	Tables   int       `json:"tables"`
	Rows     int64     `json:"rows"`
	Bytes    int64     `json:"bytes"`
}

// Backup writes an archive of the instance — its database, its data
// directory and what it runs (spec, release, lock) — to out, or to
// ROOT/backups/NAME/TIMESTAMP.dkb when out is "". The database is dumped
// from one snapshot while the instance keeps serving.
func (m *Manager) Backup(ctx context.Context, name, out string) (*BackupResult, error) {
	unlock, _, err := m.begin(ctx, name, "backup")
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.backup(ctx, name, out)
}

func (m *Manager) backup(ctx context.Context, name, out string) (*BackupResult, error) {
	st, err := readState(m.layout, name)
	if err != nil {
		return nil, err
	}
	if out == "" {
		dir := m.layout.BackupsDir(name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		out = filepath.Join(dir, time.Now().UTC().Format("20060102T150405.000Z")+".dkb")
	}
	specText, _ := os.ReadFile(m.layout.ReleaseSpec(name, st.Current))
	lockText, _ := os.ReadFile(m.layout.ReleaseLock(name, st.Current))
	opts := backup.Options{
		Instance: name,
		Release:  st.Current,
		Spec:     string(specText),
		Lock:     string(lockText),
		Meta:     map[string]string{"app": st.App},
		Dirs:     []backup.Dir{{Name: "data", Path: m.layout.DataDir(name)}},
		Logger:   m.log,
		OnEvent: func(e backup.Event) {
			m.emit(Event{Instance: name, Op: "backup", Kind: EventProgress, Step: e.Kind, Message: e.Path, Current: e.Rows})
		},
	}
	if st.Database != "" {
		srv, err := m.serverFor(ctx, st)
		if err != nil {
			return nil, err
		}
		opts.Database = &backup.Database{ConnString: srv.adminURL, Name: st.Database}
	}
	if opts.Broker, err = m.brokerBackup(ctx, st); err != nil {
		return nil, fmt.Errorf("instance %s: backup: %w", name, err)
	}
	start := time.Now()
	m.emit(Event{Instance: name, Op: "backup", Kind: EventStep, Step: "backup"})
	res, err := backup.CreateFile(ctx, out, opts)
	m.emit(Event{Instance: name, Op: "backup", Kind: EventStepDone, Step: "backup", Elapsed: time.Since(start), Err: err})
	if err != nil {
		return nil, fmt.Errorf("instance %s: backup: %w", name, err)
	}
	abs, _ := filepath.Abs(out)
	return &BackupResult{Path: abs, Instance: name, Release: st.Current, Created: res.Manifest.Created,
		Files: res.Files, Tables: res.Tables, Rows: res.Rows, Bytes: res.Bytes}, nil
}

// Verify checks an archive completely: every member's hash, the format's
// rules, the seal.
func (m *Manager) Verify(ctx context.Context, file string) (*BackupResult, error) {
	s, err := backup.CheckFile(ctx, file, backup.CheckOptions{Logger: m.log})
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(file)
	return &BackupResult{Path: abs, Instance: s.Manifest.Instance, Release: s.Manifest.Release, Created: s.Manifest.Created,
		Files: s.Files, Tables: s.Tables, Rows: s.Rows, Bytes: s.Bytes}, nil
}

// Restore replaces the instance's database and data directory with those
// of the archive file, which may come from another instance ("restore
// production into staging"). The archive loads into a temporary
// database and a staging directory while the instance still serves, and
// is verified as it loads; only once all of it has verified are the
// services stopped, the database and the directory swapped in, and the
// services started and health-checked. The instance keeps its release,
// user, role and password. An archive of another
// instance is refused (archive.ErrOtherInstance, before anything changes)
// unless opts.Force.
func (m *Manager) Restore(ctx context.Context, name, file string, opts RestoreOptions) error {
	unlock, _, err := m.begin(ctx, name, "restore")
	if err != nil {
		return err
	}
	defer unlock()
	return m.restore(ctx, name, file, opts)
}

// RestoreOptions tune Manager.Restore.
type RestoreOptions struct {
	// Force restores an archive taken of another instance ("load last
	// night's production into staging"); without it such an archive is
	// refused, so a mistyped file name cannot replace the wrong data.
	Force bool
}

func (m *Manager) restore(ctx context.Context, name, file string, ropts RestoreOptions) error {
	if _, err := os.Stat(file); err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	// Check the archive's head — whose instance it is, the broker
	// definitions — before anything is made. The rest is verified as it
	// loads, into a temporary database and staging directories while the
	// instance still serves; its services stop only once all of it has
	// verified, right before the swap (backup.RestoreOptions.BeforeSwap),
	// so a refused or corrupt archive costs no stop and start, and the
	// archive is read once, not twice.
	sum, err := backup.CheckHeadFile(abs, backup.CheckOptions{Instance: name, Force: ropts.Force})
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err) // CheckHeadFile names the file
	}
	if err := checkBrokerDefinitions(sum); err != nil {
		return fmt.Errorf("restore %s: %s: %w", name, abs, err)
	}
	// The restore's ID names its temporary database and directories, for
	// the load step's undo to find after a crash (backup.Undo).
	params := map[string]string{"file": abs, "id": backup.NewRestoreID()}
	if ropts.Force {
		params["force"] = "true"
	}
	// An instance stopped on purpose stays stopped: restore replaces its
	// data, it does not start it.
	if !m.anyRunning(ctx, name) {
		params["stopped"] = "true"
	}
	op, err := m.planRestore(ctx, name, params)
	if err != nil {
		return err
	}
	return m.run(ctx, name, op)
}

func (m *Manager) planRestore(ctx context.Context, name string, params map[string]string) (*operation, error) {
	st, err := readState(m.layout, name)
	if err != nil {
		return nil, err
	}
	spec, err := m.releaseSpec(name, st.Current)
	if err != nil {
		return nil, err
	}
	file := params["file"]
	// What the restore replaces: the data directory, and the database if
	// the instance has one.
	dirs := map[string]string{"data": m.layout.DataDir(name)}
	database := func(ctx context.Context) (*backup.Database, error) {
		if st.Database == "" {
			return nil, nil
		}
		srv, err := m.serverFor(ctx, st)
		if err != nil {
			return nil, err
		}
		return &backup.Database{ConnString: srv.adminURL, Name: st.Database}, nil
	}
	// Whether the load step stopped the services: "" when not known (a
	// recovery after a crash), else "no" or "yes".
	stopped := ""
	return &operation{op: "restore", params: params, steps: []step{
		{name: "load", commit: true, do: func(ctx context.Context) error {
			stopped = "no"
			opts := backup.RestoreOptions{
				Instance: name,
				Force:    params["force"] == "true",
				Dirs:     dirs,
				ID:       params["id"],
				// Replaced data is kept until the drop step: the undo of
				// this step puts it back (backup.Undo).
				KeepReplaced: true,
				Logger:       m.log,
				OnEvent: func(e backup.Event) {
					if e.Kind == "swap" && e.Path == dirs["data"] {
						m.crash("load:files")
					} else if e.Kind == "swap" {
						m.crash("load:database")
					}
				},
				BeforeSwap: func(ctx context.Context) error {
					if params["stopped"] == "true" {
						return nil
					}
					stopped = "yes"
					ctrl, err := m.controller()
					if err != nil {
						return err
					}
					if err := ctrl.Stop(ctx, name); err != nil {
						return err
					}
					m.crash("load:stopped")
					return nil
				},
			}
			if st.UID != 0 || st.GID != 0 {
				opts.Owner = &backup.FileOwner{UID: st.UID, GID: st.GID}
			}
			db, err := database(ctx)
			if err != nil {
				return err
			}
			if db != nil {
				// The archive's schema and rows load over the role's own
				// login, so SQL from an archive can do no more than the
				// instance itself could.
				owner, err := m.roleConnInfo(ctx, st)
				if err != nil {
					return err
				}
				db.Owner, db.OwnerConnString = st.Role, owner.URL()
				opts.Database = db
			} else {
				opts.SkipDatabase = true
			}
			// The stream is verified as it is read, and nothing is
			// replaced (nor the services stopped) unless all of it
			// verifies.
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := backup.Restore(ctx, f, opts); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			return nil
		}, undo: func(ctx context.Context) error {
			// Killed before this step was journaled as done, wherever it
			// was (loading, between the directory's swap and the
			// database's, after both), the restore is undone: the data
			// from before is put back and what the restore made is
			// removed, so the rollback leaves the old data, all of it.
			if id := params["id"]; id != "" {
				db, err := database(ctx)
				if err == nil {
					err = backup.Undo(ctx, id, db, dirs)
				}
				if err != nil {
					return err
				}
			}
			// Started again only if this step stopped it, or may have (a
			// recovery after a crash does not know).
			if params["stopped"] == "true" || stopped == "no" {
				return nil
			}
			return m.installAndRestart(ctx, st, spec, st.Current)
		}},
		{name: "broker", do: func(ctx context.Context) error {
			return m.restoreBroker(ctx, st, file)
		}},
		{name: "start", do: func(ctx context.Context) error {
			if params["stopped"] == "true" {
				return nil
			}
			if err := m.installAndRestart(ctx, st, spec, st.Current); err != nil {
				return err
			}
			return m.healthCheck(ctx, st, spec)
		}},
		// The replaced database and data directory go last, outside the
		// downtime: DROP DATABASE forces a checkpoint of the whole
		// cluster. A failure only leaves them for the next restore to
		// drop.
		{name: "drop", do: func(ctx context.Context) error {
			db, err := database(ctx)
			if err == nil {
				err = backup.DropReplaced(ctx, db, dirs)
			}
			if err != nil {
				m.log.Warn("restore: the replaced data is left for the next restore to drop", "instance", name, "err", err)
			}
			return nil
		}},
	}}, nil
}

// anyRunning reports whether any of the instance's components is active
// (or coming up); an error reading the state counts as running, so a
// restore errs on the side of starting the instance again.
func (m *Manager) anyRunning(ctx context.Context, name string) bool {
	ctrl, err := m.controller()
	if err != nil {
		return true
	}
	sts, err := ctrl.Status(ctx, name)
	if err != nil {
		return true
	}
	for _, c := range sts {
		if c.State != services.StateInactive && c.State != services.StateFailed {
			return true
		}
	}
	return false
}

// ErrSameInstance: a clone whose source and destination are one
// instance.
var ErrSameInstance = errors.New("source and destination are the same instance")

// Clone copies SRC's database and data into DST: a backup of SRC (kept
// in ROOT/backups/SRC) restored into DST.
func (m *Manager) Clone(ctx context.Context, src, dst string) error {
	if src == dst {
		return fmt.Errorf("clone %s: %w", src, ErrSameInstance)
	}
	// Both must exist before the source is backed up for nothing.
	for _, n := range []string{src, dst} {
		if _, err := readState(m.layout, n); err != nil {
			return fmt.Errorf("clone: %w", err)
		}
	}
	res, err := m.Backup(ctx, src, "")
	if err != nil {
		return err
	}
	// An archive of another instance is the point of clone.
	return m.Restore(ctx, dst, res.Path, RestoreOptions{Force: true})
}
