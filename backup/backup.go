package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/atomicfile"
)

// Errors of this package (the archive's own are in backup/archive and are
// returned wrapped, so errors.Is works with both).
var (
	ErrFileChanged   = errors.New("file kept changing while it was read")
	ErrUnsafeSymlink = errors.New("symbolic link points out of the captured directory")
	ErrLargeObjects  = errors.New("the database has large objects, which backups do not carry")
	ErrLayout        = errors.New("archive content is out of order or inconsistent")
	ErrNoTarget      = errors.New("restore target not given")
	ErrRowCount      = errors.New("row count differs from the archive")
)

// Defaults and limits.
const (
	// DefaultChunkSize bounds a database chunk member: Jobs chunks in flight
	// plus the compressor's window is the memory a backup or restore uses.
	DefaultChunkSize = 8 << 20
	// MaxChunkSize is the largest database chunk a restore accepts (a
	// single row can make a chunk larger than DefaultChunkSize).
	MaxChunkSize = 1 << 30
	// DefaultMaintenanceWorkMem is the least maintenance_work_mem of the
	// sessions that build indexes during a restore (server memory, per
	// job): a server set lower gets this for the restore's sessions.
	DefaultMaintenanceWorkMem = "256MB"
	// memSpoolLimit: files up to this size are spooled in memory.
	memSpoolLimit = 4 << 20
)

// Database names a database on a PostgreSQL server.
type Database struct {
	// ConnString connects to the server (URL or keyword/value form). For a
	// backup the role must be able to read every table of the database; for
	// a restore it must be able to create databases and SET ROLE to Owner.
	// Its database part is only used to connect for administration; Name
	// says which database is backed up or replaced.
	ConnString string
	// Name is the database.
	Name string
	// Owner is the role that owns the restored database and everything in
	// it (restore only).
	Owner string
	// OwnerConnString, when set, connects as Owner (restore only): the
	// schema and rows are then loaded over it, so SQL from the archive runs
	// with the owner's privileges only. Without it they are loaded over
	// ConnString with SET ROLE Owner, which an archive's SQL could undo:
	// restore archives of unknown origin only with OwnerConnString.
	OwnerConnString string
}

// Broker is a message broker's definitions as its own export has them
// (instance/broker: queues, exchanges, bindings, policies, no messages).
// The archive carries them as they are; it does not read them.
type Broker struct {
	Kind        string // "rabbitmq"
	Vhost       string // exported from
	Definitions []byte // JSON
}

// Dir is a directory to capture, stored under files/NAME.
type Dir struct {
	Name string // one path element, e.g. "data"
	Path string
}

// Event reports progress; callbacks are never called concurrently. Kinds: "snapshot", "table", "file-retry",
// "file-skipped", "schema", "data-restored", "post-data", "swap".
type Event struct {
	Kind  string
	Path  string // file, or schema.table
	Bytes int64
	Rows  int64
	Err   error
}

// Options say what a backup holds and how it is made. Identity fields go
// into the manifest verbatim.
type Options struct {
	Instance string
	Release  string
	Spec     string
	Lock     string
	Meta     map[string]string

	// Database to dump; nil for none.
	Database *Database
	// Broker is a message broker's definitions to keep (format 2, member
	// broker/definitions.json); nil for none.
	Broker *Broker
	// Dirs to capture.
	Dirs []Dir

	// Quiesce, when set, is called before the database snapshot is taken
	// and the files are read; the returned resume is called once both are
	// done (the database rows then stream from the snapshot).
	Quiesce func(ctx context.Context) (resume func(), err error)

	// Jobs is the number of database connections streaming in parallel;
	// 0 means max(2, NumCPU).
	Jobs int
	// ChunkSize of database chunk members; 0 means DefaultChunkSize.
	ChunkSize int
	// Retries for a file that changes while read; 0 means 3.
	Retries int
	// Compression tunes zstd; the zero value is the default level.
	Compression archive.WriterOptions
	// PgBin is the directory holding pg_dump and pg_restore; "" finds them
	// (PATH, then the newest /usr/lib/postgresql/*/bin).
	PgBin string
	// TempDir for spooling large files; "" is os.TempDir().
	TempDir string

	Logger  *slog.Logger
	OnEvent func(Event)
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	// splitPages is the size in blocks above which a table is split into
	// block ranges (tests lower it).
	splitPages int64
	// afterRead, when set, runs between copying a file and checking it did
	// not change (tests simulate concurrent writers with it).
	afterRead func(path string)
	// beforePart, when set, runs in a database worker before its n-th COPY
	// (tests spread the workers out in time with it).
	beforePart func(worker, n int)
	// noLanes writes the catalog as archives did before lanes (tests of
	// restoring those).
	noLanes bool
}

