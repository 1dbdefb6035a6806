package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/testenv"
)

func statUID(fi os.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Uid) }

// managerChild runs one Manager operation in a child process that a kill
// test kills (Options.CrashAt) at a chosen step.
func managerChild(ctx context.Context) error {
	opts := Options{
		Root:          os.Getenv("DEPLOYKIT_TEST_ROOT"),
		DatabaseURL:   os.Getenv("DEPLOYKIT_TEST_DB"),
		BrokerURL:     os.Getenv("DEPLOYKIT_TEST_BROKER"),
		Services:      "supervise",
		Python:        "/usr/bin/python3",
		HealthTimeout: 20 * time.Second,
		CrashAt:       os.Getenv("DEPLOYKIT_TEST_CRASH_AT"),
	}
	m, err := Open(ctx, opts)
	if err != nil {
		return err
	}
	name := os.Getenv("DEPLOYKIT_TEST_NAME")
	switch op := os.Getenv("DEPLOYKIT_TEST_OP"); op {
	case "create", "upgrade":
		spec, err := LoadSpec(os.Getenv("DEPLOYKIT_TEST_SPEC"))
		if err != nil {
			return err
		}
		if op == "create" {
			_, err = m.Create(ctx, name, spec)
		} else {
			_, err = m.Upgrade(ctx, name, spec)
		}
		return err
	case "apply":
		spec, err := LoadSpec(os.Getenv("DEPLOYKIT_TEST_SPEC"))
		if err != nil {
			return err
		}
		_, _, err = m.Apply(ctx, name, spec, ApplyOptions{})
		return err
	case "remove":
		return m.Remove(ctx, name, RemoveOptions{})
	case "restore":
		return m.Restore(ctx, name, os.Getenv("DEPLOYKIT_TEST_SPEC"), RestoreOptions{})
	case "rollback":
		_, err := m.Rollback(ctx, name, os.Getenv("DEPLOYKIT_TEST_SPEC"))
		return err
	case "backup":
		_, err := m.Backup(ctx, name, "")
		return err
	default:
		return fmt.Errorf("unknown op %q", op)
	}
}

// runKilled runs op in a child killed at point; it returns an error
// unless the child died by SIGKILL (or, for point "", exited cleanly).
func runKilled(f *fixture, op, name, specPath, point string) error {
	cmd, err := childCommand(f, op, name, specPath, point)
	if err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	if point == "" {
		if err != nil {
			return fmt.Errorf("child %s: %v\n%s", op, err, out)
		}
		return nil
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		return fmt.Errorf("child %s was not killed at %s: %v\n%s", op, point, err, out)
	}
	return nil
}

// childCommand is this test binary run as managerChild, doing op on name
// (and killing itself at point, when not "").
func childCommand(f *fixture, op, name, specPath, point string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "DEPLOYKIT_TEST_CHILD=manager", "DEPLOYKIT_TEST_ROOT="+f.root, "DEPLOYKIT_TEST_DB="+f.dbURL, "DEPLOYKIT_TEST_BROKER="+f.brokerURL,
		"DEPLOYKIT_TEST_NAME="+name, "DEPLOYKIT_TEST_OP="+op, "DEPLOYKIT_TEST_SPEC="+specPath, "DEPLOYKIT_TEST_CRASH_AT="+point)
	return cmd, nil
}

// checkGone asserts nothing of instance name is left: record, dirs,
// user, role, database, supervisor state.
func checkGone(t *testing.T, m *Manager, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := m.Status(ctx, name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status: %v (want not found)", err)
	}
	if ents, err := os.ReadDir(m.Layout().InstanceDir(name)); err == nil {
		for _, e := range ents {
			if e.Name() != ".lock" {
				t.Errorf("left in the instance dir: %s", e.Name())
			}
		}
	}
	if _, err := user.Lookup("dk-" + name); err == nil {
		t.Error("user left")
	}
	var n int
	pgtest.Get(t).Connect(t).QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)", "dk-"+name).Scan(&n)
	if n != 0 {
		t.Error("role or database left")
	}
	if _, err := os.Stat(filepath.Join(m.Layout().SupervisorDir(), name, "spec.json")); err == nil {
		t.Error("services left installed")
	}
}

