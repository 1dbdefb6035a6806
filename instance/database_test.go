package instance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

// The embedded cluster's unit, as deploykit renders it for a real cluster,
// passes systemd-analyze verify and scores at most 2.0 in its security
// review, like every instance's unit (services/systemd). The cluster's
// running under it is TestEmbeddedClusterUnderSystemdInAContainer in
// examples/deploykit.
func TestEmbeddedClusterUnitPassesAnalyzers(t *testing.T) {
	ctx := context.Background()
	// The server's user must reach the cluster: not t.TempDir, whose
	// parent is 0700.
	root, err := os.MkdirTemp("", "dkunit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	c, err := pgcluster.New(pgcluster.Options{Dir: filepath.Join(root, "postgres"), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		testenv.Skip(t, "PostgreSQL cluster: %v", err)
	}
	comp, err := clusterUnit(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	units, err := systemd.Render(clusterInstance, []services.Component{comp})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, u := range units {
		files[u.Name] = u.Content
	}
	testenv.AnalyzeUnits(t, files, 2.0)
}

// An upgrade that gives an instance a database and then fails, or is
// killed before its commit, drops that database again: the record goes
// back to one without a database, and remove drops only what the record
// names, so the role and database would otherwise be left for good.
func TestUpgradeGainingADatabaseUndoneDropsIt(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("tj")
	cleanup(t, m, name)
	specPath := filepath.Join(f.specDir, "app.toml")
	without := fmt.Sprintf("name = \"testapp\"\npython = \">=3.8\"\nrequirements = [\"requirements.txt\"]\n[env]\nAPP_VERSION = \"1\"\n[services.web]\ncommand = [\"python\", %q]\nlisten = true\n", filepath.Join(f.specDir, "server.py"))
	if err := os.WriteFile(specPath, []byte(without), 0o644); err != nil {
		t.Fatal(err)
	}
	spec, err := LoadSpec(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(ctx, name, spec); err != nil {
		t.Fatal(err)
	}
	admin := pgtest.Get(t).Connect(t)
	noDatabase := func(t *testing.T) {
		t.Helper()
		var n int
		if err := admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1) + (SELECT count(*) FROM pg_database WHERE datname = $1)", "dk-"+name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("the upgrade was undone but its role or database is left")
		}
		if env, err := os.ReadFile(m.Layout().EnvFile(name)); err == nil && strings.Contains(string(env), "DATABASE_URL") {
			t.Errorf("the env file still names the dropped database:\n%s", env)
		}
		if rec, err := readState(m.Layout(), name); err != nil || rec.Database != "" {
			t.Fatalf("record %+v %v", rec, err)
		}
	}

	// Failed in process: a migration that does not parse.
	bad := filepath.Join(f.specDir, "migrations", "0002_bad.sql")
	if err := os.WriteFile(bad, []byte("CREATE TABLE (;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Upgrade(ctx, name, f.spec(t, "2")); err == nil {
		t.Fatal("an upgrade with a broken migration succeeded")
	}
	noDatabase(t)
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}

	// Killed after the health check, before the commit.
	f.spec(t, "3")
	if err := runKilled(f, "upgrade", name, specPath, "health:done"); err != nil {
		t.Fatal(err)
	}
	if st, err := m.Status(ctx, name); err != nil || st.Recovered == nil {
		t.Fatalf("status %+v %v", st, err)
	}
	noDatabase(t)

	// And an upgrade that succeeds keeps it.
	up, err := m.Upgrade(ctx, name, f.spec(t, "4"))
	if err != nil {
		t.Fatal(err)
	}
	if up.Database != "dk-"+name {
		t.Fatalf("record after the upgrade: %+v", up)
	}
}
