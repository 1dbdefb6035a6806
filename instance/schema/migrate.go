package schema

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// Sentinel errors of migrations; test with errors.Is.
var (
	// ErrChecksumMismatch: an applied migration's file has changed.
	ErrChecksumMismatch = errors.New("schema: applied migration was edited")
	// ErrMissingMigration: an applied migration's file is gone.
	ErrMissingMigration = errors.New("schema: applied migration file is missing")
	// ErrOutOfOrder: a pending migration is older than an applied one.
	ErrOutOfOrder = errors.New("schema: migration older than the last applied one")
	// ErrDuplicateVersion: two files carry the same version.
	ErrDuplicateVersion = errors.New("schema: two migrations with one version")
	// ErrMigrationFailed: a migration's SQL failed (see *MigrationError).
	ErrMigrationFailed = errors.New("schema: migration failed")
)

// DefaultTable records applied migrations.
const DefaultTable = "deploykit_migrations"

// Migration is one versioned SQL file.
type Migration struct {
	Version  int64
	Name     string
	File     string // path, for messages
	SQL      string
	Checksum string // hex SHA-256 of the file's bytes
}

// NewMigration makes a Migration from a file name and its content.
func NewMigration(file string, content []byte) (Migration, error) {
	v, name, err := ParseFilename(filepath.Base(file))
	if err != nil {
		return Migration{}, err
	}
	sum := sha256.Sum256(content)
	return Migration{Version: v, Name: name, File: file, SQL: string(content), Checksum: hex.EncodeToString(sum[:])}, nil
}

// LoadDir reads the migrations in dir, sorted by version. Files not ending
// in .sql, hidden files and directories are ignored; a misnamed .sql file
// or a duplicate version is an error naming the files.
func LoadDir(dir string) ([]Migration, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("schema: migrations: %w", err)
	}
	var out []Migration
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".sql") {
			continue
		}
		path := filepath.Join(dir, n)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		m, err := NewMigration(path, b)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmpInt(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("%w: %s and %s", ErrDuplicateVersion, out[i-1].File, out[i].File)
		}
	}
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MigrationError reports a failed migration with PostgreSQL's message and
// where in the file it points (Line and Column 1-based; 0 when unknown).
type MigrationError struct {
	File    string
	Version int64
	Line    int
	Column  int
	Err     error
}

func (e *MigrationError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	// Its transaction is undone: none of it applied, nothing recorded.
	return fmt.Sprintf("migration %s: %v (not applied)", loc, e.Err)
}

func (e *MigrationError) Unwrap() []error { return []error{ErrMigrationFailed, e.Err} }

