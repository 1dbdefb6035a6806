package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// instanceDB is one instance's role and database on the test server.
type instanceDB struct {
	srv       *pgtest.Server
	role      string
	name      string
	reporting string // a third role granted read access to part of the app
}

func (i instanceDB) restoreTarget() *Database {
	return &Database{ConnString: i.srv.URL, Name: i.name, Owner: i.role}
}

func (i instanceDB) source() *Database {
	return &Database{ConnString: i.srv.URL, Name: i.name}
}

// newInstanceDB makes a role and a database it owns, and, when fill, an
// application schema created by that role: tables of several types, a
// serial, a generated column, a view, a function and trigger, foreign keys,
// a trusted extension, a database setting and CONNECT revoked from PUBLIC.
func newInstanceDB(t *testing.T, srv *pgtest.Server, fill bool) instanceDB {
	t.Helper()
	ctx := context.Background()
	i := instanceDB{srv: srv, role: pgtest.RandomName("r"), name: pgtest.RandomName("d")}
	admin := srv.Connect(t)
	for _, sql := range []string{
		"CREATE ROLE " + i.role + " LOGIN",
		"CREATE DATABASE " + i.name + " OWNER " + i.role,
		"REVOKE CONNECT ON DATABASE " + i.name + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + i.name + " TO " + i.role,
		"ALTER DATABASE " + i.name + " SET work_mem TO '12MB'",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, srv.URL)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+i.name+" WITH (FORCE)")
		c.Exec(ctx, "DROP ROLE IF EXISTS "+i.role)
	})
	if !fill {
		return i
	}
	i.reporting = pgtest.RandomName("rep")
	mustExec(t, admin, "CREATE ROLE "+i.reporting)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, srv.URL)
		if err == nil {
			defer c.Close(ctx)
			c.Exec(ctx, "DROP OWNED BY "+i.reporting)
			c.Exec(ctx, "DROP ROLE IF EXISTS "+i.reporting)
		}
	})
	conn := i.connect(t)
	mustExec(t, conn, "CREATE EXTENSION pgcrypto") // trusted: the owner may
	mustExec(t, conn, "SET ROLE "+i.role)
	mustExec(t, conn, `
CREATE SCHEMA app;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE app.customer (id serial PRIMARY KEY, name text NOT NULL, mood app.mood, meta jsonb,
  photo bytea, created timestamptz DEFAULT now(), name_len int GENERATED ALWAYS AS (length(name)) STORED);
CREATE TABLE app.orders (id bigserial PRIMARY KEY, customer int REFERENCES app.customer(id),
  amount numeric(12,2), note text);
CREATE INDEX orders_customer ON app.orders (customer);
-- Storage options the restore must give back as they were, though it turns
-- autovacuum off while it loads (autovacuum.go).
ALTER TABLE app.orders SET (autovacuum_enabled = false, fillfactor = 90, toast.autovacuum_enabled = true);
ALTER TABLE app.customer SET (toast.autovacuum_enabled = off, autovacuum_vacuum_scale_factor = 0.05);
CREATE TABLE public."Odd ""name""" ("col with space" text, "x" int[]);
CREATE VIEW app.big_orders AS SELECT * FROM app.orders WHERE amount > 100;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.touch();
INSERT INTO app.customer (name, mood, meta, photo)
  SELECT 'customer ' || g || E'\ttab\nnewline \\ backslash', (ARRAY['sad','ok','happy'])[1 + g % 3]::app.mood,
         jsonb_build_object('n', g, 'tags', ARRAY['a', 'b']), gen_random_bytes(16)
  FROM generate_series(1, 3000) g;
INSERT INTO app.orders (customer, amount, note)
  SELECT 1 + g % 3000, (g % 500) + 0.25, CASE WHEN g % 7 = 0 THEN NULL ELSE repeat('note ', g % 20) END
  FROM generate_series(1, 20000) g;
INSERT INTO public."Odd ""name""" VALUES ('a b', ARRAY[1,2]), (NULL, NULL);
GRANT USAGE ON SCHEMA app TO `+i.reporting+`;
GRANT SELECT ON app.orders, app.big_orders TO `+i.reporting+`;
`)
	return i
}

