package backup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/lazyregexp"
)

var staleRE = lazyregexp.New(`^[0-9a-f]{8}(_old)?$`)

// dbLoader fills a fresh database under a temporary name from an archive's
// db/ members, then swaps it in (or, scratch, checks and drops it).
type dbLoader struct {
	db      Database
	jobs    int
	pgBin   string
	tempDir string
	scratch bool
	log     *slog.Logger
	onEvent func(Event)
	mwm     string

	keepReplaced bool
	id           string // names the temporary database (swapin.go)

	tools    pgTools
	env      []string // libpq environment for the temporary database
	maint    string   // maintenance database to administer from
	tmpName  string
	created  bool
	catalog  *Catalog
	man      *archive.Manifest
	schema   *os.File
	list     string // pg_restore -L file
	preDone  bool
	queues   []chan loadJob // one per connection in lane mode, else one shared
	lanes    bool           // lane mode (freshload.go)
	g        *errgroup.Group
	gctx     context.Context
	stop     context.CancelFunc // ends the workers without finishing (abort)
	bufs     chan *bytes.Buffer // chunk buffers for reuse: kept, unlike a sync.Pool's, across GCs
	mu       sync.Mutex
	loaded   []int64
	bytes    []int64 // read per table: the weight of its post-data (postdata.go)
	finished bool
	held     []heldTable // autovacuum options to put back (autovacuum.go)
}

type loadJob struct {
	table int
	rows  int64
	buf   *bytes.Buffer
}

func (l *dbLoader) fail(err error) error {
	return fmt.Errorf("backup: restoring database %s: %w", l.db.Name, err)
}

func (l *dbLoader) admin(ctx context.Context) (*pgx.Conn, error) {
	return connect(ctx, l.db.ConnString, l.maint)
}

// start creates the temporary database (dropping ones a crashed restore
// left behind).
func (l *dbLoader) start(ctx context.Context, cat *Catalog, man *archive.Manifest) error {
	l.catalog, l.man = cat, man
	var err error
	if l.tools, err = findPgTools(l.pgBin); err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(l.db.ConnString)
	if err != nil {
		return l.fail(err)
	}
	if l.db.Owner == "" {
		l.db.Owner = cfg.User
	}
	base := l.db.Name
	if l.scratch {
		base = "dkverify"
	}
	prefix := tempPrefix(base)
	if l.scratch {
		prefix = base + "_"
	}
	l.tmpName = prefix + l.id
	l.maint = maintDatabase(cfg, l.db.Name)
	if l.env, err = libpqEnv(l.loadConnString(), l.tmpName); err != nil {
		return err
	}
	conn, err := l.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if !l.scratch {
		// A failed restore's temporary database, or a replaced one whose
		// drop failed.
		if err := dropLeftBehind(ctx, conn, prefix, func(string) bool { return true }, l.log); err != nil {
			return l.fail(err)
		}
	}
	sql := "CREATE DATABASE " + ident(l.tmpName) + " OWNER " + ident(l.db.Owner) + " TEMPLATE template0"
	if enc := man.Database.Encoding; enc != "" {
		sql += " ENCODING " + quoteLiteral(enc)
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		return l.fail(err)
	}
	l.created = true
	tc, err := connect(ctx, l.db.ConnString, l.tmpName)
	if err != nil {
		return err
	}
	defer tc.Close(context.Background())
	// Extensions are created by the admin (the owner may not be allowed
	// to); pg_dump's CREATE EXTENSION IF NOT EXISTS then does nothing. Only
	// those living in schemas that exist before pre-data.
	for _, e := range cat.Extensions {
		if e.Schema != "public" && e.Schema != "pg_catalog" {
			continue
		}
		if _, err := tc.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+ident(e.Name)+" WITH SCHEMA "+ident(e.Schema)); err != nil {
			return l.fail(fmt.Errorf("extension %s: %w", e.Name, err))
		}
	}
	f, err := os.CreateTemp(l.tempDir, "deploykit-restore-schema-*")
	if err != nil {
		return l.fail(err)
	}
	l.schema = f
	l.loaded = make([]int64, len(cat.Tables))
	l.bytes = make([]int64, len(cat.Tables))
	return nil
}

