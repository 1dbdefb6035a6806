package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/internal/pgtest"
)

func TestAssignLanesBalancesTheLargestFirst(t *testing.T) {
	lane, size := assignLanes([]int64{900, 450, 300, 40, 10, 0}, 2)
	if want := []int{0, 1, 1, 1, 1, 1}; !slices.Equal(lane, want) {
		t.Errorf("lanes %v, want %v", lane, want)
	}
	if want := []int64{900, 800}; !slices.Equal(size, want) {
		t.Errorf("lane sizes %v, want %v", size, want)
	}
}

func TestPartQueueTakesItsOwnLaneThenHelpsTheFullest(t *testing.T) {
	parts := []part{{table: 0, from: 0, estimation: 50}, {table: 0, from: 50, estimation: 50}, {table: 0, from: 100, estimation: 50},
		{table: 1, from: -1, estimation: 40}, {table: 2, from: -1, estimation: 10}}
	q := newPartQueue(parts, 2, []int{0, 1, 1})
	take := func(w int) string {
		p, ok := q.next(w)
		if !ok {
			return "-"
		}
		return fmt.Sprintf("%d@%d", p.table, p.from)
	}
	var got []string
	for _, w := range []int{1, 1, 1, 0, 1, 0} {
		got = append(got, take(w))
	}
	// Worker 1 takes its lane (tables 1 and 2), then the last part of
	// lane 0; worker 0 keeps its lane in order.
	if want := []string{"1@-1", "2@-1", "0@100", "0@0", "0@50", "-"}; !slices.Equal(got, want) {
		t.Errorf("parts taken %v, want %v", got, want)
	}
}

// The merger interleaves the lanes in proportion to their sizes whatever
// pace the producers go at, and holds at most perLane chunks per lane.
func TestLaneMergerInterleavesInProportion(t *testing.T) {
	size := []int64{3000, 1000}
	counts := []int{30, 10} // chunks of 100 bytes
	m := newLaneMerger(size, []int{1, 1}, 1)
	var wg sync.WaitGroup
	for l := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range counts[l] {
				if l == 0 {
					time.Sleep(time.Millisecond) // the big lane is also the slow one
				}
				c := chunk{name: fmt.Sprintf("%d/%d", l, i), data: bytes.NewBuffer(make([]byte, 100))}
				if err := m.put(l, c); err != nil {
					t.Error(err)
					return
				}
			}
			m.partDone(l)
		}()
	}
	var order []int
	done := []int{0, 0}
	for {
		c, ok, err := m.next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		var l int
		fmt.Sscanf(c.name, "%d/", &l)
		order = append(order, l)
		done[l]++
		// No lane gets more than one chunk ahead of its share.
		if f0, f1 := float64(done[0])/30, float64(done[1])/10; f0-f1 > 1.0/30+1e-9 || f1-f0 > 1.0/10+1e-9 {
			t.Fatalf("after %v: lane fractions %.2f and %.2f", order, f0, f1)
		}
	}
	wg.Wait()
	if done[0] != 30 || done[1] != 10 {
		t.Fatalf("chunks written %v", done)
	}
}

func TestLaneMergerStopWakesProducers(t *testing.T) {
	m := newLaneMerger([]int64{1, 1}, []int{1, 1}, 1)
	if err := m.put(0, chunk{data: new(bytes.Buffer)}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() { errc <- m.put(0, chunk{data: new(bytes.Buffer)}) }() // lane 0 is full: waits
	ctx, cancel := context.WithCancel(context.Background())
	defer m.watch(ctx)()
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("put succeeded after the merger stopped")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting producer was not woken")
	}
	if _, _, err := m.next(); err == nil {
		t.Fatal("next succeeded after the merger stopped")
	}
}

