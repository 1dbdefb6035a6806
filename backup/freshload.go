package backup

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Lane mode: each table is loaded through one connection, in the
// transaction that emptied it.
//
// When the archive lays its chunks out in lanes (lanes.go), the restore
// gives each connection the lanes whose number modulo the connections is
// its own, so every chunk of a table reaches the same connection. That
// connection holds one transaction: before a table's first chunk it runs
// TRUNCATE ONLY on it (pre-data created it empty; TRUNCATE gives it a new
// file, which is what a table created in the same transaction has too),
// and loads its chunks with COPY … FREEZE. Then:
//   - with wal_level = minimal, PostgreSQL writes no WAL for the rows and
//     syncs each table's file once, at commit (PostgreSQL's "wal_level =
//     minimal ... COPY into a table created or truncated in the same
//     transaction");
//   - the rows are stored frozen and their pages all-visible, so the index
//     builds do not set hint bits on every tuple and write every page
//     again, and the first VACUUM has nothing to freeze.
//
// It is all an owner may do: TRUNCATE on its own table, no superuser
// settings. A transaction holds a lock per table it truncated until it
// commits, so after freshBatch tables the connection commits and goes on
// in a new transaction; a table whose chunks continue after such a commit
// is loaded with a plain COPY, which is only slower.
//
// At other wal_levels (an external server with replicas) the rows are
// WAL-logged, but still frozen; on scripts/bench/backup.sh's database at
// wal_level = replica this measured no slower than loading any chunk on
// any connection, and used less server CPU.

// laneReadAhead is how many chunks each connection's queue holds: enough
// to keep a connection busy while the stream is on another lane.
const laneReadAhead = 3

// freshBatch bounds the tables one loading transaction truncates (its
// locks last until commit; max_locks_per_transaction sizes the lock table).
const freshBatch = 64

func (t Table) copyFreezeSQL() string {
	opt := " WITH (FREEZE)"
	if t.Format == "binary" {
		opt = " WITH (FORMAT binary, FREEZE)"
	}
	s := t.copySQL("FROM STDIN")
	return s[:len(s)-len(t.copyOptions())] + opt
}

// laneSession is the loading sessions' setup. backend_flush_after: the
// COPY's ring writes a table's pages to the kernel as it goes, but with
// no WAL to force them out the kernel keeps them dirty (up to its
// dirty_background_ratio, gigabytes on a large host) and the commit's
// fsync then waits for all of them at once; asking for write-back every
// 2 MB (the setting's largest value) lets the disk work while the CPUs
// load. On scripts/bench/backup.sh's database the two lanes' commits went
// from 1.4–2.1 s to 0.15–0.4 s.
const laneSession = "SET synchronous_commit TO off; SET backend_flush_after TO '2MB'"

// laneWorker loads the chunks of its lanes (see above), each run of one
// table's chunks through one COPY (copystream.go).
func (l *dbLoader) laneWorker(ctx context.Context, work chan loadJob) error {
	conn, err := l.ownerConn(ctx, laneSession)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	seen := map[int]bool{}  // tables this connection has loaded into
	fresh := map[int]bool{} // tables truncated in the open transaction
	inTx := false
	var cur *copyStream // the open COPY, if any
	defer func() {
		if cur != nil {
			cur.abort(errors.New("the restore stopped"))
		}
	}()
	// endCopy finishes the open COPY: the connection is then free for
	// other statements.
	endCopy := func() error {
		if cur == nil {
			return nil
		}
		s := cur
		cur = nil
		rows, err := s.close()
		if err != nil {
			return l.fail(fmt.Errorf("table %s: %w", l.catalog.Tables[s.table], err))
		}
		l.mu.Lock()
		l.loaded[s.table] += rows
		l.mu.Unlock()
		l.log.Debug("backup: table loaded", "table", l.catalog.Tables[s.table].String(), "chunks", s.chunks, "rows", rows)
		return nil
	}
	exec := func(sql string) error {
		if err := endCopy(); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			return l.fail(fmt.Errorf("%s: %w", sql, err))
		}
		return nil
	}
	for {
		var j loadJob
		select {
		case <-ctx.Done():
			return ctx.Err()
		case job, ok := <-work:
			if !ok {
				if !inTx {
					return endCopy()
				}
				start := time.Now()
				err := exec("COMMIT")
				l.log.Debug("backup: lane committed", "tables", len(fresh), "commit", time.Since(start))
				return err
			}
			j = job
		}
		if cur != nil && cur.table != j.table {
			if err := endCopy(); err != nil {
				return err
			}
		}
		if !seen[j.table] && len(fresh) >= freshBatch {
			if err := exec("COMMIT"); err != nil {
				return err
			}
			inTx, fresh = false, map[int]bool{}
		}
		if !inTx {
			if err := exec("BEGIN"); err != nil {
				return err
			}
			inTx = true
		}
		t := l.catalog.Tables[j.table]
		if !seen[j.table] {
			seen[j.table] = true
			if err := exec("TRUNCATE ONLY " + ident(t.Schema, t.Name)); err != nil {
				return err
			}
			fresh[j.table] = true
		}
		if cur == nil {
			sql := t.copySQL("FROM STDIN")
			if fresh[j.table] {
				sql = t.copyFreezeSQL()
			}
			if cur, err = openCopy(ctx, conn, j.table, sql, t.Format == "binary"); err != nil {
				return l.fail(fmt.Errorf("table %s: %w", t, err))
			}
		}
		err := cur.write(j.buf.Bytes(), j.rows)
		l.putBuf(j.buf)
		if err != nil {
			cur = nil // write ended it
			return l.fail(fmt.Errorf("table %s: %w", t, err))
		}
	}
}