// chooseMaintenanceWorkMem settles the index builds' maintenance_work_mem:
// the caller's, else DefaultMaintenanceWorkMem where the server's own
// setting is lower (PostgreSQL's default 64MB spills any sizeable sort to
// disk), else ("") the server's (the embedded cluster's is sized for the
// host).
func (l *dbLoader) chooseMaintenanceWorkMem(ctx context.Context, conn *pgx.Conn) error {
	if l.mwm != "" {
		return nil
	}
	var low bool
	if err := conn.QueryRow(ctx, "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes($1)",
		DefaultMaintenanceWorkMem).Scan(&low); err != nil {
		return err
	}
	if low {
		l.mwm = DefaultMaintenanceWorkMem
	}
	return nil
}

// loadConnString is what the schema and rows are loaded over.
func (l *dbLoader) loadConnString() string {
	if l.db.OwnerConnString != "" {
		return l.db.OwnerConnString
	}
	return l.db.ConnString
}

// roleArgs makes pg_restore act as the owner when connected as the admin.
func (l *dbLoader) roleArgs() []string {
	if l.db.OwnerConnString != "" {
		return nil
	}
	return []string{"--role=" + l.db.Owner}
}

func (l *dbLoader) schemaChunk(r io.Reader) error {
	if _, err := io.Copy(l.schema, r); err != nil {
		return l.fail(err)
	}
	return nil
}

// preData restores the schema's pre-data section and starts the COPY
// workers.
func (l *dbLoader) preData(ctx context.Context) error {
	l.preDone = true
	if err := l.schema.Sync(); err != nil {
		return l.fail(err)
	}
	if err := l.writeList(ctx); err != nil {
		return err
	}
	if err := l.pgRestore(ctx, "pre-data", l.list, 1, ""); err != nil {
		return err
	}
	owner, err := l.ownerConn(ctx, "")
	if err != nil {
		return err
	}
	l.held, err = holdAutovacuum(ctx, owner, l.catalog.Tables)
	if err == nil {
		err = l.chooseMaintenanceWorkMem(ctx, owner)
	}
	owner.Close(context.Background())
	if err != nil {
		return l.fail(err)
	}
	emit(l.onEvent, Event{Kind: "schema", Path: l.tmpName})
	l.bufs = make(chan *bytes.Buffer, l.jobs*(laneReadAhead+1)+1)
	wctx, stop := context.WithCancel(ctx)
	l.stop = stop
	l.g, l.gctx = errgroup.WithContext(wctx)
	if l.lanes = l.catalog.Lanes > 0; l.lanes {
		for range l.jobs {
			q := make(chan loadJob, laneReadAhead)
			l.queues = append(l.queues, q)
			l.g.Go(func() error { return l.laneWorker(l.gctx, q) })
		}
		return nil
	}
	q := make(chan loadJob, l.jobs)
	l.queues = []chan loadJob{q}
	for range l.jobs {
		l.g.Go(func() error { return l.worker(l.gctx, q) })
	}
	return nil
}

// queue is where table t's chunks go.
func (l *dbLoader) queue(t int) chan loadJob {
	if len(l.queues) == 1 {
		return l.queues[0]
	}
	return l.queues[l.catalog.Tables[t].Lane%len(l.queues)]
}

func (l *dbLoader) closeQueues() {
	for _, q := range l.queues {
		close(q)
	}
}