// walSince is the WAL the server wrote since lsn.
func walSince(t *testing.T, conn *pgx.Conn, lsn string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::int8", lsn).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A restore of an archive with lanes loads each table in the transaction
// that emptied it: at wal_level = minimal (the test cluster runs with
// pgcluster's tuning) its rows cost no WAL, and they arrive frozen, every
// page all-frozen in the visibility map. An archive from before lanes still
// restores, with the rows WAL-logged and not frozen.
func TestRestoreLoadsTablesFrozenAndWithoutWAL(t *testing.T) {
	srv := pgtest.Get(t)
	ctx := context.Background()
	admin := srv.Connect(t)
	var level string
	if err := admin.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil || level != "minimal" {
		t.Fatalf("the test cluster runs at wal_level %q (%v); pgcluster's tuning gives minimal", level, err)
	}
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `CREATE TABLE big (id int PRIMARY KEY, body text);
INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 200000) g;
CREATE TABLE small (id int, note text);
INSERT INTO small SELECT g, 'n' || g FROM generate_series(1, 5000) g;`)
	var tableBytes int64
	if err := a.connect(t).QueryRow(ctx, "SELECT pg_table_size('big')").Scan(&tableBytes); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		noLanes bool
		frozen  bool
		walOK   func(wal int64) bool
	}{
		{"lanes", false, true, func(wal int64) bool { return wal < tableBytes/10 }},
		{"before lanes", true, false, func(wal int64) bool { return wal > tableBytes/2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newInstanceDB(t, srv, false)
			arch := createArchive(t, Options{Instance: "prod", Database: a.source(), Jobs: 2, ChunkSize: 1 << 20, noLanes: tc.noLanes})
			// From the end of pre-data: CREATE DATABASE alone logs its
			// template's pages.
			var lsn string
			onEvent := func(e Event) {
				if e.Kind == "schema" {
					if err := admin.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
						t.Error(err)
					}
				}
			}
			if _, err := Restore(ctx, bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(), SkipDirs: true,
				OnEvent: onEvent}); err != nil {
				t.Fatal(err)
			}
			wal := walSince(t, admin, lsn)
			t.Logf("WAL written from pre-data to the end: %d bytes; the table: %d bytes", wal, tableBytes)
			if !tc.walOK(wal) {
				t.Errorf("the restore wrote %d bytes of WAL for a table of %d bytes", wal, tableBytes)
			}
			conn := b.connect(t)
			mustExec(t, conn, "CREATE EXTENSION IF NOT EXISTS pg_visibility")
			for _, table := range []string{"big", "small"} {
				var pages, frozen, rows int64
				if err := conn.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int8,
					(SELECT all_frozen FROM pg_visibility_map_summary($1::regclass)), (SELECT count(*) FROM `+table+`)`,
					table).Scan(&pages, &frozen, &rows); err != nil {
					t.Fatal(err)
				}
				if want := map[string]int64{"big": 200000, "small": 5000}[table]; rows != want {
					t.Errorf("%s: %d rows, want %d", table, rows, want)
				}
				if got := pages > 0 && frozen == pages; got != tc.frozen {
					t.Errorf("%s: %d of %d pages all-frozen; frozen: %v, want %v", table, frozen, pages, got, tc.frozen)
				}
			}
		})
	}
}

func TestCheckRefusesTablesOutsideTheLanes(t *testing.T) {
	man := archive.Manifest{Format: archive.FormatVersion, Instance: "prod", Database: &archive.DatabaseInfo{Name: "d"}}
	for name, cat := range map[string]string{
		"negative lane":      `{"lanes": 2, "tables": [{"schema": "public", "name": "t", "columns": ["a"], "lane": -1}]}`,
		"lane beyond lanes":  `{"lanes": 2, "tables": [{"schema": "public", "name": "t", "columns": ["a"], "lane": 2}]}`,
		"lane without lanes": `{"tables": [{"schema": "public", "name": "t", "columns": ["a"], "lane": 1}]}`,
		"negative lanes":     `{"lanes": -2, "tables": [{"schema": "public", "name": "t", "columns": ["a"]}]}`,
	} {
		data := rawArchiveOf(t, man, func(w *rawWriter) { w.file("db/catalog.json", cat) })
		if _, err := Check(context.Background(), bytes.NewReader(data), CheckOptions{}); !errors.Is(err, ErrLayout) {
			t.Errorf("%s: %v, want ErrLayout", name, err)
		}
	}
}

// A restore loads each run of a table's chunks through one COPY: one COPY
// per 8 MB chunk would give every chunk a new bulk-insert ring of shared
// buffers, so the table's pages would all go into buffers the backend
// never touched before and stay dirty until the commit (copystream.go).
// The loader says, at debug level, how many chunks each COPY took.
func TestRestoreLoadsATablesChunksInOneCOPY(t *testing.T) {
	srv := pgtest.Get(t)
	a := newInstanceDB(t, srv, false)
	a.execAs(t, `CREATE TABLE big (id int PRIMARY KEY, body text);
INSERT INTO big SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 100000) g;
CREATE TABLE small (id int, note text);
INSERT INTO small SELECT g, 'n' || g FROM generate_series(1, 5000) g;`)
	arch := createArchive(t, Options{Instance: "prod", Database: a.source(), Jobs: 2, ChunkSize: 1 << 20})
	logs := restoreLogged(t, arch, newInstanceDB(t, srv, false))
	type loaded struct {
		Msg, Table   string
		Chunks, Rows int64
	}
	var copies []loaded
	for _, line := range bytes.Split(logs, []byte("\n")) {
		var l loaded
		if json.Unmarshal(line, &l) == nil && l.Msg == "backup: table loaded" {
			copies = append(copies, l)
		}
	}
	var big []loaded
	for _, c := range copies {
		if c.Table == "public.big" {
			big = append(big, c)
		}
	}
	if len(big) != 1 || big[0].Rows != 100000 || big[0].Chunks < 4 {
		t.Fatalf("public.big was loaded by %d COPYs, want one of 100000 rows in 4 or more chunks: %+v", len(big), copies)
	}
	t.Logf("COPYs: %+v", copies)
}

// restoreLogged restores arch into b with 2 jobs and returns the
// restore's log, debug records included, as JSON lines.
func restoreLogged(t *testing.T, arch []byte, b instanceDB) []byte {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Restore(context.Background(), bytes.NewReader(arch), RestoreOptions{Instance: "prod", Database: b.restoreTarget(),
		SkipDirs: true, Jobs: 2, Logger: log}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return bytes.Clone(logs.Bytes())
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
