package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/pgtest"
)

// Tables of built-in types travel in COPY binary format, anything else in
// text; both must come back value for value, edge values included
// (NaN, infinities, -0, NULLs in arrays, multi-dimensional and
// lower-bounded arrays, ranges, every escape a text value can need).
func TestCopyFormatsRoundTripEdgeValues(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, false)
	b := newInstanceDB(t, srv, false)
	a.execAs(t, `
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (x int, y text);
CREATE TABLE builtin (
  i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, num numeric, money money,
  b bool, c char(5), vc varchar(10), t text, n name, ch "char", by bytea, bits bit varying(12),
  d date, ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval,
  u uuid, ip inet, net cidr, mac macaddr, j json, jb jsonb, x xml, tv tsvector, tq tsquery,
  pt point, bx box, ir int4range, tr tstzrange, ia int[], ta text[], m int[][], o oid);
INSERT INTO builtin VALUES
  (-32768, -2147483648, -9223372036854775808, 'NaN', '-0', 'NaN', '-92233720368547758.08',
   true, 'ab', 'x', E'tab\there\nnewline \\ backslash \u00e9\u4e2d', 'name', 'q', E'\\x00ff0a5c',
   B'101', '-infinity', 'infinity', '2026-11-26 12:00:00.123456+05:30', '24:00', '23:59:59.999999-15:59',
   '-178000000 years 3 mons -1 days 00:00:00.000001', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
   '2001:db8::1/64', '10.0.0.0/8', '08:00:2b:01:02:03', '{"a": [1, 2.50, "x"]}', '{"b": null, "a": 1e400}',
   '<a href="x">&amp;</a>', 'a:1 fat:2B cat', 'fat & (rat | !cat)',
   '(1.5,-2)', '((0,0),(1,1))', '[1,10)', '(,"2026-01-01 00:00+00"]', '{1,NULL,3}',
   ARRAY[E'a\tb', NULL, '"quoted"', '', 'NULL'], '[0:1][1:2]={{1,2},{3,4}}', 4294967295),
  (NULL, NULL, NULL, 'Infinity', '-Infinity', '1e-1000', NULL, NULL, NULL, NULL, '', NULL, NULL, '\x',
   NULL, '4713-01-01 BC', '294276-12-31 23:59:59.999999', 'infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   'null', '[]', NULL, '', NULL, NULL, NULL, 'empty', NULL, '{}', '{}', '{}', 0);
CREATE TABLE custom (id int PRIMARY KEY, p posint, pr pair, prs pair[]);
INSERT INTO custom VALUES (1, 7, ROW(1, E'a,b\n'), ARRAY[ROW(2, 'c')::pair, NULL]), (2, NULL, NULL, NULL);
`)
	before := fingerprint(t, a)

	arch := createArchive(t, Options{Instance: "prod", Database: a.source(), ChunkSize: 256})
	formats := map[string]string{}
	r, err := archive.NewReader(bytes.NewReader(arch), archive.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		m, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Name == "db/catalog.json" {
			var cat Catalog
			if err := json.NewDecoder(r).Decode(&cat); err != nil {
				t.Fatal(err)
			}
			for _, tb := range cat.Tables {
				formats[tb.String()] = tb.Format
			}
		}
	}
	if formats["public.builtin"] != "binary" || formats["public.custom"] != "" {
		t.Fatalf("formats %v: want public.builtin binary, public.custom text", formats)
	}

	if _, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget()}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	sameContent(t, before, fingerprint(t, b))
	if !strings.Contains(before["rows public.builtin"], "2 ") {
		t.Fatalf("fingerprint did not see the table: %v", before)
	}
}

func TestRowChunkerBinaryFraming(t *testing.T) {
	var chunks [][]byte
	w := &rowChunker{buf: new(bytes.Buffer), size: 20, binary: true}
	w.flush = func() error {
		chunks = append(chunks, bytes.Clone(w.buf.Bytes()))
		w.buf.Reset()
		w.rows = 0
		return nil
	}
	row := func(s string) []byte { return append([]byte{0, 1, 0, 0, 0, byte(len(s))}, s...) }
	msgs := [][]byte{append(bytes.Clone(copyBinaryHeader), row("a")...), row("bb"), row("ccc"), copyBinaryTrailer}
	for _, m := range msgs {
		if n, err := w.Write(m); err != nil || n != len(m) {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	w.flush()
	want := [][]byte{append(row("a"), row("bb")...), row("ccc")}
	if len(chunks) != 2 || !bytes.Equal(chunks[0], want[0]) || !bytes.Equal(chunks[1], want[1]) {
		t.Fatalf("chunks %q, want %q", chunks, want)
	}
	if !w.trailer {
		t.Fatal("trailer not seen")
	}
	if _, err := w.Write(row("late")); err == nil {
		t.Fatal("data after the trailer accepted")
	}
	bad := &rowChunker{buf: new(bytes.Buffer), size: 10, binary: true}
	if _, err := bad.Write(append([]byte("PGCOPY\n\xff\r\n\x00\x00\x01\x00\x00"), make([]byte, 4)...)); err == nil {
		t.Fatal("a header with the OID flag accepted")
	}
}

// More tables than one batch of autovacuum holds (holdBatch): every table
// comes back with its rows and its own storage options, in their order.
func TestRestoreManyTablesKeepsTheirOptions(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	a := newInstanceDB(t, srv, false)
	b := newInstanceDB(t, srv, false)
	var ddl strings.Builder
	n := holdBatch + 44
	for i := range n {
		fmt.Fprintf(&ddl, "CREATE TABLE t%03d (id int, note text);\nINSERT INTO t%03d SELECT g, 'n' || g FROM generate_series(1, %d) g;\n", i, i, i%7)
		switch i % 3 {
		case 1:
			fmt.Fprintf(&ddl, "ALTER TABLE t%03d SET (autovacuum_enabled = off, fillfactor = 70);\n", i)
		case 2:
			fmt.Fprintf(&ddl, "ALTER TABLE t%03d SET (toast.autovacuum_enabled = false);\n", i)
		}
	}
	a.execAs(t, ddl.String())
	before := fingerprint(t, a)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source()})
	if _, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(), Force: true}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if strings.Count(before["reloptions"], "\n") != n-1 || !strings.Contains(before["reloptions"], "public.t001 {autovacuum_enabled=off,fillfactor=70}") {
		t.Fatalf("fingerprint did not see the tables' options:\n%s", before["reloptions"])
	}
	sameContent(t, before, fingerprint(t, b))
}

// sameContent compares two fingerprints' rows, sequences and storage
// options, leaving out the object list (the round-trip tests in
// backup_test.go compare that too).
func sameContent(t *testing.T, source, restored map[string]string) {
	t.Helper()
	for k, v := range source {
		if k != "objects" && restored[k] != v {
			t.Errorf("%s: restored %q, source %q", k, restored[k], v)
		}
	}
}