func (i instanceDB) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), i.srv.URLFor(i.name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// execAs runs sql in the instance's database as its role, as the
// application would create its schema.
func (i instanceDB) execAs(t *testing.T, sql string) {
	t.Helper()
	conn := i.connect(t)
	mustExec(t, conn, "SET ROLE "+i.role)
	mustExec(t, conn, sql)
	mustExec(t, conn, "RESET ROLE")
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// fingerprint describes a database's content: every user table's rows
// (hashed), sequence values, and the objects with their owners.
func fingerprint(t *testing.T, i instanceDB) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn := i.connect(t)
	fp := map[string]string{}
	rows, err := conn.Query(ctx, `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname IN ('app', 'public')`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		var n int64
		var h string
		if err := conn.QueryRow(ctx, "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM "+tb+" t").Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		fp["rows "+tb] = fmt.Sprintf("%d %s", n, h)
	}
	for _, seq := range []string{"app.customer_id_seq", "app.orders_id_seq"} {
		var v int64
		if err := conn.QueryRow(ctx, "SELECT last_value FROM "+seq).Scan(&v); err == nil {
			fp["seq "+seq] = fmt.Sprint(v)
		}
	}
	var objs []string
	orows, err := conn.Query(ctx, `
SELECT 'class ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('app', 'public')
UNION ALL SELECT 'proc ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'app'
UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'constraint ' || conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'app'
UNION ALL SELECT 'extension ' || extname FROM pg_extension`)
	if err != nil {
		t.Fatal(err)
	}
	if objs, err = pgx.CollectRows(orows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	sort.Strings(objs)
	fp["objects"] = strings.Join(objs, "\n")
	fp["reloptions"] = reloptions(t, conn)
	return fp
}

// reloptions lists the app's tables' storage options and their TOAST
// tables'.
func reloptions(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
SELECT n.nspname || '.' || c.relname || ' ' || coalesce(c.reloptions::text, '-') || ' toast ' || coalesce(tc.reloptions::text, '-')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
WHERE c.relkind = 'r' AND n.nspname IN ('app', 'public') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(opts, "\n")
}

// ownership checks that role owns every object of the app and that other
// has no privilege on any table, sequence or function there.
func checkOwnership(t *testing.T, i instanceDB, other string) {
	t.Helper()
	ctx := context.Background()
	conn := i.connect(t)
	var bad []string
	rows, err := conn.Query(ctx, `
SELECT 'class ' || c.relname || ' owned by ' || pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('app', 'public') AND c.relowner <> $1::regrole
UNION ALL SELECT 'proc ' || p.proname || ' owned by ' || pg_get_userbyid(p.proowner) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'app' AND p.proowner <> $1::regrole
UNION ALL SELECT 'type ' || t.typname || ' owned by ' || pg_get_userbyid(t.typowner) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
  WHERE n.nspname = 'app' AND t.typowner <> $1::regrole
UNION ALL SELECT 'schema app owned by ' || pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'app' AND nspowner <> $1::regrole
UNION ALL SELECT 'database owned by ' || pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database() AND datdba <> $1::regrole
UNION ALL SELECT 'other role may use ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname IN ('app', 'public') AND c.relkind IN ('r', 'v', 'S')
  AND (has_table_privilege($2, c.oid, 'SELECT') OR has_table_privilege($2, c.oid, 'INSERT'))
UNION ALL SELECT 'other role may connect' WHERE has_database_privilege($2, current_database(), 'CONNECT')
UNION ALL SELECT 'role may not connect' WHERE NOT has_database_privilege($1, current_database(), 'CONNECT')
UNION ALL SELECT 'setting lost' WHERE NOT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
  WHERE d.datname = current_database() AND 'work_mem=12MB' = ANY (s.setconfig))`, i.role, other)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("ownership/grants in %s (role %s):\n%s", i.name, i.role, strings.Join(bad, "\n"))
	}
	// The role can use what it owns.
	var n int
	mustExec(t, conn, "SET ROLE "+i.role)
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM app.big_orders").Scan(&n); err != nil {
		t.Fatalf("role %s cannot read its view: %v", i.role, err)
	}
	mustExec(t, conn, "INSERT INTO app.orders (customer, amount) VALUES (1, 1)")
	mustExec(t, conn, "RESET ROLE")
}

