package backup

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A copyStream is one COPY … FROM STDIN kept open across consecutive
// chunks of a table on one connection (lane mode, freshload.go).
//
// Why not one COPY per chunk: each COPY gets a new bulk-insert ring of
// shared buffers (PostgreSQL's BAS_BULKWRITE, 16 MB), so a table loaded
// in 8 MB chunks never reuses a buffer. Every page then goes into a
// buffer this backend has not touched before (a minor page fault per 4 kB
// of shared memory, and the page zeroed in cold memory), stays dirty in
// shared_buffers, and the commit writes the whole table out at once. On
// scripts/bench/backup.sh's 1.7 GB database that cost the server about
// 318,000 more page faults than pg_restore and a third more CPU. One COPY
// per run of a table's chunks reuses its ring, as pg_restore's one COPY
// per table does, and writes the pages as it goes.
type copyStream struct {
	table  int
	sql    string
	binary bool
	pw     *io.PipeWriter
	done   chan copyResult
	rows   int64 // what the archive says the chunks sent so far hold
	chunks int
	res    *copyResult // once the COPY has ended
}

type copyResult struct {
	tag pgconn.CommandTag
	err error
}

// openCopy starts sql (a COPY … FROM STDIN) on conn, fed by the stream's
// writes until close.
func openCopy(ctx context.Context, conn *pgx.Conn, table int, sql string, binary bool) (*copyStream, error) {
	pr, pw := io.Pipe()
	s := &copyStream{table: table, sql: sql, binary: binary, pw: pw, done: make(chan copyResult, 1)}
	go func() {
		tag, err := conn.PgConn().CopyFrom(ctx, pr, sql)
		// A COPY the server ended early (a bad row) stops reading: the
		// writer must not block on the pipe for good.
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.CloseWithError(io.ErrClosedPipe)
		}
		s.done <- copyResult{tag, err}
	}()
	if binary {
		if _, err := pw.Write(copyBinaryHeader); err != nil {
			return nil, s.wait(err)
		}
	}
	return s, nil
}

// write sends one chunk of rows.
func (s *copyStream) write(data []byte, rows int64) error {
	if _, err := s.pw.Write(data); err != nil {
		return s.wait(err)
	}
	s.rows += rows
	s.chunks++
	return nil
}

// close ends the COPY and checks that the server loaded as many rows as
// the archive says its chunks hold.
func (s *copyStream) close() (int64, error) {
	if s.binary {
		if _, err := s.pw.Write(copyBinaryTrailer); err != nil {
			return 0, s.wait(err)
		}
	}
	s.pw.Close()
	r := s.result()
	if r.err != nil {
		return 0, r.err
	}
	if got := r.tag.RowsAffected(); got != s.rows {
		return 0, fmt.Errorf("%w: %d chunks loaded %d rows, the archive says %d", ErrRowCount, s.chunks, got, s.rows)
	}
	return s.rows, nil
}

// abort cancels the COPY unless it has ended (the server discards what it
// loaded) and waits until the connection is free again.
func (s *copyStream) abort(cause error) {
	s.pw.CloseWithError(cause)
	s.result()
}

// wait is the error to report after a write to the pipe failed: the
// COPY's own (the server's reason), else the write's.
func (s *copyStream) wait(werr error) error {
	s.pw.CloseWithError(werr)
	if r := s.result(); r.err != nil {
		return r.err
	}
	return werr
}

func (s *copyStream) result() copyResult {
	if s.res == nil {
		r := <-s.done
		s.res = &r
	}
	return *s.res
}
