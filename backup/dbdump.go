package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/backup/archive"
)

// Catalog is db/catalog.json: what the data chunks belong to.
type Catalog struct {
	Tables     []Table     `json:"tables"`
	Sequences  []Sequence  `json:"sequences,omitempty"`
	Extensions []Extension `json:"extensions,omitempty"`
	// Owner is the source database's owner; Grants are the privileges on
	// tables, views, sequences and schemas held by roles other than the
	// object's owner (grants to Owner are remapped to the target's owner).
	Owner  string  `json:"owner,omitempty"`
	Grants []Grant `json:"grants,omitempty"`
	// Lanes is the number of lanes the tables' chunks were laid out in
	// (lanes.go); 0 in archives written before lanes, whose restore loads
	// any chunk on any connection.
	Lanes int `json:"lanes,omitempty"`
}

// Grant is one privilege on one object. Role "" is PUBLIC.
type Grant struct {
	Kind      string `json:"kind"` // "TABLE" (also views, sequences) or "SCHEMA"
	Schema    string `json:"schema"`
	Name      string `json:"name,omitempty"`
	Role      string `json:"role"`
	Privilege string `json:"privilege"`
	Grantable bool   `json:"grantable,omitempty"`
}

const grantsSQL = `
SELECT 'TABLE', n.nspname::text, c.relname::text, coalesce(r.rolname::text, ''), a.privilege_type, a.is_grantable
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
  LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND a.grantee <> c.relowner
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                  AND dep.objid = c.oid AND dep.deptype = 'e')
UNION ALL
SELECT 'SCHEMA', n.nspname::text, '', coalesce(r.rolname::text, ''), a.privilege_type, a.is_grantable
FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
WHERE a.grantee <> n.nspowner AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
  AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_namespace'::regclass
                  AND dep.objid = n.oid AND dep.deptype = 'e')
ORDER BY 1, 2, 3, 4, 5`

// Extension is an installed extension and its schema.
type Extension struct {
	Name   string `json:"name"`
	Schema string `json:"schema"`
}

// Table is one table whose rows the archive holds.
type Table struct {
	Schema  string   `json:"schema"`
	Name    string   `json:"name"`
	Columns []string `json:"columns"` // in COPY order (generated columns excluded)
	// Format of the table's chunks: "" for COPY text format, "binary" for
	// the tuples of COPY binary format without the stream's header and
	// trailer (see copyBinaryHeader). Binary is chosen when every column
	// is of a built-in type with binary I/O, whose binary form PostgreSQL
	// keeps stable across versions and architectures; it spares the
	// server the text parsing, a fifth to a third of the cost of loading
	// (scripts/bench/backup.sh). Anything else (enums, domains,
	// composites, extension types: their binary forms carry type OIDs or
	// depend on an extension's version) stays text.
	Format string `json:"format,omitempty"`
	// Lane of the table's chunks, below Catalog.Lanes (lanes.go).
	Lane int `json:"lane,omitempty"`
	// Indexes are the names of the table's indexes and Constraints those
	// of its primary key, unique and exclusion constraints: what a restore
	// builds per table after the rows are in (postdata.go). Absent in
	// archives written before; their restores leave the order to
	// pg_restore.
	Indexes     []string `json:"indexes,omitempty"`
	Constraints []string `json:"constraints,omitempty"`
	// ForeignKeys are the table's foreign keys to tables of the catalog.
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
}

// ForeignKey is a foreign key constraint and the catalog table it
// references (its index in Catalog.Tables).
type ForeignKey struct {
	Name       string `json:"name"`
	References int    `json:"references"`
}

const foreignKeysSQL = `
SELECT n.nspname, c.relname, k.conname, rn.nspname, r.relname
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE k.contype = 'f' AND c.relkind = 'r' AND r.relkind = 'r'
ORDER BY 1, 2, 3`

func (t Table) String() string { return t.Schema + "." + t.Name }

func (t Table) copySQL(dir string) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = ident(c)
	}
	return fmt.Sprintf("COPY %s (%s) %s%s", ident(t.Schema, t.Name), strings.Join(cols, ", "), dir, t.copyOptions())
}