// checkReportingGrants checks that rep can read app.orders and the view,
// and nothing else, in database i.
func checkReportingGrants(t *testing.T, i instanceDB, rep string) {
	t.Helper()
	var orders, view, customer, usage bool
	if err := i.connect(t).QueryRow(context.Background(), `SELECT has_table_privilege($1, 'app.orders', 'SELECT'),
		has_table_privilege($1, 'app.big_orders', 'SELECT'), has_table_privilege($1, 'app.customer', 'SELECT'),
		has_schema_privilege($1, 'app', 'USAGE')`, rep).Scan(&orders, &view, &customer, &usage); err != nil {
		t.Fatal(err)
	}
	if !orders || !view || customer || !usage {
		t.Fatalf("grants to %s in %s: orders %v view %v customer %v schema usage %v", rep, i.name, orders, view, customer, usage)
	}
}

// makeTree creates a data directory with nested files, modes and links.
func makeTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "media", "2026"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "private"), 0o700))
	must(os.WriteFile(filepath.Join(dir, "media", "2026", "photo.bin"), bytes.Repeat([]byte{1, 2, 3, 250}, 2<<20), 0o644)) // 8 MiB: spooled to disk
	must(os.WriteFile(filepath.Join(dir, "private", "key"), []byte("secret\n"), 0o600))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o640))
	must(os.Symlink("media/2026/photo.bin", filepath.Join(dir, "latest")))
	must(os.Symlink("../empty", filepath.Join(dir, "media", "up")))
}

