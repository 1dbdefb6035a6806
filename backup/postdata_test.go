package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgtest"
)

func TestPlanPostDataDealsTablesLargestFirst(t *testing.T) {
	cat := &Catalog{Tables: []Table{
		{Schema: "public", Name: "small", Constraints: []string{"small_pkey"}, ForeignKeys: []ForeignKey{{Name: "small_mid_fkey", References: 2}}},
		{Schema: "public", Name: "big", Indexes: []string{"big_pkey", "big_at"}, Constraints: []string{"big_pkey"}},
		{Schema: "app", Name: "mid", Indexes: []string{"mid_pkey", "mid_note"}, Constraints: []string{"mid_pkey"},
			ForeignKeys: []ForeignKey{{Name: "mid_big_fkey", References: 1}}},
		{Schema: "public", Name: "odd name", Constraints: []string{"odd_pkey"}},
	}}
	bytes := []int64{10, 900, 500, 5}
	list := []string{
		";",
		"; Selected TOC Entries:",
		"214; 1259 16388 TABLE public big owner",
		"3220; 2606 16423 CONSTRAINT public big big_pkey owner",
		"3221; 2606 16424 CONSTRAINT public small small_pkey owner",
		"3222; 2606 16425 CONSTRAINT app mid mid_pkey owner",
		"3223; 2606 16426 CONSTRAINT public odd name odd_pkey owner",
		"3218; 1259 16421 INDEX public big_at owner",
		"3219; 1259 16422 INDEX app mid_note owner",
		"3230; 1259 16430 INDEX public unknown_idx owner",
		"3231; 0 16431 INDEX ATTACH public part_1_at owner",
		"3229; 2606 16424 FK CONSTRAINT app mid mid_big_fkey owner",
		"3232; 2606 16432 FK CONSTRAINT public small small_mid_fkey owner",
		"3240; 2620 16440 TRIGGER public big big_touch owner",
	}
	bins, rest, ok := planPostData(list, cat, bytes, 2)
	if !ok {
		t.Fatal("not planned")
	}
	want := [][]string{
		{"3220; 2606 16423 CONSTRAINT public big big_pkey owner", "3218; 1259 16421 INDEX public big_at owner"},
		{"3222; 2606 16425 CONSTRAINT app mid mid_pkey owner", "3219; 1259 16422 INDEX app mid_note owner",
			"3221; 2606 16424 CONSTRAINT public small small_pkey owner", "3223; 2606 16426 CONSTRAINT public odd name odd_pkey owner",
			"3232; 2606 16432 FK CONSTRAINT public small small_mid_fkey owner"},
	}
	if !slices.EqualFunc(bins, want, slices.Equal) {
		t.Errorf("bins:\n%s\nwant:\n%s", strings.Join(flat(bins), "\n"), strings.Join(flat(want), "\n"))
	}
	for _, l := range []string{"3230; 1259 16430 INDEX public unknown_idx owner", "3231; 0 16431 INDEX ATTACH public part_1_at owner",
		"3229; 2606 16424 FK CONSTRAINT app mid mid_big_fkey owner", "3240; 2620 16440 TRIGGER public big big_touch owner", "214; 1259 16388 TABLE public big owner"} {
		if !slices.Contains(rest, l) {
			t.Errorf("%q is not in the rest: %q", l, rest)
		}
	}
	// An archive from before the catalog named indexes: all is the rest.
	if _, rest, ok := planPostData(list, &Catalog{Tables: []Table{{Schema: "public", Name: "big"}}}, bytes[:1], 2); ok || len(rest) != len(list) {
		t.Errorf("planned without index names: %v, %d of %d lines in the rest", ok, len(rest), len(list))
	}
}

func TestPostDataBatchesKeepOrderAndBound(t *testing.T) {
	var lines []string
	for i := range 130 {
		lines = append(lines, fmt.Sprint(i))
	}
	b := batches(lines, 64)
	if len(b) != 3 || len(b[0]) != 64 || len(b[1]) != 64 || len(b[2]) != 2 || !slices.Equal(slices.Concat(b...), lines) {
		t.Fatalf("batches of 130 lines by 64: %d batches, %v", len(b), b)
	}
	if b := batches(lines[:64], 64); len(b) != 1 {
		t.Fatalf("64 lines: %d batches", len(b))
	}
	if b := batches(nil, 64); len(b) != 0 {
		t.Fatalf("no lines: %d batches", len(b))
	}
}

func flat(bins [][]string) []string {
	var out []string
	for i, b := range bins {
		for _, l := range b {
			out = append(out, string(rune('0'+i))+": "+l)
		}
	}
	return out
}

