package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"golang.org/x/sys/unix"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/testenv"
)

// The end-to-end tests drive the deploykit binary as a user would: built
// here, on the embedded PostgreSQL cluster it creates, real interpreters,
// real Unix users, the real wheelhouse.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dkbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "deploykit")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type cli struct {
	t    *testing.T
	root string
	env  []string
}

// run runs deploykit with --root and returns stdout, stderr and the exit
// code.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.Command(binary, append([]string{"--root", c.root}, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("deploykit %v: %v", args, err)
	}
	return so.String(), se.String(), code
}

// ok runs deploykit and fails the test unless it exits 0.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	so, se, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("deploykit %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, so, se)
	}
	return so
}

// code runs deploykit and checks its exit code.
func (c *cli) code(want int, args ...string) string {
	c.t.Helper()
	so, se, code := c.run(args...)
	if code != want {
		c.t.Fatalf("deploykit %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, so, se)
	}
	return se
}

type statusJSON struct {
	Name     string         `json:"name"`
	Current  string         `json:"current"`
	User     string         `json:"user"`
	UID      int            `json:"uid"`
	Database string         `json:"database"`
	Ports    map[string]int `json:"ports"`
	Releases []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"releases"`
	Services []struct {
		Component string `json:"Component"`
		State     string `json:"State"`
	} `json:"services"`
}

func (c *cli) status(name string) statusJSON {
	c.t.Helper()
	var s statusJSON
	if err := json.Unmarshal([]byte(c.ok("status", name, "--json")), &s); err != nil {
		c.t.Fatal(err)
	}
	return s
}

func httpGet(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET :%d: %v", port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET :%d: %s: %s", port, resp.Status, b)
	}
	return string(b)
}

// newRoot makes a short root (socket paths are limited to 107 bytes)
// traversable by instance users, and stops its embedded cluster at the
// end of the test.
func newRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dke")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() {
		exec.Command(binary, "--root", filepath.Join(dir, "root"), "shutdown").Run()
		os.RemoveAll(dir)
	})
	return dir
}

// writeApp writes the test application (stdlib server, six from the
// wheelhouse, one migration) into dir/app and returns the spec path.
func writeApp(t *testing.T, dir, wheels, version string) string {
	t.Helper()
	app := filepath.Join(dir, "app")
	os.MkdirAll(filepath.Join(app, "migrations"), 0o755)
	src, err := os.ReadFile("../../instance/testdata/app/server.py")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"server.py":                 string(src),
		"requirements.txt":          "--no-index\n--find-links " + wheels + "\nsix\n",
		"migrations/0001_notes.sql": "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL);\n",
		"app.toml": fmt.Sprintf(`name = "e2eapp"
python = ">=3.8"
requirements = ["requirements.txt"]
[env]
APP_VERSION = %q
[database]
migrations = "migrations"
[services.web]
command = ["python", "%s/server.py"]
listen = true
`, version, app),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(app, "app.toml")
}

// closedToPublic checks that a plain role cannot connect to the embedded
// cluster's own databases (postgres, template1), as the cluster under
// the built-in supervisor or systemd is hardened like one pg_ctl starts.
func closedToPublic(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	pg, err := pgcluster.New(pgcluster.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pg.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := fmt.Sprintf("plain%d", os.Getpid()%100000)
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'plain-pw-1'"); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP ROLE "+role)
	for _, db := range []string{"postgres", "template1"} {
		u := fmt.Sprintf("postgres://%s:plain-pw-1@127.0.0.1:%d/%s?sslmode=disable", role, pg.Port(), db)
		if conn, err := pgx.Connect(ctx, u); err == nil {
			conn.Close(ctx)
			t.Errorf("a plain role connected to the embedded cluster's %s database", db)
		} else if !strings.Contains(err.Error(), "42501") {
			t.Errorf("a plain role on %s: %v, want 42501", db, err)
		}
	}
}

func TestCLIProductionAndStagingEndToEnd(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	testenv.Command(t, "psql")
	if _, err := pgcluster.FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "PostgreSQL server binaries: %v", err)
	}
	wh := testenv.GetWheelhouse(t)
	dir := newRoot(t)
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	spec := writeApp(t, dir, wh.Dir, "1")
	// Unix users and roles are per host: names no other run uses.
	sfx := fmt.Sprint(os.Getpid() % 100000)
	prod, stage := "e2ep"+sfx, "e2es"+sfx
	t.Cleanup(func() {
		c.run("remove", prod, "--yes", "--delete-backups")
		c.run("remove", stage, "--yes", "--delete-backups")
	})
	// Leftovers of an earlier, killed run of this test.
	c.run("remove", prod, "--yes")
	c.run("remove", stage, "--yes")

	start := time.Now()
	c.ok("create", prod, "--spec", spec)
	t.Logf("create (first, with the embedded cluster): %s", time.Since(start))
	start = time.Now()
	c.ok("create", stage, "--spec", spec)
	t.Logf("create (second instance of the spec): %s", time.Since(start))
	closedToPublic(t, filepath.Join(c.root, "postgres"))

	var list []struct{ Name string }
	if err := json.Unmarshal([]byte(c.ok("list", "--json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	p, s := c.status(prod), c.status(stage)
	if p.Ports["web"] == s.Ports["web"] || p.UID == s.UID || p.Database == s.Database || p.Current != "r1" {
		t.Fatalf("not separate: %+v %+v", p, s)
	}
	if len(p.Services) != 1 || p.Services[0].State != "active" {
		t.Fatalf("production services: %+v", p.Services)
	}
	if b := httpGet(t, p.Ports["web"]); !strings.Contains(b, `"instance": "`+prod+`"`) {
		t.Fatalf("production answered %s", b)
	}
	if b := httpGet(t, s.Ports["web"]); !strings.Contains(b, `"instance": "`+stage+`"`) {
		t.Fatalf("staging answered %s", b)
	}

	// A cannot read B: files and database.
	secret := filepath.Join(c.root, "instances", prod, "data", "secret")
	c.ok("run", prod, "--", "sh", "-c", "echo prod-only > "+secret)
	if so := c.ok("run", prod, "--", "cat", secret); strings.TrimSpace(so) != "prod-only" {
		t.Fatalf("production reads %q", so)
	}
	c.code(1, "run", stage, "--", "cat", secret)
	c.ok("run", stage, "--", "sh", "-c", `psql "$DATABASE_URL" -c "SELECT count(*) FROM notes"`)
	c.code(2, "run", stage, "--", "sh", "-c", `psql "$(echo "$DATABASE_URL" | sed "s,/`+"dk-"+stage+`?,/dk-`+prod+`?,")" -c "SELECT 1"`)
	c.ok("run", prod, "--", "sh", "-c", `psql "$DATABASE_URL" -c "INSERT INTO notes (body) VALUES ('from production')"`)

	// Exit codes: not found, usage, conflict.
	c.code(exitNotFound, "status", "nosuch")
	c.code(exitUsage, "restore", stage, "/nonexistent.dkb")
	c.code(exitUsage, "create", "Bad_Name", "--spec", spec)
	c.code(exitConflict, "create", prod, "--spec", spec)
	lk, err := os.OpenFile(filepath.Join(c.root, "instances", prod, ".lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lk.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if se := c.code(exitConflict, "restart", prod); !strings.Contains(se, "locked") {
		t.Fatalf("locked: %s", se)
	}
	lk.Close()

	// Upgrade with a failing migration: rolled back, still serving r1.
	bad := filepath.Join(dir, "app", "migrations", "0002_bad.sql")
	os.WriteFile(bad, []byte("ALTER TABLE nosuch ADD COLUMN x int;\n"), 0o644)
	writeApp(t, dir, wh.Dir, "2")
	if se := c.code(exitFailure, "upgrade", prod); !strings.Contains(se, "rolled back") {
		t.Fatalf("failed upgrade: %s", se)
	}
	if p := c.status(prod); p.Current != "r1" {
		t.Fatalf("after the failed upgrade: %s", p.Current)
	}
	if b := httpGet(t, p.Ports["web"]); !strings.Contains(b, `"version": "1"`) {
		t.Fatalf("not serving r1: %s", b)
	}
	os.Remove(bad)
	c.ok("upgrade", prod)
	if b := httpGet(t, p.Ports["web"]); !strings.Contains(b, `"version": "2"`) {
		t.Fatalf("after upgrade: %s", b)
	}

	// A release that adds a listening service, then a rollback from it:
	// each message names the services of the release now current only.
	before := c.status(prod).Current
	withAPI, _ := os.ReadFile(spec)
	withAPI = fmt.Appendf(withAPI, "[services.api]\ncommand = [\"python\", %q]\nlisten = true\n", filepath.Join(dir, "app", "server.py"))
	os.WriteFile(spec, withAPI, 0o644)
	if so := c.ok("upgrade", prod); !strings.Contains(so, "api on 127.0.0.1:") {
		t.Fatalf("upgrade adding a service: %s", so)
	}
	writeApp(t, dir, wh.Dir, "2") // the spec without it, for what follows
	if so := c.ok("rollback", prod); strings.Contains(so, "api") || !strings.Contains(so, "web on 127.0.0.1:") {
		t.Fatalf("rollback to a release without the service: %s", so)
	}
	if cur := c.status(prod).Current; cur != before {
		t.Fatalf("rolled back to %s, want %s", cur, before)
	}

	// Hotfix and rollback.
	c.ok("hotfix", stage, "six==1.16.0")
	if s := c.status(stage); s.Current != "r2" || s.Releases[1].Kind != "hotfix" {
		t.Fatalf("hotfix: %+v", s)
	}
	c.ok("rollback", stage)
	if s := c.status(stage); s.Current != "r1" {
		t.Fatalf("rollback: %+v", s)
	}

	// Backup → verify → restore → clone.
	archive := filepath.Join(dir, "prod.dkb")
	c.ok("backup", prod, "-o", archive)
	if so := c.ok("verify", archive, "--json"); !strings.Contains(so, `"instance": "`+prod+`"`) {
		t.Fatalf("verify: %s", so)
	}
	c.code(exitUsage, "restore", stage, archive)
	// Production's archive into staging needs --force as well as --yes.
	c.code(exitUsage, "restore", stage, archive, "--yes")
	c.ok("restore", stage, archive, "--yes", "--force")
	if so := c.ok("run", stage, "--", "sh", "-c", `psql -At "$DATABASE_URL" -c "SELECT body FROM notes"`); strings.TrimSpace(so) != "from production" {
		t.Fatalf("staging after restore: %q", so)
	}
	if so := c.ok("run", stage, "--", "cat", filepath.Join(c.root, "instances", stage, "data", "secret")); strings.TrimSpace(so) != "prod-only" {
		t.Fatalf("staging's restored data: %q", so)
	}
	c.ok("run", prod, "--", "sh", "-c", `psql "$DATABASE_URL" -c "INSERT INTO notes (body) VALUES ('second')"`)
	c.ok("clone", prod, stage, "--yes")
	if so := c.ok("run", stage, "--", "sh", "-c", `psql -At "$DATABASE_URL" -c "SELECT count(*) FROM notes"`); strings.TrimSpace(so) != "2" {
		t.Fatalf("staging after clone: %q", so)
	}
	if b := httpGet(t, s.Ports["web"]); !strings.Contains(b, `"instance": "`+stage+`"`) {
		t.Fatalf("staging after clone answered %s", b)
	}

	// Units render for an instance and for one not created yet.
	if so := c.ok("units", "preview", "--spec", spec); !strings.Contains(so, "deploykit-preview-web.service") {
		t.Fatalf("units: %s", so)
	}
	if so := c.ok("logs", prod, "web"); !strings.Contains(so, "serving") {
		t.Fatalf("logs: %q", so)
	}

	// Remove staging: nothing left but its backups.
	c.ok("backup", stage)
	c.ok("remove", stage, "--yes")
	if _, err := user.Lookup("dk-" + stage); err == nil {
		t.Error("staging's user survived")
	}
	pc, err := pgcluster.New(pgcluster.Options{Dir: filepath.Join(c.root, "postgres")})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pc.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	conn.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)", "dk-"+stage).Scan(&n)
	conn.Close(context.Background())
	if n != 0 {
		t.Error("staging's role or database survived")
	}
	if _, err := os.Stat(filepath.Join(c.root, "instances", stage)); !os.IsNotExist(err) {
		t.Error("staging's directory survived")
	}
	if ents, _ := os.ReadDir(filepath.Join(c.root, "backups", stage)); len(ents) == 0 {
		t.Error("staging's backups were not kept")
	}
	c.code(exitNotFound, "status", stage)
	if b := httpGet(t, p.Ports["web"]); !strings.Contains(b, prod) {
		t.Fatalf("production disturbed: %s", b)
	}
}

// TestCLIDjangoAppFromTheWheelhouse deploys a Django project served by
// gunicorn (socket activation) with psycopg2 against the instance's own
// database, all from the real wheelhouse, with Django's migrations as the
// migrate hook.
func TestCLIDjangoAppFromTheWheelhouse(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	if _, err := pgcluster.FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "PostgreSQL server binaries: %v", err)
	}
	wh := testenv.GetWheelhouse(t)
	dir := newRoot(t)
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	app := filepath.Join(dir, "app")
	files := map[string]string{
		"requirements.txt":   "--no-index\n--find-links " + wh.Dir + "\nDjango>=3.2,<4\ngunicorn\npsycopg2\n",
		"djdemo/__init__.py": "",
		"djdemo/wsgi.py":     "from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
		"djdemo/urls.py":     "from django.urls import path\nfrom . import views\nurlpatterns = [path('', views.index)]\n",
		"djdemo/views.py": `import os
from django.db import connection
from django.http import JsonResponse

def index(request):
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM django_migrations")
        n = c.fetchone()[0]
        c.execute("SELECT current_user, current_database()")
        user, db = c.fetchone()
    return JsonResponse({"instance": os.environ["DEPLOYKIT_INSTANCE"], "migrations": n, "user": user, "db": db})
`,
		"djdemo/settings.py": `import os
from urllib.parse import parse_qs, unquote, urlsplit

SECRET_KEY = "deploykit-e2e"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
ROOT_URLCONF = "djdemo.urls"
USE_TZ = True
_u = urlsplit(os.environ["DATABASE_URL"])
_q = parse_qs(_u.query)
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": unquote(_u.path.lstrip("/")),
    "USER": unquote(_u.username or ""),
    "PASSWORD": unquote(_u.password or ""),
    "HOST": _q.get("host", [_u.hostname or ""])[0],
    "PORT": _q.get("port", [str(_u.port or "")])[0],
}}
`,
		"app.toml": fmt.Sprintf(`name = "djdemo"