// writeList writes the pg_restore table of contents minus the comments on
// extensions (owned by the admin, not the target role).
func (l *dbLoader) writeList(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, l.tools.restore, "--list", l.schema.Name()).Output()
	if err != nil {
		return l.fail(fmt.Errorf("pg_restore --list: %w", err))
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " COMMENT - EXTENSION ") {
			continue
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	l.list = l.schema.Name() + ".list"
	return os.WriteFile(l.list, keep.Bytes(), 0o600)
}

// pgRestore runs pg_restore on the schema for one section and the items
// of list: in one transaction, or with jobs > 1 in that many sessions.
// options are more PGOPTIONS for its sessions.
func (l *dbLoader) pgRestore(ctx context.Context, section, list string, jobs int, options string) error {
	args := append([]string{"--section=" + section, "--no-owner", "--no-privileges",
		"--exit-on-error", "--use-list=" + list, "--dbname=" + l.tmpName}, l.roleArgs()...)
	if jobs > 1 {
		args = append(args, fmt.Sprintf("--jobs=%d", jobs))
	} else {
		args = append(args, "--single-transaction")
	}
	env := l.env
	if section == "post-data" && l.mwm != "" {
		// Per session, for this restore only.
		options = strings.TrimSpace("-c maintenance_work_mem=" + l.mwm + " " + options)
	}
	if options != "" {
		env = append(env[:len(env):len(env)], "PGOPTIONS="+options)
	}
	if err := runTool(ctx, env, l.tools.restore, append(args, l.schema.Name())...); err != nil {
		return l.fail(err)
	}
	return nil
}

// ownerConn connects to the temporary database as its owner: over
// OwnerConnString, or as the admin with SET ROLE. setup is more SQL for
// the session.
func (l *dbLoader) ownerConn(ctx context.Context, setup string) (*pgx.Conn, error) {
	conn, err := connect(ctx, l.loadConnString(), l.tmpName)
	if err != nil {
		return nil, err
	}
	if l.db.OwnerConnString == "" {
		setup = "SET ROLE " + ident(l.db.Owner) + "; " + setup
	}
	if strings.TrimSpace(setup) == "" {
		return conn, nil
	}
	if _, err := conn.Exec(ctx, setup); err != nil {
		conn.Close(context.Background())
		return nil, l.fail(err)
	}
	return conn, nil
}

func (l *dbLoader) worker(ctx context.Context, work chan loadJob) error {
	conn, err := l.ownerConn(ctx, "SET synchronous_commit TO off")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		// Watch ctx as well as the queue: when another worker fails, the
		// group's context is cancelled and the reader stops feeding the
		// queue without closing it; a worker blocked on it alone would
		// never return, and the reader's g.Wait would hang for good.
		var j loadJob
		select {
		case <-ctx.Done():
			return ctx.Err()
		case job, ok := <-work:
			if !ok {
				return nil
			}
			j = job
		}
		if err := l.load(ctx, conn, j); err != nil {
			return err
		}
	}
}

// load COPYs one chunk in and checks its row count (archives without
// lanes, whose chunks go to any connection; freshload.go has the lanes').
func (l *dbLoader) load(ctx context.Context, conn *pgx.Conn, j loadJob) error {
	t := l.catalog.Tables[j.table]
	var data io.Reader = bytes.NewReader(j.buf.Bytes())
	if t.Format == "binary" {
		data = io.MultiReader(bytes.NewReader(copyBinaryHeader), data, bytes.NewReader(copyBinaryTrailer))
	}
	tag, err := conn.PgConn().CopyFrom(ctx, data, t.copySQL("FROM STDIN"))
	l.putBuf(j.buf)
	if err != nil {
		return l.fail(fmt.Errorf("table %s: %w", t, err))
	}
	if tag.RowsAffected() != j.rows {
		return l.fail(fmt.Errorf("table %s: %w: a chunk loaded %d rows, the archive says %d", t, ErrRowCount, tag.RowsAffected(), j.rows))
	}
	l.mu.Lock()
	l.loaded[j.table] += j.rows
	l.mu.Unlock()
	return nil
}