// treeOf describes a directory: paths, types, modes, content hashes, links.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %d %x", len(b), b[:min(len(b), 8)])
			if rel != "." {
				line += " " + fi.ModTime().UTC().String()
			}
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func createArchive(t *testing.T, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Create(context.Background(), &buf, opts); err != nil {
		t.Fatalf("Create: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTripRestoresRowsFilesAndGrants(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	b := newInstanceDB(t, srv, false)
	data := t.TempDir() + "/data"
	makeTree(t, data)
	before := fingerprint(t, a)
	tree := treeOf(t, data)

	opts := Options{Instance: "prod", Release: "r1", Spec: "name = \"demo\"\n", Lock: "lock-version = \"1.0\"\n",
		Database: a.source(), Dirs: []Dir{{Name: "data", Path: data}}, ChunkSize: 64 << 10, Jobs: 3, splitPages: 8}
	var events []Event
	opts.OnEvent = func(e Event) { events = append(events, e) }
	archiveBytes := createArchive(t, opts)

	sum, err := Check(ctx, bytes.NewReader(archiveBytes), CheckOptions{Instance: "prod"})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if sum.Manifest.Release != "r1" || sum.Manifest.Database.ServerVersion == "" || sum.TableRows["app.orders"] != 20000 || sum.Files != 3 {
		t.Fatalf("summary %+v", sum)
	}
	var chunks int
	for _, e := range events {
		if e.Kind == "table" && e.Path == "app.orders" {
			chunks++
		}
	}
	if chunks < 2 {
		t.Errorf("app.orders was not split into block ranges (%d parts)", chunks)
	}

	// Damage the instance, then restore over it (same instance).
	conn := a.connect(t)
	mustExec(t, conn, "DELETE FROM app.orders WHERE id % 2 = 0; UPDATE app.customer SET name = 'x'; SELECT nextval('app.orders_id_seq')")
	os.WriteFile(filepath.Join(data, "private", "key"), []byte("overwritten"), 0o600)
	os.Remove(filepath.Join(data, "latest"))
	os.WriteFile(filepath.Join(data, "new-file"), []byte("not in the backup"), 0o644)
	conn.Close(ctx)

	if _, err := Restore(ctx, bytes.NewReader(archiveBytes), RestoreOptions{Instance: "prod", Database: a.restoreTarget(),
		Dirs: map[string]string{"data": data}}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	after := fingerprint(t, a)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s differs after restore:\n got %s\nwant %s", k, after[k], v)
		}
	}
	if got := treeOf(t, data); got != tree {
		t.Errorf("files differ after restore:\n%s\nwant\n%s", got, tree)
	}
	checkOwnership(t, a, b.role)
	checkReportingGrants(t, a, a.reporting)
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(data), ".data.dk-*")); len(m) != 0 {
		t.Errorf("staging left behind: %v", m)
	}

	// Restore A's backup into instance B: refused without Force.
	bdata := t.TempDir() + "/bdata"
	ropts := RestoreOptions{Instance: "staging", Database: b.restoreTarget(), Dirs: map[string]string{"data": bdata}}
	if _, err := Restore(ctx, bytes.NewReader(archiveBytes), ropts); !errors.Is(err, archive.ErrOtherInstance) {
		t.Fatalf("restore into another instance without force: %v", err)
	}
	ropts.Force = true
	// While rows load and indexes build, autovacuum is off for every table;
	// the swapped-in database has the archive's options (compared below).
	var during string
	ropts.OnEvent = func(e Event) {
		if e.Kind != "data-restored" {
			return
		}
		c, err := pgx.Connect(ctx, srv.URLFor(e.Path))
		if err != nil {
			t.Errorf("connecting to the database being restored: %v", err)
			return
		}
		defer c.Close(ctx)
		during = reloptions(t, c)
	}
	// Load over B's own login, so the archive's SQL runs as B only.
	mustExec(t, srv.Connect(t), "ALTER ROLE "+b.role+" PASSWORD 'b-secret'")
	ropts.Database.OwnerConnString = fmt.Sprintf("postgres://%s:b-secret@/postgres?host=%s&port=%d&sslmode=disable", b.role, srv.Host, srv.Port)
	if _, err := Restore(ctx, bytes.NewReader(archiveBytes), ropts); err != nil {
		t.Fatalf("restore into B: %v", err)
	}
	bfp := fingerprint(t, b)
	for _, line := range strings.Split(during, "\n") {
		table, toast, _ := strings.Cut(line, " toast ")
		if !strings.Contains(table, "autovacuum_enabled=false") || (toast != "-" && !strings.Contains(toast, "autovacuum_enabled=false")) {
			t.Errorf("while loading, autovacuum was not off: %s", line)
		}
	}
	if !strings.Contains(bfp["reloptions"], "app.orders {autovacuum_enabled=false,fillfactor=90} toast {autovacuum_enabled=true}") ||
		!strings.Contains(bfp["reloptions"], "app.customer {autovacuum_vacuum_scale_factor=0.05} toast {autovacuum_enabled=off}") {
		t.Errorf("restored options:\n%s", bfp["reloptions"])
	}
	for k, v := range before {
		if bfp[k] != v {
			t.Errorf("B: %s differs:\n got %s\nwant %s", k, bfp[k], v)
		}
	}
	checkOwnership(t, b, a.role)
	checkReportingGrants(t, b, a.reporting) // the third role exists on this server
	if got := treeOf(t, bdata); got != tree {
		t.Errorf("B's files differ:\n%s\nwant\n%s", got, tree)
	}
}

func TestDeepCheckRestoresIntoScratchAndCountsRows(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	data := createArchive(t, Options{Instance: "prod", Database: a.source()})
	sum, err := Check(ctx, bytes.NewReader(data), CheckOptions{Deep: &Database{ConnString: srv.URL}})
	if err != nil {
		t.Fatalf("deep check: %v", err)
	}
	if sum.TableRows["app.customer"] != 3000 {
		t.Fatalf("%v", sum.TableRows)
	}
	var n int
	if err := srv.Connect(t).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE 'dkverify%'").Scan(&n); err != nil || n != 0 {
		t.Fatalf("scratch databases left: %d %v", n, err)
	}
}

