package schema

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestMigrateRefusesEditedAndMissingFiles(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "edit")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	dir := writeMigrations(t, map[string]string{
		"0001_a.sql": "CREATE TABLE a (x int);",
		"0002_b.sql": "CREATE TABLE b (x int);",
	})
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Edit an applied file and add a new one: nothing is applied.
	os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (x int, y int);"), 0o644)
	os.WriteFile(filepath.Join(dir, "0003_c.sql"), []byte("CREATE TABLE c (x int);"), 0o644)
	migs := load(t, dir)
	_, err := Migrate(ctx, cfg, migs, MigrateOptions{})
	if !errors.Is(err, ErrChecksumMismatch) || !strings.Contains(err.Error(), "0001_a.sql") {
		t.Fatalf("Migrate with an edited file: %v, want ErrChecksumMismatch naming it", err)
	}
	sts, err := Status(ctx, cfg, migs, MigrateOptions{})
	if err != nil || !sts[0].Edited || sts[1].Edited || sts[2].Applied {
		t.Fatalf("Status: %+v %v", sts, err)
	}
	c := ti.connect(t, r.Password)
	var exists bool
	c.QueryRow(ctx, "SELECT to_regclass('c') IS NOT NULL").Scan(&exists)
	if exists {
		t.Fatal("a pending migration ran despite the edited one")
	}
	// Restore the file, delete an applied one.
	os.WriteFile(filepath.Join(dir, "0001_a.sql"), []byte("CREATE TABLE a (x int);"), 0o644)
	os.Remove(filepath.Join(dir, "0002_b.sql"))
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); !errors.Is(err, ErrMissingMigration) {
		t.Fatalf("Migrate with a deleted applied file: %v, want ErrMissingMigration", err)
	}
	// A new file older than the last applied one.
	os.WriteFile(filepath.Join(dir, "0002_b.sql"), []byte("CREATE TABLE b (x int);"), 0o644)
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0000002_late.sql"), []byte("SELECT 1;"), 0o644)
	if _, err := LoadDir(dir); !errors.Is(err, ErrDuplicateVersion) {
		t.Fatalf("two files with version 2: %v", err)
	}
	os.Remove(filepath.Join(dir, "0000002_late.sql"))
	os.WriteFile(filepath.Join(dir, "0005-bad.sql"), nil, 0o644)
	if _, err := LoadDir(dir); !errors.Is(err, ErrBadFilename) || !strings.Contains(err.Error(), "0005-bad.sql") {
		t.Fatalf("misnamed file: %v", err)
	}
	os.Remove(filepath.Join(dir, "0005-bad.sql"))
	os.WriteFile(filepath.Join(dir, "0001_a.sql.bak"), nil, 0o644) // ignored: not .sql
	os.WriteFile(filepath.Join(dir, "0004_d.sql"), []byte("SELECT 1;"), 0o644)
	if res, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); err != nil || len(res.Applied) != 1 {
		t.Fatalf("after the repairs: %+v %v", res, err)
	}
}

func TestMigrateOutOfOrderIsRefused(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "order")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	dir := writeMigrations(t, map[string]string{"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"})
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0002_b.sql"), []byte("SELECT 1;"), 0o644)
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); !errors.Is(err, ErrOutOfOrder) || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("out of order: %v", err)
	}
}

// A failing migration is rolled back with its record; the error names the
// file and PostgreSQL's line and column; the migrations before it stay.
func TestMigrationSyntaxErrorRollsBack(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "syntax")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	dir := writeMigrations(t, map[string]string{
		"0001_ok.sql":     "CREATE TABLE ok (x int);\n",
		"0002_broken.sql": "CREATE TABLE half (x int);\nINSERT INTO half VALUES (1);\n-- the typo:\nCREATE TABLE bad (x int,, y int);\n",
		"0003_after.sql":  "CREATE TABLE after (x int);\n",
	})
	res, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{})
	var me *MigrationError
	if !errors.As(err, &me) || !errors.Is(err, ErrMigrationFailed) {
		t.Fatalf("Migrate: %v, want *MigrationError", err)
	}
	if !strings.HasSuffix(me.File, "0002_broken.sql") || me.Line != 4 || me.Column != 25 || pgCode(err) != "42601" {
		t.Fatalf("error at %s:%d:%d (%v), want 0002_broken.sql:4:25 syntax_error", me.File, me.Line, me.Column, err)
	}
	if !strings.Contains(err.Error(), "0002_broken.sql:4:25") {
		t.Errorf("message lacks the position: %v", err)
	}
	if len(res.Applied) != 1 || res.Applied[0].Version != 1 {
		t.Fatalf("applied before the failure: %+v", res.Applied)
	}
	c := ti.connect(t, r.Password)
	var half, after, recorded int
	c.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_tables WHERE tablename = 'half'), (SELECT count(*) FROM pg_tables WHERE tablename = 'after'), (SELECT count(*) FROM deploykit_migrations)").Scan(&half, &after, &recorded)
	if half != 0 || after != 0 || recorded != 1 {
		t.Fatalf("after the failure: half=%d after=%d recorded=%d, want 0 0 1", half, after, recorded)
	}
	// Fixed, it applies.
	os.WriteFile(filepath.Join(dir, "0002_broken.sql"), []byte("CREATE TABLE half (x int);\n"), 0o644)
	if res, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); err != nil || len(res.Applied) != 2 {
		t.Fatalf("after the fix: %+v %v", res, err)
	}
}