// position turns PostgreSQL's 1-based character position into a line and
// column of sql.
func position(sql string, pos int) (line, col int) {
	if pos <= 0 {
		return 0, 0
	}
	line, col = 1, 1
	n := 1
	for _, r := range sql {
		if n == pos {
			return line, col
		}
		n++
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// MigrateOptions tune Migrate and Status.
type MigrateOptions struct {
	// Table records applied migrations; default DefaultTable.
	Table string
	// DryRun: report what would be applied, change nothing.
	DryRun bool
	// Progress, if set, is called before each migration is applied.
	Progress func(m Migration)
	Logger   *slog.Logger
}

var tableNameRE = lazyregexp.New(`^[a-z_][a-z0-9_]{0,62}$`)

func (o *MigrateOptions) table() (string, error) {
	t := o.Table
	if t == "" {
		t = DefaultTable
	}
	if !tableNameRE.MatchString(t) {
		return "", fmt.Errorf("schema: invalid migrations table name %q", t)
	}
	return t, nil
}

// MigrationStatus is one migration's state.
type MigrationStatus struct {
	Migration
	Applied   bool
	AppliedAt time.Time
	// Edited: applied, and the file's checksum differs from the recorded one.
	Edited bool
	// Missing: applied, and no file has this version (Migration then holds
	// only what the table recorded).
	Missing bool
}

// MigrateResult lists what Migrate applied, or in a dry run would apply.
type MigrateResult struct {
	Applied []Migration
	DryRun  bool
}

type appliedRow struct {
	version   int64
	name      string
	checksum  string
	appliedAt time.Time
}

func readApplied(ctx context.Context, conn *pgx.Conn, table string) (map[int64]appliedRow, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", quote(table)).Scan(&exists); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	out := map[int64]appliedRow{}
	if !exists {
		return out, nil
	}
	rows, err := conn.Query(ctx, "SELECT version, name, checksum, applied_at FROM "+quote(table))
	if err != nil {
		return nil, fmt.Errorf("schema: reading %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r appliedRow
		if err := rows.Scan(&r.version, &r.name, &r.checksum, &r.appliedAt); err != nil {
			return nil, fmt.Errorf("schema: reading %s: %w", table, err)
		}
		out[r.version] = r
	}
	return out, rows.Err()
}

func status(migs []Migration, applied map[int64]appliedRow) []MigrationStatus {
	var out []MigrationStatus
	have := map[int64]bool{}
	for _, m := range migs {
		have[m.Version] = true
		st := MigrationStatus{Migration: m}
		if r, ok := applied[m.Version]; ok {
			st.Applied, st.AppliedAt = true, r.appliedAt
			st.Edited = r.checksum != m.Checksum
		}
		out = append(out, st)
	}
	for v, r := range applied {
		if !have[v] {
			out = append(out, MigrationStatus{Migration: Migration{Version: v, Name: r.name, Checksum: r.checksum},
				Applied: true, AppliedAt: r.appliedAt, Missing: true})
		}
	}
	slices.SortFunc(out, func(a, b MigrationStatus) int { return cmpInt(a.Version, b.Version) })
	return out
}

// check turns a status into the first reason not to migrate, or nil.
func check(sts []MigrationStatus) error {
	var lastApplied int64
	for _, s := range sts {
		if s.Applied {
			lastApplied = max(lastApplied, s.Version)
		}
	}
	var errs []error
	for _, s := range sts {
		switch {
		case s.Missing:
			errs = append(errs, fmt.Errorf("%w: version %d (%s) was applied but has no file", ErrMissingMigration, s.Version, s.Name))
		case s.Edited:
			errs = append(errs, fmt.Errorf("%w: %s changed after it was applied (restore it, and put the change in a new migration)", ErrChecksumMismatch, s.File))
		case !s.Applied && s.Version < lastApplied:
			errs = append(errs, fmt.Errorf("%w: %s is pending but version %d is applied", ErrOutOfOrder, s.File, lastApplied))
		}
	}
	return errors.Join(errs...)
}

// Status reports each migration's state on the database cfg connects to.
func Status(ctx context.Context, cfg *pgx.ConnConfig, migs []Migration, opts MigrateOptions) ([]MigrationStatus, error) {
	table, err := opts.table()
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	applied, err := readApplied(ctx, conn, table)
	if err != nil {
		return nil, err
	}
	return status(migs, applied), nil
}

// lockKey is the advisory lock of the migrations of one table (advisory
// locks are per database already).
func lockKey(table string) int64 {
	sum := sha256.Sum256([]byte("deploykit/schema/migrate/" + table))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// Migrate applies the pending migrations in order (see the package doc).
// cfg should log in as the instance's role, so what migrations create is
// the instance's.
func Migrate(ctx context.Context, cfg *pgx.ConnConfig, migs []Migration, opts MigrateOptions) (*MigrateResult, error) {
	table, err := opts.table()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for i := 1; i < len(migs); i++ {
		if migs[i].Version <= migs[i-1].Version {
			return nil, fmt.Errorf("%w or unsorted: %s and %s", ErrDuplicateVersion, migs[i-1].File, migs[i].File)
		}
	}
	conn, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)

	res := &MigrateResult{DryRun: opts.DryRun}
	if !opts.DryRun {
		key := lockKey(table)
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			return nil, fmt.Errorf("schema: waiting for the migration lock: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+quote(table)+` (
	version    bigint PRIMARY KEY,
	name       text NOT NULL,
	checksum   text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return nil, fmt.Errorf("schema: creating %s: %w", table, err)
		}
	}
	// Read under the lock: what a concurrent Migrate applied is seen here.
	applied, err := readApplied(ctx, conn, table)
	if err != nil {
		return nil, err
	}
	sts := status(migs, applied)
	if err := check(sts); err != nil {
		return nil, err
	}
	for _, s := range sts {
		if s.Applied {
			continue
		}
		if opts.DryRun {
			res.Applied = append(res.Applied, s.Migration)
			continue
		}
		if opts.Progress != nil {
			opts.Progress(s.Migration)
		}
		log.Info("schema: applying migration", "file", s.File, "version", s.Version)
		if err := apply(ctx, conn, table, s.Migration); err != nil {
			return res, err
		}
		res.Applied = append(res.Applied, s.Migration)
	}
	return res, nil
}

// apply runs one migration and records it in one transaction.
func apply(ctx context.Context, conn *pgx.Conn, table string, m Migration) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The simple query protocol runs a file of several statements.
	if _, err := conn.PgConn().Exec(ctx, m.SQL).ReadAll(); err != nil {
		me := &MigrationError{File: m.File, Version: m.Version, Err: err}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			me.Line, me.Column = position(m.SQL, int(pe.Position))
		}
		return me
	}
	if conn.PgConn().TxStatus() != 'T' {
		return &MigrationError{File: m.File, Version: m.Version,
			Err: errors.New("the file ends the transaction (BEGIN/COMMIT/ROLLBACK in a migration); its effects may be committed, but it is not recorded")}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+quote(table)+" (version, name, checksum) VALUES ($1, $2, $3)",
		m.Version, m.Name, m.Checksum); err != nil {
		return fmt.Errorf("schema: recording %s: %w", m.File, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return &MigrationError{File: m.File, Version: m.Version, Err: err}
	}
	return nil
}