func (l *dbLoader) getBuf() *bytes.Buffer {
	select {
	case b := <-l.bufs:
		return b
	default:
		return new(bytes.Buffer)
	}
}

func (l *dbLoader) putBuf(b *bytes.Buffer) {
	select {
	case l.bufs <- b:
	default:
	}
}

func (l *dbLoader) dataChunk(ctx context.Context, table int, size, rows int64, r io.Reader) error {
	if !l.preDone {
		if err := l.preData(ctx); err != nil {
			return err
		}
	}
	l.bytes[table] += size
	buf := l.getBuf()
	if err := readChunk(buf, r, size); err != nil {
		return err
	}
	select {
	case l.queue(table) <- loadJob{table: table, rows: rows, buf: buf}:
		return nil
	case <-l.gctx.Done():
		l.putBuf(buf)
		err := l.g.Wait()
		if err == nil {
			err = l.gctx.Err()
		}
		return err
	}
}

// finish waits for the rows, then restores post-data and sequences; in
// scratch mode it compares row counts and drops the database.
func (l *dbLoader) finish(ctx context.Context, want []int64) error {
	if !l.preDone {
		if err := l.preData(ctx); err != nil {
			return err
		}
	}
	l.closeQueues()
	l.finished = true
	err := l.g.Wait()
	l.stop()
	if err != nil {
		return err
	}
	emit(l.onEvent, Event{Kind: "data-restored", Path: l.tmpName})
	start := time.Now()
	if err := l.postData(ctx); err != nil {
		return err
	}
	l.log.Debug("backup: post-data restored", "elapsed", time.Since(start))
	emit(l.onEvent, Event{Kind: "post-data", Path: l.tmpName})
	owner, err := l.ownerConn(ctx, "")
	if err != nil {
		return err
	}
	defer owner.Close(context.Background())
	if !l.scratch {
		if err := releaseAutovacuum(ctx, owner, l.held); err != nil {
			return l.fail(err)
		}
	}
	if err := l.grant(ctx, owner); err != nil {
		return err
	}
	conn, err := connect(ctx, l.db.ConnString, l.tmpName)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, s := range l.catalog.Sequences {
		if _, err := conn.Exec(ctx, "SELECT pg_catalog.setval($1::regclass, $2, $3)", ident(s.Schema, s.Name), s.LastValue, s.IsCalled); err != nil {
			return l.fail(fmt.Errorf("sequence %s.%s: %w", s.Schema, s.Name, err))
		}
	}
	for i, t := range l.catalog.Tables {
		if l.loaded[i] != want[i] {
			return l.fail(fmt.Errorf("table %s: %w: loaded %d rows, the archive has %d", t, ErrRowCount, l.loaded[i], want[i]))
		}
		if l.scratch {
			var n int64
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM ONLY "+ident(t.Schema, t.Name)).Scan(&n); err != nil {
				return l.fail(err)
			}
			if n != want[i] {
				return l.fail(fmt.Errorf("table %s: %w: %d rows after restore, the archive has %d", t, ErrRowCount, n, want[i]))
			}
		}
	}
	return nil
}