// Result describes a finished archive.
type Result struct {
	Manifest archive.Manifest
	Members  int
	Files    int   // regular files captured
	Bytes    int64 // uncompressed content bytes
	Tables   int
	Rows     int64
}

func (o *Options) jobs() int    { return jobsOr(o.Jobs) }
func (o *Options) chunk() int   { return or(o.ChunkSize, DefaultChunkSize) }
func (o *Options) retries() int { return or(o.Retries, 3) }

func jobsOr(n int) int {
	if n > 0 {
		return n
	}
	return max(2, runtime.NumCPU())
}

func or(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

func emit(f func(Event), e Event) {
	if f != nil {
		f(e)
	}
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Create writes a backup archive to w. On error what was written is not a
// valid archive (it has no seal), so no reader accepts it.
func Create(ctx context.Context, w io.Writer, opts Options) (*Result, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if f := opts.OnEvent; f != nil {
		// Database workers report concurrently; callers get one at a time.
		var mu sync.Mutex
		opts.OnEvent = func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			f(e)
		}
	}
	host, _ := os.Hostname()
	man := archive.Manifest{Instance: opts.Instance, Created: now().UTC(), Host: host, Release: opts.Release,
		Spec: opts.Spec, Lock: opts.Lock, Meta: opts.Meta}
	if opts.Broker != nil {
		if len(opts.Broker.Definitions) > archive.MaxManifestSize {
			return nil, fmt.Errorf("backup: broker definitions of %d bytes: %w", len(opts.Broker.Definitions), archive.ErrLimit)
		}
		man.Broker = &archive.BrokerInfo{Kind: opts.Broker.Kind, Vhost: opts.Broker.Vhost}
	}
	seen := map[string]bool{}
	for _, d := range opts.Dirs {
		if err := archive.CheckName("files/" + d.Name); err != nil || d.Name == "" || filepath.Base(d.Name) != d.Name || seen[d.Name] {
			return nil, fmt.Errorf("backup: directory name %q must be one unique path element", d.Name)
		}
		seen[d.Name] = true
		man.Dirs = append(man.Dirs, d.Name)
	}

	var dump *dumper
	if opts.Database != nil {
		dump = &dumper{db: *opts.Database, opts: &opts, log: logger(opts.Logger)}
		if err := dump.prepareTools(ctx); err != nil {
			return nil, err
		}
	}
	var resume func()
	if opts.Quiesce != nil {
		r, err := opts.Quiesce(ctx)
		if err != nil {
			return nil, fmt.Errorf("backup: quiesce: %w", err)
		}
		resume = r
	}
	unquiesce := func() {
		if resume != nil {
			resume()
			resume = nil
		}
	}
	defer unquiesce()

	if dump != nil {
		if err := dump.begin(ctx); err != nil {
			return nil, err
		}
		defer dump.close()
		man.Database = &dump.info
	}
	aw, err := archive.NewWriter(w, man, opts.Compression)
	if err != nil {
		return nil, err
	}
	res := &Result{Manifest: man}
	ok := false
	defer func() {
		if !ok {
			aw.Abort()
		}
	}()
	if opts.Broker != nil {
		if err := aw.AddBytes(archive.BrokerName, opts.Broker.Definitions, nil); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	cap := &capturer{aw: aw, opts: &opts, res: res}
	for _, d := range opts.Dirs {
		if err := cap.captureDir(ctx, d); err != nil {
			return nil, err
		}
	}
	unquiesce()
	if dump != nil {
		if err := dump.run(ctx, aw, res); err != nil {
			return nil, err
		}
	}
	if err := aw.Close(nil); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	ok = true
	res.Members = aw.Members()
	return res, nil
}

// CreateFile writes a backup archive to path atomically: a temporary file
// beside it, fsynced and renamed into place only when complete.
func CreateFile(ctx context.Context, path string, opts Options) (*Result, error) {
	var res *Result
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		var err error
		res, err = Create(ctx, w, opts)
		return err
	})
	return res, err
}
