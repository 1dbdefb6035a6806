package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/deploykit/deploykit/backup/archive"
)

// CheckOptions say which instance an archive is checked for.
type CheckOptions struct {
	// Instance, when set, must be the manifest's instance unless Force.
	Instance string
	Force    bool
	// Deep, when set, also restores the database into a scratch database
	// on this server (Name is ignored; Owner defaults to the connecting
	// role), compares every table's row count with the archive's, and
	// drops it.
	Deep *Database
	// Jobs, PgBin and TempDir as in Options.
	Jobs    int
	PgBin   string
	TempDir string
	Logger  *slog.Logger
	OnEvent func(Event)
}

// RestoreOptions say where an archive is restored.
type RestoreOptions struct {
	// Instance is the instance restored into: an archive of another one is
	// refused unless Force ("restore production into staging").
	Instance string
	Force    bool
	// Database receives the archive's database: ConnString is an admin
	// connection, Name the database replaced, Owner the role owning it
	// afterwards. Nil with an archive that has a database is an error
	// unless SkipDatabase.
	Database     *Database
	SkipDatabase bool
	// Dirs maps the archive's directory names (manifest "dirs") to target
	// paths. Every archived directory needs a target unless SkipDirs.
	Dirs     map[string]string
	SkipDirs bool
	// Owner, when set, owns every restored file and directory.
	Owner *FileOwner

	// MaintenanceWorkMem for the index builds; "" is the server's setting,
	// or DefaultMaintenanceWorkMem if that is lower.
	MaintenanceWorkMem string

	// BeforeSwap, when set, runs once the whole archive has been loaded
	// and verified, right before the targets are replaced: a caller stops
	// what uses them there, so they serve until the last moment and a bad
	// archive never costs a stop. An error from it aborts the restore and
	// leaves every target as it was.
	BeforeSwap func(ctx context.Context) error
	// KeepReplaced leaves the replaced database and directories, renamed
	// away, for the caller to drop with DropReplaced once its services
	// run again (DROP DATABASE forces a checkpoint of the whole cluster,
	// which can take seconds on a busy one, and need not be part of the
	// downtime), or to put back with Undo if the caller was killed
	// before it recorded the restore as done. A later restore of the
	// same targets drops them too.
	KeepReplaced bool
	// ID names what the restore makes (its temporary database, staging
	// and replaced directories: swapin.go): 8 lowercase hex digits the
	// caller journals before it starts, to Undo the restore after a
	// crash. "" picks one.
	ID string

	Jobs    int
	PgBin   string
	TempDir string
	Logger  *slog.Logger
	OnEvent func(Event)
}

// Summary describes a checked or restored archive.
type Summary struct {
	Manifest archive.Manifest
	Seal     archive.Seal
	Members  int // after the manifest
	Files    int
	Bytes    int64
	Tables   int
	Rows     int64
	// TableRows is the archive's row count per table ("schema.name").
	TableRows map[string]int64
	// Broker is the archive's broker definitions, nil when it has none
	// (the restore of a database and files does not apply them: that is
	// the broker's business, see instance/broker).
	Broker []byte
}

// Check reads a whole archive and verifies it — every member's hash, the
// format's rules and this package's, the seal — without writing anything.
// With opts.Deep it also test-restores the database (see CheckOptions).
func Check(ctx context.Context, r io.Reader, opts CheckOptions) (*Summary, error) {
	st := &restorer{log: logger(opts.Logger), onEvent: opts.OnEvent}
	if opts.Deep != nil {
		deep := *opts.Deep
		st.db = &dbLoader{db: deep, jobs: jobsOr(opts.Jobs), pgBin: opts.PgBin, tempDir: opts.TempDir,
			scratch: true, log: st.log, onEvent: opts.OnEvent, id: NewRestoreID()}
	}
	// A plain check has both CPUs to itself: decompress beside the hashing.
	return st.run(ctx, r, archive.ReaderOptions{Instance: opts.Instance, Force: opts.Force, ReadAhead: opts.Deep == nil})
}