// TestCreateKilledAtEveryStepRollsBack kills a create at every step (in a
// child process, SIGKILL) and checks that the next operation finds no
// instance at all — no user, role, database, directory or service — and
// that creating it again then succeeds.
func TestCreateKilledAtEveryStepRollsBack(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	f.spec(t, "1")
	specPath := filepath.Join(f.specDir, "app.toml")
	name := randomName("tk")
	cleanup(t, m, name)
	points := []string{"prepare", "account", "account:done", "build", "build:done", CrashAtCompiling, "database", "database:done", "compile", "compile:done", "migrate:done", "switch:done", "services", "services:done", "health:done", "commit:done"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			if err := runKilled(f, "create", name, specPath, point); err != nil {
				t.Fatal(err)
			}
			checkGone(t, m, name)
		})
	}
	// It converges: a create after all that works.
	st, err := m.Create(context.Background(), name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if a := get(t, st.Ports["web"]); a.Instance != name {
		t.Fatalf("answered %+v", a)
	}
}

// TestUpgradeKilledAtEveryStepIsOldOrNew kills an upgrade at every step
// and checks that the instance then serves either the old release or the
// new one, consistently: record, current link and running version agree.
func TestUpgradeKilledAtEveryStepIsOldOrNew(t *testing.T) {
	f, m, name, _ := withInstance(t, "tu", "0")
	ctx := context.Background()
	specPath := filepath.Join(f.specDir, "app.toml")
	points := []string{"build", "build:done", CrashAtCompiling, "database:done", "compile", "compile:done", "migrate:done", "switch", "switch:done", "restart", "restart:done", "health:done", "commit:done", "prune"}
	for i, point := range points {
		t.Run(point, func(t *testing.T) {
			before, err := m.Status(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			f.spec(t, fmt.Sprint(i+1))
			if err := runKilled(f, "upgrade", name, specPath, point); err != nil {
				t.Fatal(err)
			}
			st, err := m.Status(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Recovered == nil {
				t.Fatal("status did not recover the interrupted upgrade")
			}
			link, _ := os.Readlink(m.Layout().Current(name))
			if link != "releases/"+st.Current {
				t.Fatalf("record says %s, current -> %s", st.Current, link)
			}
			newState := point == "prune"
			want := before.Current
			if newState {
				want = fmt.Sprintf("r%d", before.NextRelease)
			}
			if st.Current != want {
				t.Fatalf("after a kill at %s: release %s, want %s (recovered: %s)", point, st.Current, want, st.Recovered)
			}
			spec, err := m.releaseSpec(name, st.Current)
			if err != nil {
				t.Fatal(err)
			}
			if a := get(t, st.Ports["web"]); a.Version != spec.Env["APP_VERSION"] {
				t.Fatalf("serving version %q, release %s is %q", a.Version, st.Current, spec.Env["APP_VERSION"])
			}
			for _, r := range []string{before.Current, st.Current} {
				if _, err := os.Stat(m.Layout().ReleaseVenv(name, r)); err != nil {
					t.Fatalf("release %s lost its venv: %v", r, err)
				}
			}
			ents, _ := os.ReadDir(m.Layout().ReleasesDir(name))
			if len(ents) != len(st.Releases) {
				t.Fatalf("%d release dirs for %d releases: a half-built release was left", len(ents), len(st.Releases))
			}
		})
	}
}

// TestRemoveKilledIsUndoneOrFinished kills a remove before its commit
// (the instance must be back, serving) and after it (recovery finishes
// the removal: nothing left).
func TestRemoveKilledIsUndoneOrFinished(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("tx")
	cleanup(t, m, name)
	spec := f.spec(t, "1")
	for _, point := range []string{"stop:done", "database:done", "files"} {
		t.Run(point, func(t *testing.T) {
			if _, err := m.Status(ctx, name); errors.Is(err, ErrNotFound) {
				if _, err := m.Create(ctx, name, spec); err != nil {
					t.Fatal(err)
				}
			}
			if err := runKilled(f, "remove", name, "", point); err != nil {
				t.Fatal(err)
			}
			st, err := m.Status(ctx, name)
			if point == "stop:done" {
				if err != nil {
					t.Fatalf("a remove killed before its commit left no instance: %v", err)
				}
				if a := get(t, st.Ports["web"]); a.Instance != name {
					t.Fatalf("not serving after the undone remove: %+v", a)
				}
				return
			}
			checkGone(t, m, name)
		})
	}
}

// TestEmbeddedClusterIsSupervised: without a database URL, the embedded
// cluster runs under the built-in supervisor, which restarts a killed
// postmaster; Shutdown stops it for good.
func TestEmbeddedClusterIsSupervised(t *testing.T) {
	testenv.NeedRoot(t)
	if _, err := pgcluster.FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "PostgreSQL server binaries: %v", err)
	}
	root, err := os.MkdirTemp("", "dkc")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	ctx := context.Background()
	m, err := Open(ctx, Options{Root: root, Services: "supervise"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Shutdown(context.Background())
		os.RemoveAll(root)
	})
	srv, err := m.server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ping := func() error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(cctx, srv.admin.Copy())
		if err != nil {
			return err
		}
		return c.Close(cctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(m.Layout().PostgresDir(), "data", "postmaster.pid")
	readPID := func() int {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return 0
		}
		var pid int
		fmt.Sscanf(string(b), "%d", &pid)
		return pid
	}
	old := readPID()
	if old == 0 {
		t.Fatal("no postmaster.pid")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if pid := readPID(); pid != 0 && pid != old && ping() == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed postmaster was not restarted")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := m.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := ping(); err == nil {
		t.Fatal("the cluster still answers after Shutdown")
	}
}