// grant re-applies the archive's grants to roles other than the owners:
// to roles that exist on the target server only (roles are global and are
// not dumped; a missing one is logged and skipped). Grants to the source
// database's owner become grants to the target's owner, which owns
// everything already. conn is the owner's, who may grant on what it owns.
func (l *dbLoader) grant(ctx context.Context, conn *pgx.Conn) error {
	exists := map[string]bool{}
	for _, g := range l.catalog.Grants {
		valid := validPrivilege[g.Privilege] && (g.Kind == "TABLE" || g.Kind == "SCHEMA")
		to := "PUBLIC" // needs no role lookup; an unknown privilege is skipped
		if g.Role != "" {
			if g.Role == l.catalog.Owner || g.Role == l.db.Owner {
				continue
			}
			ok, seen := exists[g.Role]
			if !seen {
				if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", g.Role).Scan(&ok); err != nil {
					return l.fail(err)
				}
				exists[g.Role] = ok
				if !ok {
					l.log.Warn("backup: a role the archive grants privileges to does not exist here; skipped", "role", g.Role)
				}
			}
			if !ok {
				continue
			}
			if !valid {
				return l.fail(fmt.Errorf("%w: grant %q on %s", ErrLayout, g.Privilege, g.Kind))
			}
			to = ident(g.Role)
		} else if !valid {
			continue
		}
		obj := "SCHEMA " + ident(g.Schema)
		if g.Kind == "TABLE" {
			obj = "TABLE " + ident(g.Schema, g.Name)
		}
		sql := "GRANT " + g.Privilege + " ON " + obj + " TO " + to
		if g.Grantable && g.Role != "" {
			sql += " WITH GRANT OPTION"
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return l.fail(fmt.Errorf("%s: %w", sql, err))
		}
	}
	return nil
}

var validPrivilege = map[string]bool{"SELECT": true, "INSERT": true, "UPDATE": true, "DELETE": true, "TRUNCATE": true,
	"REFERENCES": true, "TRIGGER": true, "USAGE": true, "CREATE": true}

// swap replaces the target database by the restored one: settings and ACL
// of the old database are carried over, then both renames happen in one
// transaction (swapin.go), then the old database is dropped unless kept
// (keepReplaced). In scratch mode the database is dropped instead.
func (l *dbLoader) swap(ctx context.Context) error {
	defer l.cleanupFiles()
	if l.scratch {
		l.abort()
		return nil
	}
	conn, err := l.admin(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", l.db.Name).Scan(&exists); err != nil {
		return l.fail(err)
	}
	if exists {
		if err := l.copyDatabaseSettings(ctx, conn); err != nil {
			return err
		}
	}
	old := l.tmpName + "_old"
	err = renameFree(ctx, conn, []string{l.db.Name, l.tmpName}, func(tx pgx.Tx) error {
		if exists {
			if _, err := tx.Exec(ctx, "ALTER DATABASE "+ident(l.db.Name)+" RENAME TO "+ident(old)); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "ALTER DATABASE "+ident(l.tmpName)+" RENAME TO "+ident(l.db.Name))
		return err
	})
	if err != nil {
		return l.fail(fmt.Errorf("swapping in the restored database: %w", err))
	}
	l.created = false
	emit(l.onEvent, Event{Kind: "swap", Path: l.db.Name})
	if exists && !l.keepReplaced {
		start := time.Now()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(old)+" WITH (FORCE)"); err != nil {
			// The restore succeeded; the old copy lingers under its name.
			l.log.Warn("backup: dropping the replaced database failed", "database", old, "err", err)
		}
		l.log.Debug("backup: replaced database dropped", "elapsed", time.Since(start))
	}
	return nil
}

// tempPrefix starts the names of the temporary databases of restores
// into name, and, with "_old" after their 8 hex digits, of the databases
// they replaced.
func tempPrefix(name string) string {
	if len(name) > 40 {
		name = name[:40]
	}
	return name + "_dkr_"
}

// maintDatabase is the database to administer from when cfg connects for
// a restore into name.
func maintDatabase(cfg *pgx.ConnConfig, name string) string {
	if cfg.Database == "" || cfg.Database == name {
		return "postgres"
	}
	return cfg.Database
}