python = ">=3.11, <3.12"
requirements = ["requirements.txt"]
[env]
DJANGO_SETTINGS_MODULE = "djdemo.settings"
PYTHONPATH = %q
[database]
[hooks]
migrate = ["python", "-m", "django", "migrate", "--noinput"]
[services.web]
command = ["gunicorn", "djdemo.wsgi", "--workers", "2"]
listen = true
`, app),
	}
	for name, content := range files {
		p := filepath.Join(app, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("e2edj%d", os.Getpid()%100000)
	t.Cleanup(func() { c.run("remove", name, "--yes", "--delete-backups") })
	c.run("remove", name, "--yes")
	c.ok("create", name, "--spec", filepath.Join(app, "app.toml"))
	s := c.status(name)
	b := httpGet(t, s.Ports["web"])
	var got struct {
		Instance   string
		Migrations int
		User, DB   string
	}
	if err := json.Unmarshal([]byte(b), &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if got.Instance != name || got.Migrations < 10 || got.User != "dk-"+name || got.DB != "dk-"+name {
		t.Fatalf("django answered %+v", got)
	}
	// gunicorn runs as the instance's user.
	if so := c.ok("run", name, "--", "python", "-c", "import django, gunicorn, psycopg2; print(django.__version__)"); !strings.HasPrefix(so, "3.2") {
		t.Fatalf("django version %q", so)
	}
	c.ok("restart", name)
	httpGet(t, s.Ports["web"])
}

// TestCLILockSyncInstall drives the packaging commands on the real
// wheelhouse: lock, venv, sync (exactly the lock), install (pip-like:
// what is installed and fits is kept), and a conflict explained with
// exit 1.
func TestCLILockSyncInstall(t *testing.T) {
	py := testenv.SystemPython(t)
	wh := testenv.GetWheelhouse(t)
	dir := t.TempDir()
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	lockPath := filepath.Join(dir, "pylock.toml")
	v := filepath.Join(dir, "venv")
	c.ok("lock", "django>=3.2,<4", "--no-index", "-f", wh.Dir, "--python", py.Path, "-o", lockPath)
	b, err := os.ReadFile(lockPath)
	if err != nil || !strings.Contains(string(b), "name = 'django'") || !strings.Contains(string(b), "sha256 = ") {
		t.Fatalf("lock: %v\n%s", err, b)
	}
	// django, asgiref, sqlparse, pytz, and typing_extensions where the
	// wheelhouse's asgiref needs it (make-wheelhouse follows the machine's
	// Debian Depends): as many as the lock names.
	n := strings.Count(string(b), "[[packages]]")
	if n < 4 {
		t.Fatalf("lock of django names %d packages:\n%s", n, b)
	}
	c.ok("venv", v, "--python", py.Path)
	if so := c.ok("sync", "--venv", v, lockPath); !strings.Contains(so, fmt.Sprintf(" %d installed", n)) {
		t.Fatalf("sync: %s", so)
	}
	if so := c.ok("sync", "--venv", v, lockPath); !strings.Contains(so, fmt.Sprintf("0 installed, 0 removed, %d unchanged", n)) {
		t.Fatalf("second sync: %s", so)
	}
	if so := c.ok("install", "--venv", v, "djangorestframework", "--no-index", "-f", wh.Dir); strings.TrimSpace(so) != "Successfully installed djangorestframework-3.14.0" {
		t.Fatalf("install: %s", so)
	}
	if so := c.ok("install", "--venv", v, "django", "--no-index", "-f", wh.Dir); !strings.Contains(so, "already satisfied") {
		t.Fatalf("install of what is there: %s", so)
	}
	out, err := exec.Command(filepath.Join(v, "bin", "python"), "-c", "import django, rest_framework; print(django.__version__)").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "3.2.") {
		t.Fatalf("venv: %v %s", err, out)
	}
	// sync removes what the lock does not name.
	if so := c.ok("sync", "--venv", v, lockPath); !strings.Contains(so, "1 removed") {
		t.Fatalf("sync after install: %s", so)
	}
	if se := c.code(exitFailure, "lock", "django>=5", "--no-index", "-f", wh.Dir, "--python", py.Path); !strings.Contains(se, "Because") {
		t.Fatalf("conflict report: %s", se)
	}
	// lock --spec locks for the interpreter create would build with: as
	// root, one instance users can run (not pyenv's under /root).
	if os.Geteuid() == 0 {
		spec := filepath.Join(dir, "app.toml")
		if err := os.WriteFile(spec, []byte("name = \"lk\"\npython = \">=3.6\"\npackages = [\"six\"]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if so := c.ok("lock", "--spec", spec, "--no-index", "-f", wh.Dir); !strings.Contains(so, "requires-python = '=="+py.Version+"'") {
			t.Fatalf("lock --spec as root did not lock for %s (%s):\n%s", py.Path, py.Version, so)
		}
	}
}
