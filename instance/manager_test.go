package instance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/deploykit/deploykit/backup/archive"
	"github.com/deploykit/deploykit/services"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/testenv"
)

// fixture is an application spec dir and a root on a real server, with
// real interpreters and the real wheelhouse.
type fixture struct {
	root    string
	specDir string
	dbURL   string
	wheels  string
	// brokerURL is the test binary's RabbitMQ (internal/rabbittest), set
	// by tests of the broker (withBroker).
	brokerURL string
}

func randomName(prefix string) string {
	b := make([]byte, 3)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// openTree makes dir and its parents up to /tmp traversable by instance
// users (t.TempDir makes 0700 directories).
func openTree(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	wh := testenv.GetWheelhouse(t)
	srv := pgtest.Get(t)
	// Not t.TempDir: its long paths make long socket paths.
	root, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	openTree(t, root)
	f := &fixture{root: filepath.Join(root, "root"), specDir: filepath.Join(root, "app"), dbURL: srv.URL, wheels: wh.Dir}
	if err := os.MkdirAll(filepath.Join(f.specDir, "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/app/server.py")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(f.specDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("server.py", string(src))
	write("requirements.txt", "--no-index\n--find-links "+wh.Dir+"\nsix\n")
	write("migrations/0001_notes.sql", "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n")
	return f
}

// spec writes app.toml for an application version and loads it.
func (f *fixture) spec(t *testing.T, version string) *Spec {
	t.Helper()
	return f.specWith(t, version, "")
}

// specWith is spec with extra TOML appended (tables such as [broker]).
func (f *fixture) specWith(t *testing.T, version, extra string) *Spec {
	t.Helper()
	toml := fmt.Sprintf(`name = "testapp"
python = ">=3.8"
requirements = ["requirements.txt"]
[env]
APP_VERSION = %q
[database]
migrations = "migrations"
[hooks]
migrate = ["python", "-c", "import six, os; assert os.environ['DATABASE_URL']"]
[services.web]
command = ["python", %q]
listen = true
health = "/"
`, version, filepath.Join(f.specDir, "server.py")) + extra
	p := filepath.Join(f.specDir, "app.toml")
	if err := os.WriteFile(p, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) options() Options {
	return Options{Root: f.root, DatabaseURL: f.dbURL, BrokerURL: f.brokerURL, Services: "supervise", Python: "/usr/bin/python3", HealthTimeout: 20 * time.Second}
}

func (f *fixture) open(t *testing.T) *Manager {
	t.Helper()
	m, err := Open(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// withInstance opens a Manager on a new fixture and creates the app at
// version as an instance named prefix plus a random suffix, removed when
// the test ends.
func withInstance(t *testing.T, prefix, version string) (*fixture, *Manager, string, *State) {
	t.Helper()
	f := newFixture(t)
	m := f.open(t)
	name := randomName(prefix)
	cleanup(t, m, name)
	st, err := m.Create(context.Background(), name, f.spec(t, version))
	if err != nil {
		t.Fatal(err)
	}
	return f, m, name, st
}

// cleanup removes the instance at the end of the test, whatever state
// it is in.
func cleanup(t *testing.T, m *Manager, name string) {
	t.Cleanup(func() {
		err := m.Remove(context.Background(), name, RemoveOptions{DeleteBackups: true})
		if err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("cleanup remove %s: %v", name, err)
		}
	})
}

type answer struct {
	Instance string `json:"instance"`
	Version  string `json:"version"`
	Six      string `json:"six"`
	User     int    `json:"user"`
	HasDB    bool   `json:"has_db"`
}

func get(t *testing.T, port int) answer {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET port %d: %v", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("GET port %d: %v: %s", port, err, b)
	}
	return a
}

func TestLifecycleTwoInstancesUpgradeHotfixRollbackBackupRemove(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	prod, stage := randomName("tp"), randomName("ts")
	cleanup(t, m, prod)
	cleanup(t, m, stage)
	spec := f.spec(t, "1")

	p, err := m.Create(ctx, prod, spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Create(ctx, stage, spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.Current != "r1" || p.Ports["web"] == s.Ports["web"] || p.UID == s.UID || p.UID == 0 || p.Database == s.Database {
		t.Fatalf("instances not separate: %+v %+v", p, s)
	}
	a := get(t, p.Ports["web"])
	if a.Instance != prod || a.Version != "1" || a.Six != "1.16.0" || a.User != p.UID || !a.HasDB {
		t.Fatalf("production answered %+v", a)
	}
	if b := get(t, s.Ports["web"]); b.Instance != stage || b.User != s.UID {
		t.Fatalf("staging answered %+v", b)
	}
	list, err := m.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %v %v", list, err)
	}

	// Isolation: staging's user cannot read production's files, and
	// staging's role cannot connect to production's database.
	secret := filepath.Join(m.Layout().DataDir(prod), "secret.txt")
	if err := os.WriteFile(secret, []byte("prod only"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(secret, p.UID, p.GID)
	if code, err := m.Run(ctx, stage, []string{"cat", secret}, RunIO{Stdout: io.Discard, Stderr: io.Discard}); err != nil || code == 0 {
		t.Fatalf("staging read production's data: code %d err %v", code, err)
	}
	if code, err := m.Run(ctx, prod, []string{"cat", secret}, RunIO{Stdout: io.Discard, Stderr: io.Discard}); err != nil || code != 0 {
		t.Fatalf("production cannot read its own data: code %d err %v", code, err)
	}
	pw, err := os.ReadFile(m.Layout().passwordFile(stage))
	if err != nil {
		t.Fatal(err)
	}
	cfg := pgtest.Get(t).ConnConfig(t)
	cfg.Host, cfg.Port = "127.0.0.1", uint16(pgtest.Get(t).Port)
	cfg.User, cfg.Password, cfg.Database = s.Role, strings.TrimSpace(string(pw)), p.Database
	if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c.Close(ctx)
		t.Fatal("staging's role connected to production's database")
	}
	cfg.Database = s.Database
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("staging's role cannot connect to its own database: %v", err)
	}
	c.Close(ctx)

	// Upgrade to version 2.
	p, err = m.Upgrade(ctx, prod, f.spec(t, "2"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Current != "r2" || get(t, p.Ports["web"]).Version != "2" {
		t.Fatalf("after upgrade: %+v", p)
	}

	// A failing migration: the upgrade is rolled back and r2 keeps serving.
	bad := filepath.Join(f.specDir, "migrations", "0002_bad.sql")
	os.WriteFile(bad, []byte("ALTER TABLE no_such_table ADD COLUMN x int;\n"), 0o644)
	_, err = m.Upgrade(ctx, prod, f.spec(t, "3"))
	var se *StepError
	if !errors.As(err, &se) || se.Step != "migrate" || !se.RolledBack {
		t.Fatalf("failing migration: %v", err)
	}
	os.Remove(bad)
	st, err := m.Status(ctx, prod)
	if err != nil || st.Current != "r2" || len(st.Releases) != 2 {
		t.Fatalf("status after failed upgrade: %+v %v", st, err)
	}
	if _, err := os.Stat(m.Layout().ReleaseDir(prod, "r3")); !os.IsNotExist(err) {
		t.Fatal("the failed release's directory was left behind")
	}
	if a := get(t, p.Ports["web"]); a.Version != "2" {
		t.Fatalf("not serving r2 after the failed upgrade: %+v", a)
	}

	// Hotfix: the same lock with one requirement named; then roll back.
	p, err = m.Hotfix(ctx, prod, []string{"six==1.16.0"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Current != "r3" {
		t.Fatalf("hotfix release %s", p.Current)
	}
	if r, _ := p.Release("r3"); r.Kind != "hotfix" || len(r.Changes) != 1 {
		t.Fatalf("hotfix release record %+v", r)
	}
	p, err = m.Rollback(ctx, prod, "")
	if err != nil || p.Current != "r2" {
		t.Fatalf("rollback: %+v %v", p, err)
	}
	if target, _ := os.Readlink(m.Layout().Current(prod)); target != "releases/r2" {
		t.Fatalf("current -> %s", target)
	}
	// The rollback keeps the release counter (it is restored from the
	// journal's snapshot): the next release is r4, never r3 again.
	if p.NextRelease != 4 {
		t.Fatalf("next release after rollback: r%d", p.NextRelease)
	}
	if _, ok := p.Release("r3"); !ok {
		t.Fatal("the hotfix release r3 was dropped by the rollback")
	}

	// Backup production (database row + data file), restore into staging.
	admin := pgtest.Get(t).ConnConfig(t)
	admin.Database = p.Database
	ac, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Exec(ctx, "INSERT INTO notes (body) VALUES ('from production')"); err != nil {
		t.Fatal(err)
	}
	ac.Close(ctx)
	res, err := m.Backup(ctx, prod, "")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := m.Verify(ctx, res.Path); err != nil || v.Instance != prod || v.Release != "r2" {
		t.Fatalf("verify: %+v %v", v, err)
	}
	// Production's archive is refused for staging without Force, and a
	// corrupt archive is refused, before anything changes: staging keeps
	// serving from the same process (no stop and start for nothing).
	webPID := func() int {
		t.Helper()
		st, err := m.Status(ctx, stage)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Services {
			if c.Component == "web" {
				return c.PID
			}
		}
		t.Fatalf("no web component in %+v", st.Services)
		return 0
	}
	pid := webPID()
	if err := m.Restore(ctx, stage, res.Path, RestoreOptions{}); !errors.Is(err, archive.ErrOtherInstance) {
		t.Fatalf("restore of another instance's archive without Force: %v", err)
	}
	corrupt := filepath.Join(t.TempDir(), "corrupt.dkb")
	b, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(corrupt, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, stage, corrupt, RestoreOptions{Force: true}); err == nil {
		t.Fatal("a corrupt archive was restored")
	}
	if b := get(t, s.Ports["web"]); b.Instance != stage {
		t.Fatalf("staging disturbed by the refused restore: %+v", b)
	}
	if p := webPID(); p != pid || p == 0 {
		t.Fatalf("staging's web process changed (%d -> %d) for a refused restore", pid, p)
	}
	if err := m.Restore(ctx, stage, res.Path, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	admin.Database = s.Database
	sc, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	var body, owner string
	if err := sc.QueryRow(ctx, "SELECT n.body, t.tableowner FROM notes n, pg_tables t WHERE t.tablename = 'notes'").Scan(&body, &owner); err != nil || body != "from production" || owner != s.Role {
		t.Fatalf("staging after restore: %q owned by %q: %v", body, owner, err)
	}
	sc.Close(ctx)
	fi, err := os.Stat(filepath.Join(m.Layout().DataDir(stage), "secret.txt"))
	if err != nil {
		t.Fatalf("restored data file: %v", err)
	}
	if uid := statUID(fi); uid != s.UID {
		t.Fatalf("restored file owned by %d, not staging's %d", uid, s.UID)
	}
	if b := get(t, s.Ports["web"]); b.Instance != stage {
		t.Fatalf("staging after restore answered %+v", b)
	}
	// An instance stopped on purpose stays stopped through a restore.
	if err := m.Stop(ctx, stage); err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, stage, res.Path, RestoreOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(ctx, stage); err != nil {
		t.Fatal(err)
	} else {
		for _, c := range st.Services {
			if c.State != services.StateInactive {
				t.Fatalf("restore started the stopped instance: %+v", c)
			}
		}
	}

	// Remove staging: nothing left but its backups.
	if err := m.Remove(ctx, stage, RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(s.User); err == nil {
		t.Error("staging's user survived remove")
	}
	var n int
	pc := pgtest.Get(t).Connect(t)
	pc.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)", s.Role).Scan(&n)
	if n != 0 {
		t.Error("staging's role or database survived remove")
	}
	for _, d := range []string{m.Layout().InstanceDir(stage), filepath.Join(m.Layout().SupervisorDir(), stage)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s survived remove", d)
		}
	}
	if _, err := m.Status(ctx, stage); !errors.Is(err, ErrNotFound) {
		t.Errorf("status of removed instance: %v", err)
	}
	if a := get(t, p.Ports["web"]); a.Instance != prod {
		t.Fatalf("production disturbed by staging's removal: %+v", a)
	}
}

func TestOperationsOnAnUnknownInstanceLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	m, err := Open(ctx, Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ctx, "ghost", filepath.Join(dir, "x.dkb"), RestoreOptions{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("restore into an unknown instance: %v", err)
	}
	if err := m.Clone(ctx, "ghost", "phantom"); !errors.Is(err, ErrNotFound) {
		t.Errorf("clone of an unknown instance: %v", err)
	}
	if _, err := m.Rollback(ctx, "ghost", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("rollback of an unknown instance: %v", err)
	}
	for _, n := range []string{"ghost", "phantom"} {
		if _, err := os.Stat(m.Layout().InstanceDir(n)); !os.IsNotExist(err) {
			t.Errorf("%s: an operation on an unknown instance left %s behind", n, m.Layout().InstanceDir(n))
		}
		if _, err := os.Stat(m.Layout().BackupsDir(n)); !os.IsNotExist(err) {
			t.Errorf("%s: a backup was made for an unknown instance", n)
		}
	}
}

func TestSecondOperationGetsErrLocked(t *testing.T) {
	dir := t.TempDir()
	m, err := Open(context.Background(), Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(m.Layout().InstanceDir("busy"), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, _, err := m.begin(context.Background(), "busy", "upgrade")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = m.Rollback(context.Background(), "busy", "")
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Op != "upgrade" {
		t.Fatalf("second operation: %v", err)
	}
}

// TestHotfixFromAGitBranch hot-fixes an instance with a branch of the
// application's own code (a real git repository, built by its in-tree
// PEP 517 backend): only that requirement moves, and rollback undoes it.
func TestHotfixFromAGitBranch(t *testing.T) {
	f := newFixture(t)
	git := testenv.Command(t, "git")
	repo := filepath.Join(filepath.Dir(f.specDir), "greetpkg")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dkbackend.py", "pyproject.toml", "greetpkg.py", "VERSION"} {
		b, err := os.ReadFile(filepath.Join("testdata", "gitpkg", n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(repo, n), b, 0o644)
	}
	gitc := func(args ...string) {
		t.Helper()
		cmd := exec.Command(git, append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitc("init", "-q")
	gitc("add", ".")
	gitc("commit", "-qm", "1.0.0")
	gitc("checkout", "-qb", "fix-123")
	os.WriteFile(filepath.Join(repo, "VERSION"), []byte("1.0.1\n"), 0o644)
	os.WriteFile(filepath.Join(repo, "greetpkg.py"), []byte("def greet():\n    return \"hello, fixed\"\n"), 0o644)
	gitc("commit", "-qam", "the fix")
	gitc("checkout", "-q", "main")

	os.WriteFile(filepath.Join(f.specDir, "requirements.txt"), []byte("--no-index\n--find-links "+f.wheels+"\nsix\ngreetpkg @ git+file://"+repo+"@main\n"), 0o644)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("tg")
	cleanup(t, m, name)
	if _, err := m.Create(ctx, name, f.spec(t, "1")); err != nil {
		t.Fatal(err)
	}
	greet := func() string {
		var out strings.Builder
		code, err := m.Run(ctx, name, []string{"python", "-c", "import greetpkg; print(greetpkg.greet())"}, RunIO{Stdout: &out, Stderr: &out})
		if err != nil || code != 0 {
			t.Fatalf("run: %d %v\n%s", code, err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
	if g := greet(); g != "hello" {
		t.Fatalf("before the hotfix: %q", g)
	}
	lockBefore, _ := os.ReadFile(m.Layout().ReleaseLock(name, "r1"))
	st, err := m.Hotfix(ctx, name, []string{"greetpkg @ git+file://" + repo + "@fix-123"})
	if err != nil {
		t.Fatal(err)
	}
	if g := greet(); g != "hello, fixed" {
		t.Fatalf("after the hotfix: %q", g)
	}
	lockAfter, _ := os.ReadFile(m.Layout().ReleaseLock(name, st.Current))
	if !strings.Contains(string(lockAfter), "fix-123") || !strings.Contains(string(lockBefore), "version = '1.16.0'") || !strings.Contains(string(lockAfter), "version = '1.16.0'") {
		t.Fatalf("locks:\n%s\n---\n%s", lockBefore, lockAfter)
	}
	if _, err := m.Rollback(ctx, name, ""); err != nil {
		t.Fatal(err)
	}
	if g := greet(); g != "hello" {
		t.Fatalf("after rollback: %q", g)
	}
}

// TestSameNameInAnotherRootIsRefusedAndUntouched: user names are per
// host, so a second root cannot create an instance of a name another root
// has — and undoing that failed create must not remove the other's user.
func TestSameNameInAnotherRootIsRefusedAndUntouched(t *testing.T) {
	f, _, name, st := withInstance(t, "tr", "1")
	ctx := context.Background()
	opts := f.options()
	opts.Root = f.root + "2"
	t.Cleanup(func() { os.RemoveAll(opts.Root) })
	m2, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Create(ctx, name, f.spec(t, "1")); err == nil {
		t.Fatal("second root created an instance of a name the first root has")
	}
	if _, err := user.Lookup(st.User); err != nil {
		t.Fatalf("the first root's user was removed: %v", err)
	}
	if a := get(t, st.Ports["web"]); a.Instance != name {
		t.Fatalf("first root's instance disturbed: %+v", a)
	}
}

// TestUpgradesKeepLastReleasesAndDropNoRequest upgrades under load with
// the built-in supervisor: no request fails (the socket is handed over),
// and only the newest KeepReleases releases are kept.
func TestUpgradesKeepLastReleasesAndDropNoRequest(t *testing.T) {
	f := newFixture(t)
	opts := f.options()
	opts.KeepReleases = 2
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := randomName("tl")
	cleanup(t, m, name)
	st, err := m.Create(ctx, name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	stop := testenv.HTTPLoad(t, st.Ports["web"], 3, 2*time.Millisecond)
	for v := 2; v <= 4; v++ {
		if st, err = m.Upgrade(ctx, name, f.spec(t, fmt.Sprint(v))); err != nil {
			t.Fatal(err)
		}
	}
	ok, failed := stop()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d requests failed during three upgrades (%d ok)", failed, ok)
	}
	t.Logf("%d requests during three upgrades, none failed", ok)
	ents, _ := os.ReadDir(m.Layout().ReleasesDir(name))
	var ids []string
	for _, e := range ents {
		ids = append(ids, e.Name())
	}
	if st.Current != "r4" || len(st.Releases) != 2 || strings.Join(ids, ",") != "r3,r4" {
		t.Fatalf("releases kept: record %+v, dirs %v", st.Releases, ids)
	}
	if _, err := m.Rollback(ctx, name, "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to a pruned release: %v", err)
	}
}

// TestUpgradeWhoseServiceDoesNotComeUpRollsBack: the new release's web
// process dies at start, so its health check fails; the upgrade is
// rolled back and the old release goes on serving.
func TestUpgradeWhoseServiceDoesNotComeUpRollsBack(t *testing.T) {
	_, err := upgradeToBrokenRelease(t, "th", 5*time.Second, "import sys; sys.exit('broken release')")
	var se *StepError
	if !errors.As(err, &se) || !se.RolledBack || (se.Step != "restart" && se.Step != "health") {
		t.Fatalf("upgrade to a broken release: %v", err)
	}
}

// upgradeToBrokenRelease creates an instance, upgrades it to a release
// whose web component runs `python -c code`, and checks that the old
// release is current and serving afterwards. It returns how long the
// upgrade took and its error.
func upgradeToBrokenRelease(t *testing.T, prefix string, healthTimeout time.Duration, code string) (time.Duration, error) {
	t.Helper()
	f := newFixture(t)
	opts := f.options()
	opts.HealthTimeout = healthTimeout
	m, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := randomName(prefix)
	cleanup(t, m, name)
	st, err := m.Create(ctx, name, f.spec(t, "1"))
	if err != nil {
		t.Fatal(err)
	}
	broken := f.spec(t, "2")
	svc := broken.Services["web"]
	svc.Command = []string{"python", "-c", code}
	broken.Services["web"] = svc
	start := time.Now()
	_, uerr := m.Upgrade(ctx, name, broken)
	took := time.Since(start)
	after, err := m.Status(ctx, name)
	if err != nil || after.Current != "r1" {
		t.Fatalf("after the failed upgrade: %+v %v", after, err)
	}
	if a := get(t, st.Ports["web"]); a.Version != "1" {
		t.Fatalf("old release not serving: %+v", a)
	}
	return took, uerr
}

// TestUpgradeThatAddsAListeningServiceGetsItAPort: ports are allocated at
// create, and an upgrade whose spec adds a listening service must allocate
// one for it (keeping the existing ones) instead of failing on {port}.
func TestUpgradeThatAddsAListeningServiceGetsItAPort(t *testing.T) {
	f, m, name, st := withInstance(t, "tp", "1")
	ctx := context.Background()
	spec := f.spec(t, "2")
	extra := fmt.Sprintf("[services.api]\ncommand = [\"python\", %q]\nlisten = true\n", filepath.Join(f.specDir, "server.py"))
	b, err := os.ReadFile(spec.File)
	if err != nil {
		t.Fatal(err)
	}
	// A spec file of another name: the upgrade records it, and a later
	// plain upgrade reads it again.
	spec2 := filepath.Join(f.specDir, "app2.toml")
	if err := os.WriteFile(spec2, append(b, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	if spec, err = LoadSpec(spec2); err != nil {
		t.Fatal(err)
	}
	up, err := m.Upgrade(ctx, name, spec)
	if err != nil {
		t.Fatal(err)
	}
	if up.Ports["web"] != st.Ports["web"] || up.Ports["api"] == 0 || up.Ports["api"] == up.Ports["web"] {
		t.Fatalf("ports after the upgrade: %v (before: %v)", up.Ports, st.Ports)
	}
	if a := get(t, up.Ports["api"]); a.Instance != name || a.Version != "2" {
		t.Fatalf("the new service does not serve: %+v", a)
	}
	if a := get(t, up.Ports["web"]); a.Version != "2" {
		t.Fatalf("web after the upgrade: %+v", a)
	}
	if up.SpecFile != spec2 {
		t.Fatalf("upgrade --spec %s recorded spec_file %q", spec2, up.SpecFile)
	}
	// What `deploykit upgrade NAME` (no --spec) does: the recorded file.
	last, err := LoadSpec(up.SpecFile)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Upgrade(ctx, name, last)
	if err != nil {
		t.Fatal(err)
	}
	if a := get(t, again.Ports["api"]); a.Instance != name {
		t.Fatalf("a plain upgrade after upgrade --spec dropped the new service: %+v", a)
	}
}

// TestWrongDatabaseServerIsRefusedBeforeAnyChange: an instance created
// with a database URL, removed or upgraded by a Manager without it, is
// refused (ErrOtherServer) and left serving, its database intact.
func TestWrongDatabaseServerIsRefusedBeforeAnyChange(t *testing.T) {
	f, _, name, st := withInstance(t, "tw", "1")
	ctx := context.Background()
	if st.DatabaseServer == "" || st.DatabaseServer == "embedded" {
		t.Fatalf("database server recorded as %q", st.DatabaseServer)
	}
	opts := f.options()
	opts.DatabaseURL = ""
	other, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Remove(ctx, name, RemoveOptions{}); !errors.Is(err, ErrOtherServer) {
		t.Fatalf("remove with the wrong server: %v", err)
	}
	if _, err := other.Upgrade(ctx, name, f.spec(t, "2")); !errors.Is(err, ErrOtherServer) {
		t.Fatalf("upgrade with the wrong server: %v", err)
	}
	if _, err := os.Stat(other.Layout().PostgresDir()); !os.IsNotExist(err) {
		t.Fatal("an embedded cluster was made for an instance whose database is elsewhere")
	}
	if a := get(t, st.Ports["web"]); a.Instance != name || a.Version != "1" {
		t.Fatalf("instance disturbed: %+v", a)
	}
}

// TestUpgradeWhoseServiceCrashLoopsFailsFast: a new release whose web
// component starts and then keeps dying is given up on as soon as the
// service controller declares it failed, not at the end of the health
// timeout, and the old release serves again.
func TestUpgradeWhoseServiceCrashLoopsFailsFast(t *testing.T) {
	const timeout = 90 * time.Second
	took, err := upgradeToBrokenRelease(t, "tc", timeout, "import time, sys; time.sleep(0.3); sys.exit('dies after starting')")
	var se *StepError
	if !errors.As(err, &se) || !se.RolledBack {
		t.Fatalf("upgrade to a crash-looping release: %v", err)
	}
	t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
	if took > timeout/2 {
		t.Fatalf("a crash-looping release took %v to fail (health timeout %v)", took, timeout)
	}
}
