package schema

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testInstance is one provisioned-or-not instance on the test server, with
// a prefix of its own so tests sharing the server never collide.
type testInstance struct {
	names   account.Names
	secrets string
	admin   *pgx.ConnConfig
}

func newInstance(t *testing.T, name string) *testInstance {
	t.Helper()
	return newInstanceOn(t, pgtest.Get(t), name)
}

// newInstanceOn is newInstance on a given server.
func newInstanceOn(t *testing.T, srv *pgtest.Server, name string) *testInstance {
	t.Helper()
	prefix := pgtest.RandomName("t")[:6] + "-"
	names, err := account.NamesFor(prefix, name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ti := &testInstance{names: names, secrets: filepath.Join(dir, "database-password"), admin: srv.ConnConfig(t)}
	t.Cleanup(func() {
		err := Remove(context.Background(), srv.ConnConfig(t), names, RemoveOptions{Confirm: names.Database})
		if err != nil && !errors.Is(err, ErrConflict) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return ti
}

func (ti *testInstance) provision(t *testing.T) *Result {
	t.Helper()
	res, err := Provision(context.Background(), ti.admin, Spec{Names: ti.names, SecretsFile: ti.secrets})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// conn returns the instance's own password connection (TCP), as Migrate
// and a remote application would use it.
func (ti *testInstance) config(t *testing.T, password string) *pgx.ConnConfig {
	t.Helper()
	ci, err := InstanceConnInfo(ti.admin, ti.names, password, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ci.Config()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (ti *testInstance) connect(t *testing.T, password string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.ConnectConfig(ctx, ti.config(t, password))
	if err != nil {
		t.Fatalf("instance %s connecting to its database: %v", ti.names.Instance, err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

func writeMigrations(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, sql := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, dir string) []Migration {
	t.Helper()
	m, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