// A restore builds every index and constraint the source has, those it
// schedules per table (postdata.go) and the rest alike: primary keys,
// unique and exclusion constraints, plain and expression indexes, names
// with spaces and quotes, a partitioned table's indexes, foreign keys, a
// CHECK added NOT VALID, triggers.
func TestRestoreBuildsEveryPostDataItem(t *testing.T) {
	srv := pgtest.Get(t)
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `
CREATE TABLE big (id int PRIMARY KEY, at timestamptz, body text);
INSERT INTO big SELECT g, timestamptz '2020-01-01' + g * interval '1 minute', repeat('x', g % 50) FROM generate_series(1, 60000) g;
CREATE INDEX big_at ON big (at);
CREATE UNIQUE INDEX big_lower_body ON big (lower(body), id);
CREATE TABLE "odd ""table""" ("the id" int CONSTRAINT "odd pkey" PRIMARY KEY, note text);
INSERT INTO "odd ""table""" SELECT g, 'n' || g FROM generate_series(1, 100) g;
CREATE INDEX "odd ""idx""" ON "odd ""table""" (note);
CREATE TABLE booking (id int PRIMARY KEY, room int, during tsrange, big_id int REFERENCES big(id),
  EXCLUDE USING gist (during WITH &&), UNIQUE (room, id));
INSERT INTO booking SELECT g, g % 10, tsrange(timestamp '2020-01-01' + g * interval '1 hour', timestamp '2020-01-01' + (g + 1) * interval '1 hour'), g FROM generate_series(1, 500) g;
ALTER TABLE booking ADD CONSTRAINT room_positive CHECK (room >= 0) NOT VALID;
CREATE TABLE measure (id int, at date, v int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE measure_2020 PARTITION OF measure FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE measure_2021 PARTITION OF measure FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE INDEX measure_v ON measure (v);
INSERT INTO measure SELECT g, date '2020-01-01' + g % 700, g FROM generate_series(1, 3000) g;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER booking_touch BEFORE INSERT ON booking FOR EACH ROW EXECUTE FUNCTION touch();`)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source(), Jobs: 2, ChunkSize: 256 << 10})
	b := newInstanceDB(t, srv, false)
	logs := restoreLogged(t, arch, b)
	bins := -1
	for _, line := range bytes.Split(logs, []byte("\n")) {
		var l struct {
			Msg  string
			Bins int
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == "backup: indexes built" {
			bins = l.Bins
		}
	}
	if bins != 2 {
		t.Errorf("the indexes were built in %d bins, want 2 (per-table scheduling not used)", bins)
	}
	schema := func(i instanceDB) []string {
		rows, err := i.connect(t).Query(context.Background(), `
SELECT 'index ' || schemaname || '.' || tablename || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ': ' || pg_get_constraintdef(oid) || ' valid=' || convalidated
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger WHERE NOT tgisinternal
ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	want, got := schema(a), schema(b)
	if !slices.Equal(got, want) {
		t.Fatalf("restored schema differs:\n got %q\nwant %q", got, want)
	}
	if len(want) < 15 {
		t.Fatalf("only %d indexes, constraints and triggers in the source: %q", len(want), want)
	}
}

// With KeepReplaced the replaced database stays, renamed away, until
// DropReplaced: the caller drops it once its services run again.
func TestKeepReplacedUntilDropReplaced(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);`)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source()})
	b := newInstanceDB(t, srv, false)
	b.execAs(t, `CREATE TABLE old (id int)`)
	left := func() []string { return restoreDatabases(t, srv, b.name) }
	if _, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(), SkipDirs: true, KeepReplaced: true}); err != nil {
		t.Fatal(err)
	}
	kept := left()
	if len(kept) != 1 || !strings.HasSuffix(kept[0], "_old") {
		t.Fatalf("after a restore with KeepReplaced: %q, want the replaced database", kept)
	}
	var n int
	if err := b.connect(t).QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("restored database: %d rows, %v", n, err)
	}
	// A database of another name that merely starts alike stays.
	other := b.name + "_dkr_notours"
	mustExec(t, srv.Connect(t), "CREATE DATABASE "+other)
	t.Cleanup(func() { srv.Connect(t).Exec(context.Background(), "DROP DATABASE IF EXISTS "+other) })
	if err := DropReplaced(ctx, b.restoreTarget(), nil); err != nil {
		t.Fatal(err)
	}
	if got := left(); !slices.Equal(got, []string{other}) {
		t.Fatalf("after DropReplaced: %q, want only %s", got, other)
	}
}

// restoreDatabases lists the databases named like a restore's into
// name: temporary, replaced, and any that merely start alike.
func restoreDatabases(t *testing.T, srv *pgtest.Server, name string) []string {
	t.Helper()
	rows, err := srv.Connect(t).Query(context.Background(), "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", name+"_dkr_")
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// A restore of many tables builds each bin's items in batches of
// postDataBatch, one transaction each, and builds them all.
func TestRestoreOfManyTablesBuildsEveryIndex(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `DO $$ BEGIN FOR i IN 1..150 LOOP
  EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v int UNIQUE)', i);
  EXECUTE format('INSERT INTO t%s VALUES (1, %s)', i, i);
END LOOP; END $$`)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source(), Jobs: 2})
	b := newInstanceDB(t, srv, false)
	if _, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(), SkipDirs: true, Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	var indexes, constraints int
	if err := b.connect(t).QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'),
		(SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace)`).Scan(&indexes, &constraints); err != nil {
		t.Fatal(err)
	}
	if indexes != 300 || constraints != 300 {
		t.Fatalf("restored %d indexes and %d constraints, want 300 and 300", indexes, constraints)
	}
}