func TestMigrationMustNotEndTheTransaction(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "commit")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	dir := writeMigrations(t, map[string]string{"0001_commits.sql": "CREATE TABLE x (i int); COMMIT;"})
	if _, err := Migrate(ctx, cfg, load(t, dir), MigrateOptions{}); !errors.Is(err, ErrMigrationFailed) || !strings.Contains(err.Error(), "ends the transaction") {
		t.Fatalf("COMMIT in a migration: %v", err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "dry")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	migs := load(t, writeMigrations(t, map[string]string{"0001_a.sql": "CREATE TABLE a (x int);", "0002_b.sql": "CREATE TABLE b (x int);"}))
	res, err := Migrate(ctx, cfg, migs, MigrateOptions{DryRun: true})
	if err != nil || !res.DryRun || len(res.Applied) != 2 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	c := ti.connect(t, r.Password)
	var tables int
	c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables)
	if tables != 0 {
		t.Fatalf("dry run created %d tables", tables)
	}
	var seen []int64
	if _, err := Migrate(ctx, cfg, migs[:1], MigrateOptions{Progress: func(m Migration) { seen = append(seen, m.Version) }}); err != nil || len(seen) != 1 {
		t.Fatalf("progress %v, %v", seen, err)
	}
	res, err = Migrate(ctx, cfg, migs, MigrateOptions{DryRun: true})
	if err != nil || len(res.Applied) != 1 || res.Applied[0].Version != 2 {
		t.Fatalf("dry run after one: %+v %v", res, err)
	}
	if _, err := Migrate(ctx, cfg, migs, MigrateOptions{Table: "Bad-Table"}); err == nil {
		t.Fatal("bad table name accepted")
	}
}

// Two deploys migrating at once: the advisory lock lets one apply while
// the other waits, then finds nothing to do. Each migration runs once.
func TestConcurrentMigrateAppliesOnce(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "race")
	r := ti.provision(t)
	cfg := ti.config(t, r.Password)
	migs := load(t, writeMigrations(t, map[string]string{
		"0001_counter.sql": "CREATE TABLE runs (version int);\nINSERT INTO runs VALUES (1);\nSELECT pg_sleep(0.5);\n",
		"0002_more.sql":    "INSERT INTO runs VALUES (2);\n",
		"0003_more.sql":    "INSERT INTO runs VALUES (3);\n",
	}))
	var wg sync.WaitGroup
	results := make([]*MigrateResult, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Migrate(ctx, cfg, migs, MigrateOptions{})
		}()
	}
	wg.Wait()
	total := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("Migrate #%d: %v", i, errs[i])
		}
		if n := len(results[i].Applied); n != 0 && n != 3 {
			t.Fatalf("Migrate #%d applied %d of 3: the lock did not serialise", i, n)
		}
		total += len(results[i].Applied)
	}
	if total != 3 {
		t.Fatalf("%d applications in total, want 3", total)
	}
	c := ti.connect(t, r.Password)
	var runs, distinct int
	c.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM runs").Scan(&runs, &distinct)
	if runs != 3 || distinct != 3 {
		t.Fatalf("runs table: %d rows, %d distinct", runs, distinct)
	}
}

func TestPosition(t *testing.T) {
	sql := "a\nbé\ncde"
	for pos, want := range map[int][2]int{1: {1, 1}, 2: {1, 2}, 3: {2, 1}, 4: {2, 2}, 6: {3, 1}, 8: {3, 3}, 0: {0, 0}} {
		l, c := position(sql, pos)
		if l != want[0] || c != want[1] {
			t.Errorf("position(%d) = %d:%d, want %d:%d", pos, l, c, want[0], want[1])
		}
	}
}

func TestParseFilename(t *testing.T) {
	for in, want := range map[string]struct {
		v    int64
		name string
	}{
		"0001_create_users.sql": {1, "create_users"},
		"42_x.sql":              {42, "x"},
		"0010_add-index.sql":    {10, "add-index"},
		"20240131120000_a.sql":  {20240131120000, "a"},
	} {
		v, n, err := ParseFilename(in)
		if err != nil || v != want.v || n != want.name {
			t.Errorf("ParseFilename(%q) = %d, %q, %v", in, v, n, err)
		}
	}
	for _, in := range []string{"", "0001.sql", "0001_.sql", "_a.sql", "0000_a.sql", "x1_a.sql", "0001_a.SQL", "0001_a b.sql", "0001_a.sql.bak", "12345678901234567_a.sql", "0001_ü.sql", "-1_a.sql", "+1_a.sql", "0001_a/b.sql"} {
		if _, _, err := ParseFilename(in); !errors.Is(err, ErrBadFilename) {
			t.Errorf("ParseFilename(%q) = %v, want ErrBadFilename", in, err)
		}
	}
}

func FuzzParseFilename(f *testing.F) {
	for _, s := range []string{"0001_create_users.sql", "1_a.sql", "0001.sql", "9999999999999999_z.sql", "0001_a_b-c.sql", "00_a.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, name, err := ParseFilename(s)
		if err != nil {
			if !errors.Is(err, ErrBadFilename) {
				t.Fatalf("error without ErrBadFilename: %v", err)
			}
			return
		}
		if v < 1 || v > MaxVersion || name == "" || strings.ContainsAny(name, "/.") {
			t.Fatalf("ParseFilename(%q) = %d, %q", s, v, name)
		}
		// Canonical re-rendering parses to the same pair.
		v2, n2, err := ParseFilename(strings.TrimLeft(s[:strings.IndexByte(s, '_')], "0") + "_" + name + ".sql")
		if err != nil || v2 != v || n2 != name {
			t.Fatalf("re-render of %q: %d %q %v", s, v2, n2, err)
		}
	})
}
