package schema

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/pgtest"
)

// Provision is a sequence of steps (secret, role, database, grants, public
// schema); a crash can stop it after any of them. Each interrupted state
// is built here by hand, and a rerun must converge to the full state.
func TestProvisionConvergesAfterInterruption(t *testing.T) {
	ctx := context.Background()
	admin := pgtest.Get(t).Connect(t)

	loginWorks := func(ti *testInstance, password string) {
		t.Helper()
		c, err := pgx.ConnectConfig(ctx, ti.config(t, password))
		if err != nil {
			t.Fatalf("login after convergence: %v", err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS probe (x int)"); err != nil {
			t.Fatalf("instance cannot create in its database: %v", err)
		}
	}

	t.Run("after the secret", func(t *testing.T) {
		ti := newInstance(t, "s1")
		pw, _ := pgcluster.RandomPassword()
		os.WriteFile(ti.secrets, []byte(pw+"\n"), 0o600)
		r := ti.provision(t)
		if r.Password != pw {
			t.Fatal("the secret written before the crash was not reused")
		}
		loginWorks(ti, pw)
	})

	t.Run("after the role", func(t *testing.T) {
		ti := newInstance(t, "s2")
		pw, _ := pgcluster.RandomPassword()
		os.WriteFile(ti.secrets, []byte(pw+"\n"), 0o600)
		v, _ := pgcluster.SCRAMVerifier(pw)
		admin.Exec(ctx, "CREATE ROLE "+quote(ti.names.Role)+" LOGIN PASSWORD "+quoteLiteral(v))
		admin.Exec(ctx, "COMMENT ON ROLE "+quote(ti.names.Role)+" IS "+quoteLiteral(marker(ti.names)))
		r := ti.provision(t)
		if !r.Created {
			t.Fatal("the missing database was not created")
		}
		loginWorks(ti, pw)
	})

	t.Run("after the database, before grants and comment", func(t *testing.T) {
		ti := newInstance(t, "s3")
		r := ti.provision(t)
		admin.Exec(ctx, "GRANT CONNECT ON DATABASE "+quote(ti.names.Database)+" TO PUBLIC")
		admin.Exec(ctx, "COMMENT ON DATABASE "+quote(ti.names.Database)+" IS NULL")
		ti.provision(t)
		var publicCan bool
		admin.QueryRow(ctx, "SELECT has_database_privilege('public', $1, 'CONNECT')", ti.names.Database).Scan(&publicCan)
		if publicCan {
			t.Fatal("PUBLIC's CONNECT survived the rerun")
		}
		loginWorks(ti, r.Password)
	})

	t.Run("secret lost", func(t *testing.T) {
		ti := newInstance(t, "s4")
		old := ti.provision(t)
		os.Remove(ti.secrets)
		r := ti.provision(t)
		if r.Password == old.Password {
			t.Fatal("a lost secret came back unchanged")
		}
		loginWorks(ti, r.Password)
		if c, err := pgx.ConnectConfig(ctx, ti.config(t, old.Password)); err == nil {
			c.Close(ctx)
			t.Fatal("the old password still works")
		}
	})

	t.Run("corrupt secret", func(t *testing.T) {
		ti := newInstance(t, "s5")
		os.WriteFile(ti.secrets, []byte("short\n"), 0o600)
		if _, err := Provision(ctx, ti.admin, Spec{Names: ti.names, SecretsFile: ti.secrets}); !errors.Is(err, ErrBadSecret) {
			t.Fatalf("a 5-character secret: %v, want ErrBadSecret", err)
		}
	})
}