func (t Table) copyOptions() string {
	if t.Format == "binary" {
		return " WITH (FORMAT binary)"
	}
	return ""
}

// copyBinaryHeader starts a COPY binary stream: the signature, flags 0 (no
// OIDs) and an empty header extension; copyBinaryTrailer ends it. Chunks
// of binary tables hold neither, so each chunk is a run of whole tuples,
// and a restore wraps each in the two.
var (
	copyBinaryHeader  = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	copyBinaryTrailer = []byte{0xff, 0xff}
)

// Sequence is a sequence's value at backup time.
type Sequence struct {
	Schema    string `json:"schema"`
	Name      string `json:"name"`
	LastValue int64  `json:"last_value"`
	IsCalled  bool   `json:"is_called"`
}

// dumper streams one database into an archive.
type dumper struct {
	db    Database
	opts  *Options
	log   *slog.Logger
	tools pgTools
	env   []string

	conn     *pgx.Conn // holds the exported snapshot
	snapshot string
	info     archive.DatabaseInfo
	catalog  Catalog
	parts    []part
	laneOf   []int   // each table's lane (lanes.go)
	laneSize []int64 // estimated bytes per lane
	version  int
}

// part is one COPY of a table, or of a block range of it.
type part struct {
	table      int
	from, to   int64 // block range [from, to); to < 0: open-ended; from < 0: whole table
	estimation int64
}

func (d *dumper) prepareTools(ctx context.Context) error {
	t, err := findPgTools(d.opts.PgBin)
	if err != nil {
		return err
	}
	d.tools = t
	d.env, err = libpqEnv(d.db.ConnString, d.db.Name)
	return err
}

const tablesSQL = `
SELECT n.nspname, c.relname, pg_relation_size(c.oid) / current_setting('block_size')::int8,
  array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
        AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum),
  NOT EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                AND (t.oid >= 16384 OR t.typsend = 0 OR t.typreceive = 0)),
  array(SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = c.oid ORDER BY 1),
  array(SELECT k.conname::text FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype IN ('p', 'u', 'x') ORDER BY 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                  AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY 3 DESC, 1, 2`

const sequencesSQL = `
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_class'::regclass
                  AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY 1, 2`

