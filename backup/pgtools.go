package backup

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// pgTools locates pg_dump and pg_restore.
type pgTools struct {
	dump, restore string
}

func findPgTools(dir string) (pgTools, error) {
	if dir != "" {
		t := pgTools{dump: filepath.Join(dir, "pg_dump"), restore: filepath.Join(dir, "pg_restore")}
		for _, p := range []string{t.dump, t.restore} {
			if _, err := os.Stat(p); err != nil {
				return pgTools{}, fmt.Errorf("backup: %w", err)
			}
		}
		return t, nil
	}
	// The newest Debian-style installation first: pg_dump refuses servers
	// newer than itself, and Debian's /usr/bin wrappers need a cluster
	// configuration this host may not have.
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	sort.Slice(m, func(i, j int) bool { return majorOf(m[i]) > majorOf(m[j]) })
	for _, p := range m {
		t := pgTools{dump: p, restore: filepath.Join(filepath.Dir(p), "pg_restore")}
		if _, err := os.Stat(t.restore); err == nil {
			return t, nil
		}
	}
	d, err1 := exec.LookPath("pg_dump")
	r, err2 := exec.LookPath("pg_restore")
	if err1 != nil || err2 != nil {
		return pgTools{}, fmt.Errorf("backup: pg_dump and pg_restore not found (install the PostgreSQL client, or set PgBin)")
	}
	return pgTools{dump: d, restore: r}, nil
}

func majorOf(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

var sslmodeRE = lazyregexp.New(`sslmode=([a-z-]+)`)

// libpqEnv turns a connection string into PG* environment variables for
// pg_dump/pg_restore connecting to database, so no password appears on a
// command line.
func libpqEnv(connString, database string) ([]string, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("backup: connection string: %w", err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PGHOST="+cfg.Host,
		"PGPORT="+strconv.Itoa(int(cfg.Port)),
		"PGUSER="+cfg.User,
		"PGDATABASE="+database,
		"PGAPPNAME=deploykit-backup",
	)
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
	}
	if m := sslmodeRE.FindStringSubmatch(connString); m != nil {
		env = append(env, "PGSSLMODE="+m[1])
	} else if cfg.TLSConfig == nil {
		env = append(env, "PGSSLMODE=disable")
	}
	return env, nil
}

// runTool runs a PostgreSQL client program, returning its stderr in the
// error.
func runTool(ctx context.Context, env []string, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("backup: %s: %w: %s", filepath.Base(prog), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// connect opens a pgx connection to database.
func connect(ctx context.Context, connString, database string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("backup: connection string: %w", err)
	}
	if database != "" {
		cfg.Database = database
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("backup: connecting to database %q: %w", cfg.Database, err)
	}
	return conn, nil
}

func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