// CheckFile is Check on a file.
func CheckFile(ctx context.Context, path string, opts CheckOptions) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	defer f.Close()
	s, err := Check(ctx, f, opts)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// CheckHeadFile reads only the head of the archive at path — the manifest
// and, when it names a broker, the broker definitions that follow it —
// and verifies those: the manifest's instance as in CheckOptions (an
// archive of another instance is refused unless Force) and the
// definitions' hash. It does not read the rest (Restore verifies all of
// it as it loads, before it replaces anything). The Summary has the
// Manifest and Broker only.
func CheckHeadFile(path string, opts CheckOptions) (*Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	defer f.Close()
	ar, err := archive.NewReader(f, archive.ReaderOptions{Instance: opts.Instance, Force: opts.Force})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer ar.Close()
	sum := &Summary{Manifest: *ar.Manifest()}
	if sum.Manifest.Broker == nil {
		return sum, nil
	}
	m, err := ar.Next()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Name != archive.BrokerName {
		return nil, fmt.Errorf("%s: %w: no broker definitions after the manifest", path, ErrLayout)
	}
	if sum.Broker, err = io.ReadAll(ar); err != nil { // a hash mismatch is an error here
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sum, nil
}

// Restore reads an archive from r and restores it as opts say. It works
// from a stream in one pass: the database is loaded into a temporary
// database and directories into staging directories beside their targets;
// the targets are replaced only after the whole archive has verified, so a
// hostile, corrupt or truncated archive, or a failure midway, leaves every
// target as it was.
func Restore(ctx context.Context, r io.Reader, opts RestoreOptions) (*Summary, error) {
	if opts.ID == "" {
		opts.ID = NewRestoreID()
	} else if !validRestoreID(opts.ID) {
		return nil, fmt.Errorf("backup: restore: ID %q is not 8 lowercase hex digits", opts.ID)
	}
	st := &restorer{log: logger(opts.Logger), onEvent: opts.OnEvent, ropts: &opts}
	if opts.Database != nil {
		if opts.Database.Name == "" || opts.Database.Owner == "" {
			return nil, fmt.Errorf("backup: restore: %w: database name and owner role", ErrNoTarget)
		}
		st.db = &dbLoader{db: *opts.Database, jobs: jobsOr(opts.Jobs), pgBin: opts.PgBin, tempDir: opts.TempDir,
			log: st.log, onEvent: opts.OnEvent, mwm: opts.MaintenanceWorkMem, keepReplaced: opts.KeepReplaced, id: opts.ID}
	}
	st.x = &extractor{targets: opts.Dirs, id: opts.ID, owner: opts.Owner, staged: map[string]*stagedDir{}}
	return st.run(ctx, r, archive.ReaderOptions{Instance: opts.Instance, Force: opts.Force})
}

// RestoreFile checks the archive at path completely first, then restores
// it, so a bad archive is refused before anything — not even a temporary
// database — is made.
func RestoreFile(ctx context.Context, path string, opts RestoreOptions) (*Summary, error) {
	if _, err := CheckFile(ctx, path, CheckOptions{Instance: opts.Instance, Force: opts.Force}); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	defer f.Close()
	return Restore(ctx, f, opts)
}

// restorer walks an archive's members; with db and x nil it only checks.
type restorer struct {
	log     *slog.Logger
	onEvent func(Event)
	ropts   *RestoreOptions
	db      *dbLoader
	x       *extractor

	catalog     *Catalog
	schemaParts int
	dataStarted bool
}

func (st *restorer) run(ctx context.Context, r io.Reader, ro archive.ReaderOptions) (sum *Summary, err error) {
	ar, err := archive.NewReader(r, ro)
	if err != nil {
		return nil, err
	}
	defer ar.Close()
	man := ar.Manifest()
	sum = &Summary{Manifest: *man, TableRows: map[string]int64{}}
	if o := st.ropts; o != nil {
		if man.Database != nil && o.Database == nil && !o.SkipDatabase {
			return nil, fmt.Errorf("backup: restore: %w: the archive has database %q", ErrNoTarget, man.Database.Name)
		}
		if o.SkipDatabase {
			st.db = nil
		}
		for _, d := range man.Dirs {
			if _, ok := o.Dirs[d]; !ok && !o.SkipDirs {
				return nil, fmt.Errorf("backup: restore: %w: the archive has directory %q", ErrNoTarget, d)
			}
		}
		if o.SkipDirs {
			for _, d := range man.Dirs {
				if _, ok := o.Dirs[d]; !ok {
					delete(st.x.targets, d)
				}
			}
		}
	}
	dirs := map[string]bool{}
	for _, d := range man.Dirs {
		dirs[d] = true
	}
	defer func() {
		if err != nil {
			if st.db != nil {
				st.db.abort()
			}
			if st.x != nil {
				st.x.abort()
			}
		}
	}()
	var tableRows []int64
	for {
		m, err := ar.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		sum.Members++
		layout := func(format string, args ...any) error {
			return fmt.Errorf("backup: member %q: %w: %s", m.Name, ErrLayout, fmt.Sprintf(format, args...))
		}
		switch {
		case m.Name == archive.BrokerName:
			data, err := io.ReadAll(ar)
			if err != nil {
				return nil, err
			}
			sum.Broker = data
		case strings.HasPrefix(m.Name, "files/"):
			dname, _, _ := strings.Cut(strings.TrimPrefix(m.Name, "files/"), "/")
			if !dirs[dname] {
				return nil, layout("directory %q is not in the manifest", dname)
			}
			if m.Type == archive.TypeRegular {
				sum.Files++
				sum.Bytes += m.Size
			}
			if st.x != nil {
				if _, ok := st.x.targets[dname]; ok {
					if err := st.x.member(m, ar); err != nil {
						return nil, err
					}
				}
			}
		case m.Name == "db/catalog.json":
			if st.catalog != nil || man.Database == nil {
				return nil, layout("unexpected catalog")
			}
			if m.Size > archive.MaxManifestSize {
				return nil, layout("catalog too large")
			}
			var cat Catalog
			data, err := io.ReadAll(ar)
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(data, &cat); err != nil {
				return nil, layout("%v", err)
			}
			for _, t := range cat.Tables {
				if t.Schema == "" || t.Name == "" || len(t.Columns) == 0 {
					return nil, layout("table %q.%q without schema, name or columns", t.Schema, t.Name)
				}
				if t.Format != "" && t.Format != "binary" {
					return nil, layout("table %q.%q in unknown format %q", t.Schema, t.Name, t.Format)
				}
				if t.Lane < 0 || (t.Lane > 0 && t.Lane >= cat.Lanes) {
					return nil, layout("table %q.%q in lane %d of %d", t.Schema, t.Name, t.Lane, cat.Lanes)
				}
				for _, fk := range t.ForeignKeys {
					if fk.References < 0 || fk.References >= len(cat.Tables) {
						return nil, layout("table %q.%q: foreign key %q references table %d of %d", t.Schema, t.Name, fk.Name, fk.References, len(cat.Tables))
					}
				}
			}
			if cat.Lanes < 0 {
				return nil, layout("%d lanes", cat.Lanes)
			}
			st.catalog = &cat
			tableRows = make([]int64, len(cat.Tables))
			sum.Tables = len(cat.Tables)
			if st.db != nil {
				if err := st.db.start(ctx, &cat, man); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(m.Name, "db/schema/"):
			if st.catalog == nil || st.dataStarted || m.Name != fmt.Sprintf("db/schema/%06d", st.schemaParts) {
				return nil, layout("schema chunk out of order")
			}
			st.schemaParts++
			if st.db != nil {
				if err := st.db.schemaChunk(ar); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(m.Name, "db/data/"):
			ts, _, _ := strings.Cut(strings.TrimPrefix(m.Name, "db/data/"), "/")
			t, terr := strconv.Atoi(ts)
			rows, rerr := strconv.ParseInt(m.Extra["rows"], 10, 64)
			switch {
			case st.catalog == nil || st.schemaParts == 0:
				return nil, layout("data before the catalog and schema")
			case terr != nil || t < 0 || t >= len(st.catalog.Tables) || strconv.Itoa(t) != ts:
				return nil, layout("no such table %q", ts)
			case rerr != nil || rows < 0:
				return nil, layout("missing or bad rows record")
			case m.Size > MaxChunkSize:
				return nil, layout("chunk of %d bytes exceeds %d", m.Size, MaxChunkSize)
			}
			st.dataStarted = true
			tableRows[t] += rows
			sum.Rows += rows
			sum.Bytes += m.Size
			if st.db != nil {
				if err := st.db.dataChunk(ctx, t, m.Size, rows, ar); err != nil {
					return nil, err
				}
			}
		default:
			return nil, layout("unknown member")
		}
	}
	if man.Broker != nil && sum.Broker == nil {
		return nil, fmt.Errorf("backup: %w: the manifest names a broker but the archive has no definitions", ErrLayout)
	}
	if man.Database != nil && (st.catalog == nil || st.schemaParts == 0) {
		return nil, fmt.Errorf("backup: %w: the manifest names a database but the archive has no catalog or schema", ErrLayout)
	}
	sum.Seal = *ar.Seal()
	if st.catalog != nil {
		for i, t := range st.catalog.Tables {
			sum.TableRows[t.String()] = tableRows[i]
		}
	}
	// Everything verified: finish and put in place.
	if st.db != nil && st.catalog != nil {
		if err := st.db.finish(ctx, tableRows); err != nil {
			return nil, err
		}
	}
	if st.x != nil {
		if err := st.x.finish(); err != nil {
			return nil, err
		}
	}
	if o := st.ropts; o != nil && o.BeforeSwap != nil {
		if err := o.BeforeSwap(ctx); err != nil {
			return nil, err
		}
	}
	// The directories first, then the database: if the database cannot
	// be swapped in, the directories are exchanged back and every target
	// is as it was (swapin.go).
	if st.x != nil {
		if err := st.x.exchange(st.onEvent); err != nil {
			return nil, err
		}
	}
	if st.db != nil && st.catalog != nil {
		if err := st.db.swap(ctx); err != nil {
			if st.x != nil {
				err = errors.Join(err, st.x.unexchange())
			}
			return nil, err
		}
	}
	if st.x != nil && !st.ropts.KeepReplaced {
		if err := st.x.removeReplaced(); err != nil {
			// Everything is restored; say what is left.
			return nil, fmt.Errorf("backup: restored, but the replaced content could not be removed: %w", err)
		}
	}
	return sum, nil
}

// readChunk reads a verified member into buf.
func readChunk(buf *bytes.Buffer, r io.Reader, size int64) error {
	buf.Reset()
	// ReadFrom wants MinRead spare bytes to see the end; without them the
	// buffer would double.
	buf.Grow(int(size) + bytes.MinRead)
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if int64(buf.Len()) != size {
		return errors.New("short chunk")
	}
	return nil
}

// ReadManifest reads only an archive's manifest (its first member): enough
// to list backups by instance, time and release without reading them
// through. It does not verify the rest of the archive.
func ReadManifest(r io.Reader) (*archive.Manifest, error) {
	ar, err := archive.NewReader(r, archive.ReaderOptions{})
	if err != nil {
		return nil, err
	}
	defer ar.Close()
	m := *ar.Manifest()
	return &m, nil
}

// ReadManifestFile is ReadManifest on a file.
func ReadManifestFile(path string) (*archive.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	defer f.Close()
	m, err := ReadManifest(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ReadBrokerFile reads an archive's manifest and, when it names a broker,
// the broker definitions that follow it, verified against their hash —
// without reading the rest (the definitions come right after the
// manifest). For a restore's step that applies them after the archive
// was checked as a whole; nil definitions when the archive has none.
func ReadBrokerFile(path string) (*archive.Manifest, []byte, error) {
	s, err := CheckHeadFile(path, CheckOptions{})
	if err != nil {
		return nil, nil, err
	}
	return &s.Manifest, s.Broker, nil
}