// TestRestoreKilledIsOldOrNew kills a restore while it loads (the
// instance never stopped and serves the old data), after the services
// were stopped for the swap (undone: the old data serves again) and after
// the swap (rolled forward: the restored data serves).
func TestRestoreKilledIsOldOrNew(t *testing.T) {
	f, m, name, st := withInstance(t, "ty", "1")
	ctx := context.Background()
	if st.Database == "" {
		t.Fatal("the instance has no database")
	}
	// The same marker in the data directory and in the database: a kill
	// must leave both from before the restore or both from the archive.
	marker := filepath.Join(m.Layout().DataDir(name), "marker")
	db := func(t *testing.T) *pgx.Conn {
		conn, err := pgx.Connect(ctx, pgtest.Get(t).URLFor(st.Database))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	mark := func(t *testing.T, v string) {
		if err := os.WriteFile(marker, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := db(t).Exec(ctx, "UPDATE marker SET v = $1", v); err != nil {
			t.Fatal(err)
		}
	}
	conn := db(t)
	for _, sql := range []string{"SET ROLE " + pgx.Identifier{st.Role}.Sanitize(), "CREATE TABLE marker (v text)", "INSERT INTO marker VALUES ('')"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	mark(t, "backed up")
	res, err := m.Backup(ctx, name, "")
	if err != nil {
		t.Fatal(err)
	}
	// Killed before the load step is journaled as done — while loading,
	// stopped for the swap, between the data directory's swap and the
	// database's, after both — the restore is rolled back, all of it;
	// after, rolled forward.
	for _, tc := range []struct{ point, want string }{
		{"load", "changed"}, {"load:stopped", "changed"}, {"load:files", "changed"}, {"load:database", "changed"},
		{"load:done", "changed"}, {"start:done", "backed up"},
	} {
		t.Run(tc.point, func(t *testing.T) {
			mark(t, "changed")
			if err := runKilled(f, "restore", name, res.Path, tc.point); err != nil {
				t.Fatal(err)
			}
			s, err := m.Status(ctx, name)
			if err != nil || s.Recovered == nil {
				t.Fatalf("status: %+v %v", s, err)
			}
			if s.Recovered.RolledBack != (tc.want == "changed") {
				t.Fatalf("recovery after a kill at %s: %s", tc.point, s.Recovered)
			}
			var inDB string
			if err := db(t).QueryRow(ctx, "SELECT v FROM marker").Scan(&inDB); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(marker); string(b) != tc.want || inDB != tc.want {
				t.Fatalf("after a kill at %s: data directory %q, database %q, want both %q", tc.point, b, inDB, tc.want)
			}
			if a := get(t, st.Ports["web"]); a.Instance != name {
				t.Fatalf("not serving after recovery: %+v", a)
			}
			// Nothing of the restore is left: no temporary or replaced
			// database, no staging or replaced directory.
			var left int
			if err := pgtest.Get(t).Connect(t).QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)`, st.Database+"_dkr_").Scan(&left); err != nil {
				t.Fatal(err)
			}
			beside, _ := filepath.Glob(filepath.Join(m.Layout().InstanceDir(name), ".data.dk-*"))
			if left != 0 || len(beside) != 0 {
				t.Fatalf("after a kill at %s: %d databases and %q left", tc.point, left, beside)
			}
		})
	}
}

// TestRollbackKilledAtEveryStepIsOldOrNew kills a rollback at every step
// and checks that the instance then serves the release it was on or the
// one it rolled back to — record, current link and running version
// agreeing — and never loses a release.
func TestRollbackKilledAtEveryStepIsOldOrNew(t *testing.T) {
	f, m, name, _ := withInstance(t, "tb", "1")
	ctx := context.Background()
	up, err := m.Upgrade(ctx, name, f.spec(t, "2"))
	if err != nil {
		t.Fatal(err)
	}
	from, to := up.Current, "r1"
	for _, point := range []string{"switch", "switch:done", "restart", "restart:done", "health:done", "commit:done"} {
		t.Run(point, func(t *testing.T) {
			if err := runKilled(f, "rollback", name, to, point); err != nil {
				t.Fatal(err)
			}
			st, err := m.Status(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if st.Recovered == nil {
				t.Fatal("status did not recover the interrupted rollback")
			}
			// The commit step's record is the last step; a kill before the
			// journal holds it (commit:done fires after the step ran, before
			// it is journaled) is rolled back, as for upgrade.
			want := from
			if st.Current != want {
				t.Fatalf("after a kill at %s: release %s, want %s (recovered: %s)", point, st.Current, want, st.Recovered)
			}
			if link, _ := os.Readlink(m.Layout().Current(name)); link != "releases/"+st.Current {
				t.Fatalf("record says %s, current -> %s", st.Current, link)
			}
			spec, err := m.releaseSpec(name, st.Current)
			if err != nil {
				t.Fatal(err)
			}
			if a := get(t, st.Ports["web"]); a.Version != spec.Env["APP_VERSION"] {
				t.Fatalf("serving version %q, release %s is %q", a.Version, st.Current, spec.Env["APP_VERSION"])
			}
			for _, r := range []string{from, to} {
				if _, ok := st.Release(r); !ok {
					t.Fatalf("release %s was lost", r)
				}
			}
		})
	}
	// Re-running the operation after all those kills converges.
	st, err := m.Rollback(ctx, name, to)
	if err != nil {
		t.Fatal(err)
	}
	if a := get(t, st.Ports["web"]); st.Current != to || a.Version != "1" {
		t.Fatalf("rollback after the kills: release %s serving %+v", st.Current, a)
	}
}

// TestBackupKilledLeavesNoPartialArchive kills backups at several moments:
// no archive that fails verification is ever left under the instance's
// backups (the archive is written beside and renamed into place), the
// instance keeps serving, and the next backup succeeds.
func TestBackupKilledLeavesNoPartialArchive(t *testing.T) {
	f, m, name, st := withInstance(t, "tk", "1")
	ctx := context.Background()
	for _, after := range []time.Duration{30 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		cmd, err := childCommand(f, "backup", name, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		cmd.Process.Kill()
		cmd.Wait()
		ents, _ := os.ReadDir(m.Layout().BackupsDir(name))
		for _, e := range ents {
			if filepath.Ext(e.Name()) != ".dkb" {
				continue
			}
			if _, err := m.Verify(ctx, filepath.Join(m.Layout().BackupsDir(name), e.Name())); err != nil {
				t.Fatalf("killed after %v: a partial archive %s was left: %v", after, e.Name(), err)
			}
		}
		if a := get(t, st.Ports["web"]); a.Instance != name {
			t.Fatalf("instance disturbed by a killed backup: %+v", a)
		}
	}
	res, err := m.Backup(ctx, name, "")
	if err != nil {
		t.Fatalf("backup after killed ones: %v", err)
	}
	if _, err := m.Verify(ctx, res.Path); err != nil {
		t.Fatal(err)
	}
}