// begin opens the snapshot transaction, locks the tables and reads the
// catalog. The snapshot stays open until close.
func (d *dumper) begin(ctx context.Context) error {
	conn, err := connect(ctx, d.db.ConnString, d.db.Name)
	if err != nil {
		return err
	}
	d.conn = conn
	fail := func(err error) error {
		return fmt.Errorf("backup: database %s: %w", d.db.Name, err)
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return fail(err)
	}
	var large bool
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
		pg_encoding_to_char(encoding), EXISTS (SELECT 1 FROM pg_largeobject_metadata)
		FROM pg_database WHERE datname = current_database()`).Scan(&d.info.ServerVersion, &d.version, &d.info.Encoding, &large); err != nil {
		return fail(err)
	}
	d.info.Name = d.db.Name
	if large {
		return fail(ErrLargeObjects)
	}
	rows, err := conn.Query(ctx, tablesSQL)
	if err != nil {
		return fail(err)
	}
	var pages []int64
	for rows.Next() {
		var t Table
		var n int64
		var binary bool
		if err := rows.Scan(&t.Schema, &t.Name, &n, &t.Columns, &binary, &t.Indexes, &t.Constraints); err != nil {
			return fail(err)
		}
		if binary && len(t.Columns) > 0 {
			t.Format = "binary"
		}
		d.catalog.Tables = append(d.catalog.Tables, t)
		pages = append(pages, n)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := d.readForeignKeys(ctx, conn); err != nil {
		return fail(err)
	}
	// Lock like pg_dump: a concurrent rewrite (VACUUM FULL, CLUSTER, ALTER
	// TABLE) must wait until the rows are out.
	for i := 0; i < len(d.catalog.Tables); i += 500 {
		var names []string
		for _, t := range d.catalog.Tables[i:min(i+500, len(d.catalog.Tables))] {
			names = append(names, ident(t.Schema, t.Name))
		}
		if _, err := conn.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS SHARE MODE"); err != nil {
			return fail(err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&d.snapshot); err != nil {
		return fail(err)
	}
	emit(d.opts.OnEvent, Event{Kind: "snapshot", Path: d.db.Name})
	srows, err := conn.Query(ctx, sequencesSQL)
	if err != nil {
		return fail(err)
	}
	seqs, err := pgx.CollectRows(srows, func(r pgx.CollectableRow) (Sequence, error) {
		var s Sequence
		return s, r.Scan(&s.Schema, &s.Name)
	})
	if err != nil {
		return fail(err)
	}
	for _, s := range seqs {
		if err := conn.QueryRow(ctx, "SELECT last_value, is_called FROM "+ident(s.Schema, s.Name)).Scan(&s.LastValue, &s.IsCalled); err != nil {
			return fail(err)
		}
		d.catalog.Sequences = append(d.catalog.Sequences, s)
	}
	erows, err := conn.Query(ctx, `SELECT e.extname::text, n.nspname::text FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname <> 'plpgsql' ORDER BY 1`)
	if err != nil {
		return fail(err)
	}
	if d.catalog.Extensions, err = pgx.CollectRows(erows, func(r pgx.CollectableRow) (Extension, error) {
		var e Extension
		return e, r.Scan(&e.Name, &e.Schema)
	}); err != nil {
		return fail(err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()").Scan(&d.catalog.Owner); err != nil {
		return fail(err)
	}
	grows, err := conn.Query(ctx, grantsSQL)
	if err != nil {
		return fail(err)
	}
	if d.catalog.Grants, err = pgx.CollectRows(grows, func(r pgx.CollectableRow) (Grant, error) {
		var g Grant
		return g, r.Scan(&g.Kind, &g.Schema, &g.Name, &g.Role, &g.Privilege, &g.Grantable)
	}); err != nil {
		return fail(err)
	}
	d.plan(pages)
	return nil
}

// plan gives each table a lane (lanes.go) and splits the tables into COPY
// parts: a table larger than a fair share of the total is cut into block
// ranges (TID range scans, PostgreSQL 14+), so one large table keeps every
// connection busy. Largest parts first.
func (d *dumper) plan(pages []int64) {
	lanes, size := assignLanes(pages, d.opts.jobs())
	d.laneOf = lanes
	if !d.opts.noLanes {
		d.catalog.Lanes = d.opts.jobs()
		for i := range d.catalog.Tables {
			d.catalog.Tables[i].Lane = lanes[i]
		}
	}
	d.laneSize = make([]int64, len(size))
	for l, s := range size {
		d.laneSize[l] = s * 8192
	}
	var total int64
	for _, p := range pages {
		total += p
	}
	jobs := int64(d.opts.jobs())
	share := total / (jobs * 4)
	minSplit := d.opts.splitPages
	if minSplit == 0 {
		minSplit = 16384 // 128 MiB of 8 KiB blocks
	}
	for i, p := range pages {
		if d.version < 140000 || p < minSplit || p <= share || share == 0 {
			d.parts = append(d.parts, part{table: i, from: -1, estimation: p})
			continue
		}
		n := min((p+share-1)/share, jobs*4)
		step := (p + n - 1) / n
		for from := int64(0); from < p; from += step {
			to := from + step
			if to >= p {
				to = -1 // rows in blocks added since are invisible to the snapshot, but be safe
			}
			d.parts = append(d.parts, part{table: i, from: from, to: to, estimation: step})
		}
	}
	// Stable largest-first so the last parts to finish are small.
	for i := 1; i < len(d.parts); i++ {
		for j := i; j > 0 && d.parts[j].estimation > d.parts[j-1].estimation; j-- {
			d.parts[j], d.parts[j-1] = d.parts[j-1], d.parts[j]
		}
	}
}

func (d *dumper) close() {
	if d.conn != nil {
		ctx := context.Background()
		d.conn.Exec(ctx, "COMMIT")
		d.conn.Close(ctx)
		d.conn = nil
	}
}

// chunk is a finished database member on its way to the archive writer.
type chunk struct {
	name string
	data *bytes.Buffer
	sum  [32]byte
	rows int64
}

// run writes the catalog, the schema and the rows.
func (d *dumper) run(ctx context.Context, aw *archive.Writer, res *Result) error {
	cat, err := json.MarshalIndent(d.catalog, "", "  ")
	if err != nil {
		return err
	}
	if err := aw.AddBytes("db/catalog.json", cat, nil); err != nil {
		return err
	}
	if err := d.dumpSchema(ctx, aw); err != nil {
		return err
	}
	res.Tables = len(d.catalog.Tables)

	chunkSize := d.opts.chunk()
	jobs := d.opts.jobs()
	pool := sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, chunkSize+64<<10)) }}
	laneOf := d.laneOf
	open := make([]int, len(d.laneSize))
	for _, p := range d.parts {
		open[laneOf[p.table]]++
	}
	queue := newPartQueue(d.parts, len(d.laneSize), laneOf)
	merge := newLaneMerger(d.laneSize, open, 2)
	g, gctx := errgroup.WithContext(ctx)
	defer merge.watch(gctx)()
	seq := make([]int64, len(d.catalog.Tables)) // next chunk number per table
	var seqMu sync.Mutex
	nextName := func(t int) string {
		seqMu.Lock()
		defer seqMu.Unlock()
		n := seq[t]
		seq[t]++
		return fmt.Sprintf("db/data/%d/%06d", t, n)
	}
	for worker := range jobs {
		g.Go(func() error {
			conn, err := connect(gctx, d.db.ConnString, d.db.Name)
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			if _, err := conn.Exec(gctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
				return err
			}
			if _, err := conn.Exec(gctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(d.snapshot)); err != nil {
				return fmt.Errorf("backup: importing snapshot: %w", err)
			}
			for n := 0; ; n++ {
				p, ok := queue.next(worker)
				if !ok {
					break
				}
				if d.opts.beforePart != nil {
					d.opts.beforePart(worker, n)
				}
				put := func(c chunk) error { return merge.put(laneOf[p.table], c) }
				if err := d.copyPart(gctx, conn, p, chunkSize, &pool, put, nextName); err != nil {
					return err
				}
				merge.partDone(laneOf[p.table])
			}
			_, err = conn.Exec(gctx, "COMMIT")
			return err
		})
	}
	var werr error
	for {
		c, ok, err := merge.next()
		if err != nil || !ok {
			break
		}
		werr = aw.AddFile(c.name, 0o644, timeZero, int64(c.data.Len()), c.sum, bytes.NewReader(c.data.Bytes()),
			map[string]string{"rows": strconv.FormatInt(c.rows, 10)})
		res.Rows += c.rows
		res.Bytes += int64(c.data.Len())
		c.data.Reset()
		pool.Put(c.data)
		if werr != nil {
			merge.stop(werr) // the producers stop too
			break
		}
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("backup: database %s: %w", d.db.Name, err)
	}
	return werr
}

// rowChunker receives COPY data (the server sends exactly one row per
// CopyData message, and pgconn hands each to one Write), so cutting between
// writes cuts between rows. In binary format the first message also
// carries the stream's header and the last one is the trailer; both are
// dropped.
type rowChunker struct {
	buf   *bytes.Buffer
	rows  int64
	size  int
	flush func() error

	binary           bool
	started, trailer bool
}

func (w *rowChunker) Write(p []byte) (int, error) {
	n := len(p)
	if w.binary {
		if w.trailer {
			return 0, errors.New("COPY binary data after the trailer")
		}
		if !w.started {
			w.started = true
			h := len(copyBinaryHeader)
			if len(p) < h || !bytes.Equal(p[:h], copyBinaryHeader) {
				return 0, fmt.Errorf("COPY binary stream does not start with the expected header (%q)", p[:min(len(p), h)])
			}
			if p = p[h:]; len(p) == 0 {
				return n, nil
			}
		}
		if bytes.Equal(p, copyBinaryTrailer) {
			w.trailer = true
			return n, nil
		}
	}
	if w.buf.Len() > 0 && w.buf.Len()+len(p) > w.size {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	w.buf.Write(p)
	w.rows++
	return n, nil
}

func (d *dumper) copyPart(ctx context.Context, conn *pgx.Conn, p part, size int, pool *sync.Pool, put func(chunk) error, nextName func(int) string) error {
	t := d.catalog.Tables[p.table]
	w := &rowChunker{buf: pool.Get().(*bytes.Buffer), size: size, binary: t.Format == "binary"}
	var rows int64
	w.flush = func() error {
		c := chunk{name: nextName(p.table), data: w.buf, rows: w.rows, sum: sha256.Sum256(w.buf.Bytes())}
		rows += w.rows
		if err := put(c); err != nil {
			return err
		}
		w.buf, w.rows = pool.Get().(*bytes.Buffer), 0
		return nil
	}
	sql := t.copySQL("TO STDOUT")
	if p.from >= 0 {
		cols := make([]string, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = ident(c)
		}
		where := fmt.Sprintf("ctid >= '(%d,0)'::tid", p.from)
		if p.to >= 0 {
			where += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", p.to)
		}
		sql = fmt.Sprintf("COPY (SELECT %s FROM ONLY %s WHERE %s) TO STDOUT%s", strings.Join(cols, ", "), ident(t.Schema, t.Name), where, t.copyOptions())
	}
	tag, err := conn.PgConn().CopyTo(ctx, w, sql)
	if err != nil {
		return fmt.Errorf("table %s: %w", t, err)
	}
	// Each chunk's row count is what a restore checks its load against:
	// make sure the framing above counted what the server sent.
	if got := rows + w.rows; got != tag.RowsAffected() || (w.binary && w.started && !w.trailer) {
		return fmt.Errorf("table %s: counted %d rows in the COPY stream, the server sent %d", t, got, tag.RowsAffected())
	}
	if w.buf.Len() > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	} else {
		pool.Put(w.buf)
	}
	emit(d.opts.OnEvent, Event{Kind: "table", Path: t.String(), Rows: rows})
	return nil
}

// dumpSchema runs pg_dump --schema-only under the snapshot and stores its
// output in chunks.
func (d *dumper) dumpSchema(ctx context.Context, aw *archive.Writer) error {
	cmd := exec.CommandContext(ctx, d.tools.dump, "--format=custom", "--compress=0", "--schema-only",
		"--snapshot="+d.snapshot, "--no-sync")
	cmd.Env = d.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("backup: pg_dump: %w", err)
	}
	buf := make([]byte, d.opts.chunk())
	var werr error
	for i := 0; ; i++ {
		n, rerr := io.ReadFull(stdout, buf)
		if n > 0 && werr == nil {
			werr = aw.AddBytes(fmt.Sprintf("db/schema/%06d", i), buf[:n], nil)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			werr = errors.Join(werr, rerr)
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("backup: pg_dump: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	emit(d.opts.OnEvent, Event{Kind: "schema", Path: d.db.Name})
	return werr
}

var timeZero time.Time

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// readForeignKeys records each table's foreign keys to catalog tables
// (postdata.go builds one in the bin of its two tables when they share one).
func (d *dumper) readForeignKeys(ctx context.Context, conn *pgx.Conn) error {
	at := map[string]int{}
	for i, t := range d.catalog.Tables {
		at[t.Schema+"\x00"+t.Name] = i
	}
	rows, err := conn.Query(ctx, foreignKeysSQL)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var schema, table, name, rschema, rtable string
		if err := rows.Scan(&schema, &table, &name, &rschema, &rtable); err != nil {
			return err
		}
		t, ok := at[schema+"\x00"+table]
		r, rok := at[rschema+"\x00"+rtable]
		if ok && rok {
			d.catalog.Tables[t].ForeignKeys = append(d.catalog.Tables[t].ForeignKeys, ForeignKey{Name: name, References: r})
		}
	}
	return rows.Err()
}