// A restore that fails after the database part was loaded — here the
// stream is cut before the seal, or a late member is corrupt — leaves the
// target database and directories exactly as they were.
func TestFailedRestoreLeavesTargetIntact(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	data := t.TempDir() + "/data"
	makeTree(t, data)
	good := createArchive(t, Options{Instance: "prod", Database: a.source(), Dirs: []Dir{{Name: "data", Path: data}}, ChunkSize: 64 << 10})

	// Change the live instance so "unchanged" is distinguishable from "restored".
	conn := a.connect(t)
	mustExec(t, conn, "DELETE FROM app.orders WHERE id > 100")
	os.WriteFile(filepath.Join(data, "empty"), []byte("changed"), 0o640)
	conn.Close(ctx)
	before := fingerprint(t, a)
	tree := treeOf(t, data)

	// Cut just before the end: everything but the seal verified, the
	// temporary database fully loaded.
	raw := decompress(t, good)
	sealAt := bytes.LastIndex(raw, []byte("deploykit/seal.json"))
	cut := compressRaw(t, raw[:sealAt-(sealAt%512)-512]) // drop the seal's pax and ustar headers onward
	// Flip one byte inside the last data chunk's content.
	corrupt := bytes.Clone(raw)
	i := bytes.LastIndex(corrupt, []byte("note note"))
	corrupt[i] ^= 1
	for name, bad := range map[string][]byte{"truncated": cut, "corrupt": compressRaw(t, corrupt)} {
		_, err := Restore(ctx, bytes.NewReader(bad), RestoreOptions{Instance: "prod", Database: a.restoreTarget(),
			Dirs: map[string]string{"data": data}})
		if err == nil {
			t.Fatalf("%s: restore succeeded", name)
		}
		want := archive.ErrTruncated
		if name == "corrupt" {
			want = archive.ErrHashMismatch
		}
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		after := fingerprint(t, a)
		for k, v := range before {
			if after[k] != v {
				t.Errorf("%s: %s changed by a failed restore", name, k)
			}
		}
		if got := treeOf(t, data); got != tree {
			t.Errorf("%s: files changed by a failed restore", name)
		}
		var n int
		srv.Connect(t).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", a.name+"_dkr_%").Scan(&n)
		if n != 0 {
			t.Errorf("%s: temporary database left", name)
		}
		if m, _ := filepath.Glob(filepath.Join(filepath.Dir(data), ".data.dk-*")); len(m) != 0 {
			t.Errorf("%s: staging left behind: %v", name, m)
		}
	}
}

func TestRestoreFromAPipe(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	b := newInstanceDB(t, srv, false)
	pr, pw := io.Pipe()
	go func() {
		_, err := Create(ctx, pw, Options{Instance: "prod", Database: a.source(), ChunkSize: 32 << 10})
		pw.CloseWithError(err)
	}()
	if _, err := Restore(ctx, pr, RestoreOptions{Instance: "prod", Database: b.restoreTarget()}); err != nil {
		t.Fatal(err)
	}
	want, got := fingerprint(t, a), fingerprint(t, b)
	if want["rows app.orders"] != got["rows app.orders"] || want["objects"] != got["objects"] {
		t.Fatalf("streamed restore differs")
	}
}

