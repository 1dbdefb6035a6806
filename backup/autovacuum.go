package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// A restore keeps autovacuum off the tables it is loading.
//
// Autovacuum notices a table as soon as COPY has put enough rows into it
// (autovacuum_vacuum_insert_threshold) and starts a VACUUM ANALYZE of it in
// the temporary database, which nobody can see yet. Its lock then stands in
// the way of every post-data index build and constraint on that table: the
// waiter has the vacuum cancelled only after deadlock_timeout (1 s by
// default), and the vacuum's work until then is lost. On the benchmark
// database (scripts/bench/backup.sh) this happened in nearly every restore,
// pg_restore's included.
//
// So after pre-data each loaded table gets autovacuum_enabled = false (and
// toast.autovacuum_enabled = false when it has a TOAST table), and before
// the swap each gets back exactly what the archive's schema gave it: the
// option unset, or its value. A restore that fails in between drops the
// temporary database, options and all; the swapped-in database is as
// dumped, and autovacuum takes it from there.

// heldTable is one table's storage options as pre-data left them, each
// "key=value" as in pg_class.reloptions.
type heldTable struct {
	name        string // quoted, schema-qualified
	heap, toast []string
	hasToast    bool
}

// holdBatch bounds the tables altered in one transaction: each ALTER
// TABLE holds a lock until commit, and the lock table is sized by
// max_locks_per_transaction.
const holdBatch = 256

// holdAutovacuum turns autovacuum off for tables (those of them that are
// ordinary tables owned by the session's role) and returns what to put
// back.
func holdAutovacuum(ctx context.Context, conn *pgx.Conn, tables []Table) ([]heldTable, error) {
	var held []heldTable
	for from := 0; from < len(tables); from += holdBatch {
		batch := tables[from:min(from+holdBatch, len(tables))]
		schemas, names := make([]string, len(batch)), make([]string, len(batch))
		for i, t := range batch {
			schemas[i], names[i] = t.Schema, t.Name
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `
SELECT n.nspname::text, c.relname::text, coalesce(c.reloptions, '{}'), coalesce(t.reloptions, '{}'),
  t.oid IS NOT NULL
FROM unnest($1::text[], $2::text[]) AS want(nsp, rel)
  JOIN pg_namespace n ON n.nspname = want.nsp
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = want.rel
  LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.relkind = 'r' AND pg_has_role(c.relowner, 'USAGE')`, schemas, names)
			if err != nil {
				return err
			}
			var sql strings.Builder
			for rows.Next() {
				var nsp, rel string
				var h heldTable
				if err := rows.Scan(&nsp, &rel, &h.heap, &h.toast, &h.hasToast); err != nil {
					return err
				}
				h.name = ident(nsp, rel)
				held = append(held, h)
				sql.WriteString("ALTER TABLE " + h.name + " SET (autovacuum_enabled = false")
				if h.hasToast {
					sql.WriteString(", toast.autovacuum_enabled = false")
				}
				sql.WriteString(");\n")
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if sql.Len() == 0 {
				return nil
			}
			_, err = tx.Exec(ctx, sql.String())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("turning autovacuum off for the tables being loaded: %w", err)
		}
	}
	return held, nil
}

// releaseAutovacuum puts back the options holdAutovacuum changed. Setting
// an option moves it to the end of reloptions, so where the table had
// autovacuum_enabled of its own, all its options are reset and set again
// in their order: the restored table's options read as the dumped ones.
func releaseAutovacuum(ctx context.Context, conn *pgx.Conn, held []heldTable) error {
	for from := 0; from < len(held); from += holdBatch {
		var sql strings.Builder
		for _, h := range held[from:min(from+holdBatch, len(held))] {
			stmts, err := h.release()
			if err != nil {
				return err
			}
			for _, s := range stmts {
				sql.WriteString(s + ";\n")
			}
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql.String())
			return err
		}); err != nil {
			return fmt.Errorf("restoring the tables' autovacuum options: %w", err)
		}
	}
	return nil
}

var optionKey = lazyregexp.New(`^[a-z_][a-z0-9_]*$`)

// release says how to give h back its options.
func (h heldTable) release() ([]string, error) {
	var reset, set []string
	side := func(prefix string, opts []string) error {
		own := false
		for _, o := range opts {
			if k, _, _ := strings.Cut(o, "="); k == "autovacuum_enabled" {
				own = true
			}
		}
		if !own {
			reset = append(reset, prefix+"autovacuum_enabled")
			return nil
		}
		for _, o := range opts {
			k, v, ok := strings.Cut(o, "=")
			if !ok || !optionKey.MatchString(k) {
				return fmt.Errorf("table %s: storage option %q", h.name, o)
			}
			reset = append(reset, prefix+k)
			set = append(set, prefix+k+" = "+quoteLiteral(v))
		}
		return nil
	}
	if err := side("", h.heap); err != nil {
		return nil, err
	}
	if h.hasToast {
		if err := side("toast.", h.toast); err != nil {
			return nil, err
		}
	}
	stmts := []string{"ALTER TABLE " + h.name + " RESET (" + strings.Join(reset, ", ") + ")"}
	if len(set) > 0 {
		stmts = append(stmts, "ALTER TABLE "+h.name+" SET ("+strings.Join(set, ", ")+")")
	}
	return stmts, nil
}
