package backup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgtest"
)

// BenchmarkRestore restores a small application database (a pgbench-like
// accounts table, a text table with an index, an events table with a
// foreign key) into a database owned by its role, from an archive with
// lanes and from one written as before lanes. Beside the time it reports
// what load on the machine does not change: the WAL a restore writes and,
// on the local test cluster, the server's CPU time per restore.
//
//	go test -run '^$' -bench Restore -benchtime 5x ./backup/
func BenchmarkRestore(b *testing.B) {
	srv := pgtest.Get(b)
	ctx := context.Background()
	admin := srv.Connect(b)
	role, src, dst := pgtest.RandomName("rb"), pgtest.RandomName("src"), pgtest.RandomName("dst")
	for _, sql := range []string{"CREATE ROLE " + role + " LOGIN", "CREATE DATABASE " + src + " OWNER " + role,
		"CREATE DATABASE " + dst + " OWNER " + role} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	b.Cleanup(func() {
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+src+" WITH (FORCE)")
		admin.Exec(ctx, "DROP DATABASE IF EXISTS "+dst+" WITH (FORCE)")
		admin.Exec(ctx, "DROP ROLE IF EXISTS "+role)
	})
	conn, err := pgx.Connect(ctx, srv.URLFor(src))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET ROLE "+role+`;
CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
INSERT INTO accounts SELECT g, g / 10000, 0, '' FROM generate_series(1, 300000) g;
CREATE TABLE docs (id bigint PRIMARY KEY, body text, tags text[], created timestamptz);
INSERT INTO docs SELECT g, repeat('lorem ipsum dolor ' || g || ' ', 8), ARRAY['t' || g % 17], timestamptz '2020-01-01' + g * interval '1 minute'
  FROM generate_series(1, 60000) g;
CREATE INDEX docs_created ON docs (created);
CREATE TABLE events (id bigserial PRIMARY KEY, doc bigint REFERENCES docs, payload jsonb);
INSERT INTO events (doc, payload) SELECT 1 + g % 60000, jsonb_build_object('n', g) FROM generate_series(1, 150000) g;`); err != nil {
		b.Fatal(err)
	}
	conn.Close(ctx)
	const rows = 300000 + 60000 + 150000

	for _, mode := range []struct {
		name    string
		noLanes bool
	}{{"lanes", false}, {"before-lanes", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var arch bytes.Buffer
			if _, err := Create(ctx, &arch, Options{Instance: "bench", Database: &Database{ConnString: srv.URL, Name: src}, noLanes: mode.noLanes}); err != nil {
				b.Fatal(err)
			}
			var wal, cpu int64
			start := time.Now()
			for b.Loop() {
				lsn, cpu0 := walLSN(b, admin), serverCPU(srv)
				if _, err := Restore(ctx, bytes.NewReader(arch.Bytes()), RestoreOptions{Instance: "bench", SkipDirs: true,
					Database: &Database{ConnString: srv.URL, Name: dst, Owner: role}}); err != nil {
					b.Fatal(err)
				}
				var n int64
				if err := admin.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::int8", lsn).Scan(&n); err != nil {
					b.Fatal(err)
				}
				wal += n
				cpu += serverCPU(srv) - cpu0
			}
			b.ReportMetric(float64(rows)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
			b.ReportMetric(float64(wal)/float64(b.N), "WAL-bytes/op")
			if srv.Local() {
				b.ReportMetric(float64(cpu)/float64(b.N), "server-CPU-ms/op")
			}
		})
	}
}

func walLSN(b *testing.B, conn *pgx.Conn) string {
	var lsn string
	if err := conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		b.Fatal(err)
	}
	return lsn
}

// serverCPU is the CPU time, in milliseconds, of the local test cluster's
// processes: the postmaster's own and its ended children's, plus the
// running children's. 0 for an external server.
func serverCPU(srv *pgtest.Server) int64 {
	if !srv.Local() {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(srv.Cluster.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	ticks := func(pid string, fields ...int) int64 {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return 0
		}
		// Fields after the command (which may hold spaces), from field 3.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		var n int64
		for _, i := range fields {
			v, _ := strconv.ParseInt(f[i-3], 10, 64)
			n += v
		}
		return n
	}
	total := ticks(pm, 14, 15, 16, 17)
	kids, _ := os.ReadFile("/proc/" + pm + "/task/" + pm + "/children")
	for _, k := range strings.Fields(string(kids)) {
		total += ticks(k, 14, 15)
	}
	return total * 10 // USER_HZ is 100 on Linux
}