func TestRestoreRefusesHostileArchiveBeforeTouchingTargets(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	data := t.TempDir() + "/data"
	makeTree(t, data)
	before, tree := fingerprint(t, a), treeOf(t, data)
	hostile := map[string][]byte{
		"traversal": rawArchive(t, func(w *rawWriter) { w.dir("files/data"); w.file("files/data/../../../etc/x", "x") }),
		"device":    rawArchive(t, func(w *rawWriter) { w.dir("files/data"); w.device("files/data/null") }),
		"symlink":   rawArchive(t, func(w *rawWriter) { w.dir("files/data"); w.symlink("files/data/l", "../../../../etc") }),
		"hardlink":  rawArchive(t, func(w *rawWriter) { w.dir("files/data"); w.hardlink("files/data/h", "/etc/shadow") }),
		"duplicate": rawArchive(t, func(w *rawWriter) { w.dir("files/data"); w.file("files/data/a", "1"); w.file("files/data/a", "2") }),
	}
	for name, data2 := range hostile {
		f := filepath.Join(t.TempDir(), name+".dkb")
		os.WriteFile(f, data2, 0o600)
		_, err := RestoreFile(ctx, f, RestoreOptions{Instance: "prod", Database: a.restoreTarget(), Dirs: map[string]string{"data": data}})
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		var me *archive.MemberError
		if !errors.As(err, &me) {
			t.Errorf("%s: error does not name the member: %v", name, err)
		}
	}
	after := fingerprint(t, a)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	if treeOf(t, data) != tree {
		t.Error("files changed")
	}
}

// A restore killed midway leaves a temporary database and a staging
// directory; the targets are untouched, and the next restore removes both.
func TestRestoreCleansUpAfterACrashedOne(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	b := newInstanceDB(t, srv, false)
	data := t.TempDir() + "/data"
	makeTree(t, data)
	archiveBytes := createArchive(t, Options{Instance: "prod", Database: a.source(), Dirs: []Dir{{Name: "data", Path: data}}})

	target := t.TempDir() + "/bdata"
	admin := srv.Connect(t)
	leftovers := []string{b.name + "_dkr_0badc0de", b.name + "_dkr_0badc0de_old"}
	for _, d := range leftovers {
		mustExec(t, admin, "CREATE DATABASE "+d)
	}
	mustExec(t, admin, "CREATE DATABASE "+b.name+"_dkr_keepme") // not ours: kept
	t.Cleanup(func() { admin.Exec(ctx, "DROP DATABASE IF EXISTS "+b.name+"_dkr_keepme") })
	stale := filepath.Join(filepath.Dir(target), ".bdata.dk-restore-123456")
	os.MkdirAll(filepath.Join(stale, "half"), 0o500)

	// A cancelled restore cleans up after itself too.
	cctx, cancel := context.WithCancel(ctx)
	n := 0
	_, err := Restore(cctx, bytes.NewReader(archiveBytes), RestoreOptions{Instance: "prod", Database: b.restoreTarget(),
		Dirs: map[string]string{"data": target}, OnEvent: func(e Event) {
			if n++; e.Kind == "schema" {
				cancel()
			}
		}})
	if err == nil {
		t.Fatal("cancelled restore succeeded")
	}
	if _, err := Restore(ctx, bytes.NewReader(archiveBytes), RestoreOptions{Instance: "prod", Database: b.restoreTarget(),
		Dirs: map[string]string{"data": target}}); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, _ := admin.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1", b.name+"_%")
	left, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	if strings.Join(left, ",") != b.name+"_dkr_keepme" {
		t.Fatalf("databases left: %v", left)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale staging directory kept: %v", err)
	}
	if treeOf(t, target) != treeOf(t, data) {
		t.Fatal("restored files differ")
	}
}