// dropLeftBehind drops the databases named prefix + 8 hex digits, or
// that + "_old" (only names this package makes), for which keep of the
// part after prefix match is true; with log, saying so.
func dropLeftBehind(ctx context.Context, conn *pgx.Conn, prefix string, match func(rest string) bool, log *slog.Logger) error {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`, prefix)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		rest := strings.TrimPrefix(n, prefix)
		if !staleRE.MatchString(rest) || !match(rest) {
			continue
		}
		if log != nil {
			log.Info("backup: dropping a temporary database a failed restore left", "database", n)
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(n)+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	return nil
}

// copyDatabaseSettings gives the new database the old one's per-database
// settings (ALTER DATABASE … SET) and ACL (e.g. CONNECT revoked from
// PUBLIC), so restoring does not loosen the target's isolation.
func (l *dbLoader) copyDatabaseSettings(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, `SELECT coalesce(r.rolname, ''), unnest(s.setconfig)
		FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
		LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = $1`, l.db.Name)
	if err != nil {
		return l.fail(err)
	}
	type setting struct{ role, kv string }
	settings, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (setting, error) {
		var s setting
		return s, r.Scan(&s.role, &s.kv)
	})
	if err != nil {
		return l.fail(err)
	}
	for _, s := range settings {
		k, v, _ := strings.Cut(s.kv, "=")
		sql := "ALTER DATABASE " + ident(l.tmpName) + " SET " + ident(k) + " TO " + quoteLiteral(v)
		if s.role != "" {
			sql = "ALTER ROLE " + ident(s.role) + " IN DATABASE " + ident(l.tmpName) + " SET " + ident(k) + " TO " + quoteLiteral(v)
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return l.fail(fmt.Errorf("carrying setting %s: %w", s.kv, err))
		}
	}
	var hasACL bool
	if err := conn.QueryRow(ctx, "SELECT datacl IS NOT NULL FROM pg_database WHERE datname = $1", l.db.Name).Scan(&hasACL); err != nil {
		return l.fail(err)
	}
	if !hasACL {
		return nil
	}
	arows, err := conn.Query(ctx, `SELECT coalesce(r.rolname, ''), a.privilege_type, a.is_grantable
		FROM pg_database d, aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
		WHERE d.datname = $1 AND a.grantee <> d.datdba`, l.db.Name)
	if err != nil {
		return l.fail(err)
	}
	type grant struct {
		role, priv string
		option     bool
	}
	grants, err := pgx.CollectRows(arows, func(r pgx.CollectableRow) (grant, error) {
		var g grant
		return g, r.Scan(&g.role, &g.priv, &g.option)
	})
	if err != nil {
		return l.fail(err)
	}
	if _, err := conn.Exec(ctx, "REVOKE ALL ON DATABASE "+ident(l.tmpName)+" FROM PUBLIC"); err != nil {
		return l.fail(err)
	}
	for _, g := range grants {
		to := "PUBLIC"
		if g.role != "" {
			to = ident(g.role)
		}
		sql := "GRANT " + g.priv + " ON DATABASE " + ident(l.tmpName) + " TO " + to
		if g.option {
			sql += " WITH GRANT OPTION"
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return l.fail(fmt.Errorf("carrying database grant: %w", err))
		}
	}
	return nil
}

// abort stops the workers and drops the temporary database.
func (l *dbLoader) abort() {
	if l.queues != nil && !l.finished {
		// Cancelled, not just closed: a lane worker would commit its
		// rows (and sync them) for a database about to be dropped.
		l.finished = true
		l.stop()
		l.closeQueues()
		l.g.Wait()
	}
	l.cleanupFiles()
	if !l.created {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := l.admin(ctx)
	if err != nil {
		l.log.Warn("backup: cannot drop the temporary database", "database", l.tmpName, "err", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(l.tmpName)+" WITH (FORCE)"); err != nil {
		l.log.Warn("backup: cannot drop the temporary database", "database", l.tmpName, "err", err)
		return
	}
	l.created = false
}

func (l *dbLoader) cleanupFiles() {
	if l.schema != nil {
		l.schema.Close()
		os.Remove(l.schema.Name())
		if l.list != "" {
			os.Remove(l.list)
			// postData's lists
			extra, _ := filepath.Glob(l.list + ".*")
			for _, f := range extra {
				os.Remove(f)
			}
		}
		l.schema = nil
	}
}
