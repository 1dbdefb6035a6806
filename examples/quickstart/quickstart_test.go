package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/instance"
	"github.com/deploykit/deploykit/internal/nspawn"
	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/testenv"
)

func TestMain(m *testing.M) {
	// The built-in supervisor re-executes the test binary as its daemon.
	if handled, err := instance.SupervisorMain(context.Background(), os.Args[1:], nil); handled {
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	pgtest.Main(m)
}

// TestQuickstartRunsEndToEnd runs the whole quickstart as `go run
// ./examples/quickstart` does: two instances on the embedded cluster,
// HTTP, backup, restore, hotfix, rollback, cleanup.
func TestQuickstartRunsEndToEnd(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.SystemPython(t)
	var out strings.Builder
	// Unix users and roles are per host: names no one else uses.
	suffix := pgtest.RandomName("")[:6]
	cfg := config{services: "supervise", prod: "qsp" + suffix, stage: "qss" + suffix}
	err := run(context.Background(), cfg, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"create " + cfg.prod, "both instances answer HTTP", "restore production's backup into staging", "hotfix staging", "roll staging back", "all steps passed", "clean up"} {
		if !strings.Contains(out.String(), "==> "+step) && !strings.Contains(out.String(), step) {
			t.Errorf("output lacks %q", step)
		}
	}
}

// TestQuickstartUnderSystemdInAContainer runs the quickstart binary, flags
// as a user would give them (none), on a host whose PID 1 is systemd: a
// systemd-nspawn container. The embedded cluster and the instances run as
// units, and nothing is left behind.
func TestQuickstartUnderSystemdInAContainer(t *testing.T) {
	testenv.NeedRoot(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	c := nspawn.Start(t, nspawn.Options{Binds: []nspawn.Bind{{Host: dir, Container: "/opt/qs", ReadOnly: true}}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := c.Exec(ctx, "/opt/qs/quickstart")
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "all steps passed") || !strings.Contains(string(out), "(services: systemd)") {
		t.Fatalf("quickstart under systemd: %v", err)
	}
	sh := func(script string) string {
		out, err := c.Exec(ctx, "sh", "-c", script)
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, unit := range []string{"deploykit-pg_embedded-postgres.service", "deploykit-production-web.service", "deploykit-staging-web.service"} {
		if sh("journalctl -q -o cat -u "+unit+" | wc -l") == "0" {
			t.Errorf("%s never ran", unit)
		}
	}
	if left := sh("ls /etc/systemd/system | grep deploykit- ; ls -d /var/lib/deploykit-quickstart-* 2>/dev/null; true"); left != "" {
		t.Errorf("left behind: %s", left)
	}
}

// TestDemoWheelsInstallWithPip checks the wheels built in Go against pip,
// the reference installer: they install, the console scripts exist, and
// the package imports with its dependency.
func TestDemoWheelsInstallWithPip(t *testing.T) {
	py := testenv.PythonMinor(t, "3.11")
	dir := t.TempDir()
	if err := writeApp(dir); err != nil {
		t.Fatal(err)
	}
	v := filepath.Join(dir, "venv")
	if out, err := exec.Command(py.Path, "-m", "venv", v).CombinedOutput(); err != nil {
		t.Fatalf("venv: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(v, "bin", "pip"), "install", "--no-index", "-r", filepath.Join(dir, "requirements.txt")).CombinedOutput()
	if err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	out, err = exec.Command(filepath.Join(v, "bin", "python"), "-c", "import demoapp, greeting; print(demoapp.__version__, greeting.hello('x'))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1.0.0 Hello from x!" {
		t.Fatalf("import: %v %q", err, out)
	}
	for _, s := range []string{"demoapp", "demoapp-migrate"} {
		if _, err := os.Stat(filepath.Join(v, "bin", s)); err != nil {
			t.Errorf("console script %s: %v", s, err)
		}
	}
	if out, err := exec.Command(filepath.Join(v, "bin", "pip"), "check").CombinedOutput(); err != nil {
		t.Fatalf("pip check: %v\n%s", err, out)
	}
}

// TestDemoPGClientTalksToPostgres runs the demo's stdlib PostgreSQL client
// against a real server, over TCP with SCRAM-SHA-256.
func TestDemoPGClientTalksToPostgres(t *testing.T) {
	srv := pgtest.Get(t)
	py := testenv.SystemPython(t)
	db := srv.CreateDatabase(t)
	ctx := context.Background()
	conn := srv.Connect(t)
	role := pgtest.RandomName("demo_")
	if _, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN PASSWORD 'sekr''et'"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Connect(t).Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()) })
	if _, err := conn.Exec(ctx, "GRANT ALL ON DATABASE "+pgx.Identifier{db}.Sanitize()+" TO "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	c2, err := pgx.ConnectConfig(ctx, func() *pgx.ConnConfig { c := srv.ConnConfig(t); c.Database = db; return c }())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Exec(ctx, "GRANT ALL ON SCHEMA public TO "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	c2.Close(ctx)
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "demoapp"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := sources.ReadFile("demoapp/demoapp/pg.py")
	os.WriteFile(filepath.Join(src, "demoapp", "pg.py"), b, 0o644)
	os.WriteFile(filepath.Join(src, "demoapp", "__init__.py"), nil, 0o644)
	host := "127.0.0.1"
	url := "postgresql://" + role + ":sekr%27et@" + host + ":" + strconv.Itoa(srv.Port) + "/" + db
	script := `
import sys
from demoapp import pg
c = pg.Connection(sys.argv[1])
c.query("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
c.query("INSERT INTO notes (body) VALUES (" + pg.literal("it's here") + ")")
print(c.query("SELECT body FROM notes")[0][0])
try:
    c.query("SELECT * FROM nope")
except pg.Error as e:
    print("error:", e)
c.close()
`
	cmd := exec.Command(py.Path, "-c", script, url)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "it's here\nerror: relation \"nope\" does not exist\n"
	if string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
}