// A chunk whose rows record lies — in an otherwise valid, sealed archive
// — is caught by a deep check and by a restore (COPY's own count is
// compared with the record), and the target stays as it was. Editing the
// record of a sealed archive is caught by the seal.
func TestRowCountMismatchIsCaughtByDeepCheckAndRestore(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	good := createArchive(t, Options{Instance: "prod", Database: a.source()})

	// Re-write the archive member by member, lying in one rows record.
	r, err := archive.NewReader(bytes.NewReader(good), archive.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := archive.NewWriter(&out, *r.Manifest(), archive.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lied := false
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(m.Name, "db/data/") && !lied {
			m.Extra["rows"] += "1"
			lied = true
		}
		if err := w.AddBytes(m.Name, body, m.Extra); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	bad := out.Bytes()
	if _, err := Check(ctx, bytes.NewReader(bad), CheckOptions{}); err != nil {
		t.Fatalf("shallow check: %v", err)
	}
	if _, err := Check(ctx, bytes.NewReader(bad), CheckOptions{Deep: &Database{ConnString: srv.URL}}); !errors.Is(err, ErrRowCount) {
		t.Fatalf("deep check: %v", err)
	}
	before := fingerprint(t, a)
	if _, err := Restore(ctx, bytes.NewReader(bad), RestoreOptions{Instance: "prod", Database: a.restoreTarget()}); !errors.Is(err, ErrRowCount) {
		t.Fatalf("restore: %v", err)
	}
	if after := fingerprint(t, a); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("target changed")
	}

	// Editing a record in place breaks the seal.
	raw := decompress(t, good)
	k := bytes.Index(raw, []byte("DEPLOYKIT.rows=")) + len("DEPLOYKIT.rows=")
	if raw[k] == '9' {
		raw[k] = '8'
	} else {
		raw[k]++
	}
	if _, err := Check(ctx, bytes.NewReader(compressRaw(t, raw)), CheckOptions{}); !errors.Is(err, archive.ErrSeal) {
		t.Fatalf("edited record: %v", err)
	}
}

// The application keeps writing during the backup: money moves between
// accounts and orders reference customers. The restored database must be
// one consistent moment: the total is unchanged and every order's customer
// exists (the foreign key is re-created in post-data and would fail).
func TestBackupIsConsistentWhileTheAppWrites(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, true)
	b := newInstanceDB(t, srv, false)
	conn := a.connect(t)
	mustExec(t, conn, `CREATE TABLE app.account (id int PRIMARY KEY, balance bigint NOT NULL);
		INSERT INTO app.account SELECT g, 1000 FROM generate_series(1, 20000) g;
		ALTER TABLE app.account OWNER TO `+a.role)
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		w, err := pgx.Connect(ctx, srv.URLFor(a.name))
		if err != nil {
			done <- 0
			return
		}
		defer w.Close(ctx)
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			from, to := 1+(n*7919)%20000, 1+(n*7919+10007)%20000
			_, err := w.Exec(ctx, `BEGIN;
				UPDATE app.account SET balance = balance - 5 WHERE id = `+fmt.Sprint(from)+`;
				UPDATE app.account SET balance = balance + 5 WHERE id = `+fmt.Sprint(to)+`;
				WITH c AS (INSERT INTO app.customer (name) VALUES ('live `+fmt.Sprint(n)+`') RETURNING id)
				INSERT INTO app.orders (customer, amount) SELECT id, 1 FROM c;
				DELETE FROM app.orders WHERE id = (SELECT min(id) FROM app.orders);
				COMMIT`)
			if err != nil {
				t.Errorf("writer: %v", err)
				done <- n
				return
			}
			n++
		}
	}()
	// Workers that start late still see the moment of the snapshot.
	archiveBytes := createArchive(t, Options{Instance: "prod", Database: a.source(), ChunkSize: 16 << 10, Jobs: 3, splitPages: 4,
		beforePart: func(worker, n int) {
			if n == 0 {
				time.Sleep(time.Duration(worker) * 300 * time.Millisecond)
			}
			time.Sleep(30 * time.Millisecond)
		}})
	close(stop)
	n := <-done
	t.Logf("%d concurrent transactions during the backup", n)
	if n == 0 {
		t.Fatal("the writer made no progress")
	}
	if _, err := Restore(ctx, bytes.NewReader(archiveBytes), RestoreOptions{Instance: "prod", Database: b.restoreTarget()}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	var total, accounts, orphans int64
	if err := b.connect(t).QueryRow(ctx, `SELECT (SELECT sum(balance) FROM app.account), (SELECT count(*) FROM app.account),
		(SELECT count(*) FROM app.orders o WHERE NOT EXISTS (SELECT 1 FROM app.customer c WHERE c.id = o.customer))`).Scan(&total, &accounts, &orphans); err != nil {
		t.Fatal(err)
	}
	if total != 20000*1000 || accounts != 20000 || orphans != 0 {
		t.Fatalf("restored an inconsistent moment: total %d, accounts %d, orphan orders %d", total, accounts, orphans)
	}
}
