package schema

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deploykit/deploykit/internal/pgtest"
)

func TestProvisionMigrateRemoveAreIdempotent(t *testing.T) {
	ctx := context.Background()
	ti := newInstance(t, "prod")
	admin := pgtest.Get(t).Connect(t)

	r1 := ti.provision(t)
	if !r1.Created || r1.Role != ti.names.Role || r1.Database != ti.names.Database || len(r1.Password) != 32 {
		t.Fatalf("first Provision: %+v", r1)
	}
	if strings.Contains(r1.String(), r1.Password) {
		t.Fatal("Result.String shows the password")
	}
	fi, err := os.Stat(ti.secrets)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v %v", fi, err)
	}
	var verifier1 string
	if err := admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", ti.names.Role).Scan(&verifier1); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(verifier1, "SCRAM-SHA-256$") {
		t.Fatalf("stored password is not a SCRAM verifier: %.20s…", verifier1)
	}

	r2 := ti.provision(t)
	if r2.Created || r2.Password != r1.Password {
		t.Fatalf("second Provision: created=%v, password changed=%v", r2.Created, r2.Password != r1.Password)
	}
	var verifier2 string
	admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", ti.names.Role).Scan(&verifier2)
	if verifier1 != verifier2 {
		t.Fatal("second Provision rewrote the password")
	}

	// Owner, ACL, public schema.
	var owner, acl string
	if err := admin.QueryRow(ctx, "SELECT pg_get_userbyid(datdba), datacl::text FROM pg_database WHERE datname = $1", ti.names.Database).Scan(&owner, &acl); err != nil {
		t.Fatal(err)
	}
	if owner != ti.names.Role || strings.Contains(acl, "{=") || strings.Contains(acl, ",=") {
		t.Fatalf("database owner %s, acl %s (PUBLIC must have nothing)", owner, acl)
	}
	c := ti.connect(t, r1.Password)
	var schemaOwner string
	if err := c.QueryRow(ctx, "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public'").Scan(&schemaOwner); err != nil {
		t.Fatal(err)
	}
	if schemaOwner != ti.names.Role {
		t.Fatalf("public schema owned by %s", schemaOwner)
	}

	// Migrate twice.
	migs := load(t, writeMigrations(t, map[string]string{
		"0001_users.sql": "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\n",
		"0002_seed.sql":  "INSERT INTO users (name) VALUES ('alice'), ('bob');\n",
		"README":         "not a migration",
	}))
	cfg := ti.config(t, r1.Password)
	res, err := Migrate(ctx, cfg, migs, MigrateOptions{})
	if err != nil || len(res.Applied) != 2 {
		t.Fatalf("first Migrate: %+v %v", res, err)
	}
	res, err = Migrate(ctx, cfg, migs, MigrateOptions{})
	if err != nil || len(res.Applied) != 0 {
		t.Fatalf("second Migrate: %+v %v", res, err)
	}
	var n int
	var tableOwner string
	c.QueryRow(ctx, "SELECT count(*), (SELECT tableowner FROM pg_tables WHERE tablename = 'users') FROM users").Scan(&n, &tableOwner)
	if n != 2 || tableOwner != ti.names.Role {
		t.Fatalf("after two Migrates: %d users, table owner %s", n, tableOwner)
	}
	sts, err := Status(ctx, cfg, migs, MigrateOptions{})
	if err != nil || len(sts) != 2 || !sts[0].Applied || !sts[1].Applied || sts[1].AppliedAt.IsZero() {
		t.Fatalf("Status: %+v %v", sts, err)
	}
	c.Close(ctx)

	// Remove needs the confirmation, then runs twice fine.
	if err := Remove(ctx, ti.admin, ti.names, RemoveOptions{}); !errors.Is(err, ErrNotConfirmed) {
		t.Fatalf("Remove without Confirm: %v", err)
	}
	// A session of the instance is open: Remove ends it.
	open := ti.connect(t, r1.Password)
	for i := 0; i < 2; i++ {
		if err := Remove(ctx, ti.admin, ti.names, RemoveOptions{Confirm: ti.names.Database, SecretsFile: ti.secrets}); err != nil {
			t.Fatalf("Remove #%d: %v", i+1, err)
		}
	}
	if err := open.Ping(ctx); err == nil {
		t.Error("the instance's session survived Remove")
	}
	var roles, dbs int
	admin.QueryRow(ctx, "SELECT (SELECT count(*) FROM pg_roles WHERE rolname = $1), (SELECT count(*) FROM pg_database WHERE datname = $1)", ti.names.Role).Scan(&roles, &dbs)
	if roles != 0 || dbs != 0 {
		t.Fatalf("after Remove: %d roles, %d databases", roles, dbs)
	}
	if _, err := os.Stat(ti.secrets); !os.IsNotExist(err) {
		t.Fatalf("secrets file after Remove: %v", err)
	}
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Two instances on one server: neither role reaches the other's database,
// and PUBLIC reaches neither.
func TestInstancesAreIsolatedInPostgres(t *testing.T) {
	ctx := context.Background()
	a, b := newInstance(t, "a"), newInstance(t, "b")
	ra, rb := a.provision(t), b.provision(t)
	bconn := b.connect(t, rb.Password)
	if _, err := bconn.Exec(ctx, "CREATE TABLE secrets (v text); INSERT INTO secrets VALUES ('b only')"); err != nil {
		t.Fatal(err)
	}

	// A's credentials on B's database: refused at CONNECT.
	cross := a.config(t, ra.Password)
	cross.Database = b.names.Database
	if c, err := pgx.ConnectConfig(ctx, cross); err == nil {
		c.Close(ctx)
		t.Fatal("A's role connected to B's database")
	} else if pgCode(err) != "42501" {
		t.Fatalf("A on B's database: %v, want insufficient_privilege (42501)", err)
	}

	// A plain login role (only PUBLIC's rights) reaches neither database.
	srv := pgtest.Get(t)
	admin := srv.Connect(t)
	outsider := pgtest.RandomName("outsider_")
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'outsider-pw-123'", outsider)); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP ROLE "+outsider)
	for _, ti := range []*testInstance{a, b} {
		cfg := ti.config(t, "outsider-pw-123")
		cfg.User = outsider
		if c, err := pgx.ConnectConfig(ctx, cfg); err == nil {
			c.Close(ctx)
			t.Fatalf("PUBLIC connected to %s", ti.names.Database)
		} else if pgCode(err) != "42501" {
			t.Fatalf("outsider on %s: %v, want 42501", ti.names.Database, err)
		}
	}

	// Past the connection barrier (the admin lends A its identity inside
	// B's database): A still cannot read B's tables or create objects there.
	inB, err := pgx.ConnectConfig(ctx, func() *pgx.ConnConfig { c := srv.ConnConfig(t); c.Database = b.names.Database; return c }())
	if err != nil {
		t.Fatal(err)
	}
	defer inB.Close(ctx)
	if _, err := inB.Exec(ctx, "SET ROLE "+quote(a.names.Role)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT * FROM public.secrets",
		"CREATE TABLE public.planted (x int)",
		"CREATE SCHEMA planted",
		"CREATE TEMPORARY TABLE planted (x int)",
		"INSERT INTO public.secrets VALUES ('from a')",
	} {
		if _, err := inB.Exec(ctx, q); pgCode(err) != "42501" {
			t.Errorf("as A in B's database, %q: %v, want permission denied", q, err)
		}
	}
	var can bool
	admin.QueryRow(ctx, "SELECT has_database_privilege($1, $2, 'CONNECT') OR has_database_privilege($1, $2, 'TEMPORARY')", a.names.Role, b.names.Database).Scan(&can)
	if can {
		t.Error("A has CONNECT or TEMPORARY on B's database")
	}
}

func TestProvisionRefusesConflictsAndLeavesNothing(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Get(t)
	admin := srv.Connect(t)

	// A database of the instance's name owned by someone else.
	ti := newInstance(t, "taken")
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+quote(ti.names.Database)); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quote(ti.names.Database))
	_, err := Provision(ctx, ti.admin, Spec{Names: ti.names, SecretsFile: ti.secrets})
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "owned by") {
		t.Fatalf("Provision over a foreign database: %v, want ErrConflict", err)
	}
	var roles int
	admin.QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = $1", ti.names.Role).Scan(&roles)
	if _, serr := os.Stat(ti.secrets); roles != 0 || !os.IsNotExist(serr) {
		t.Fatalf("half-provisioned: %d roles, secrets file %v", roles, serr)
	}
	if err := Remove(ctx, ti.admin, ti.names, RemoveOptions{Confirm: ti.names.Database}); !errors.Is(err, ErrConflict) {
		t.Fatalf("Remove of a foreign database: %v, want ErrConflict", err)
	}

	// A role of the instance's name that deploykit did not make, or with
	// powers an instance must not have.
	for _, attrs := range []string{"LOGIN", "LOGIN CREATEDB"} {
		ti := newInstance(t, "squat")
		if _, err := admin.Exec(ctx, "CREATE ROLE "+quote(ti.names.Role)+" "+attrs); err != nil {
			t.Fatal(err)
		}
		if attrs != "LOGIN" {
			admin.Exec(ctx, "COMMENT ON ROLE "+quote(ti.names.Role)+" IS "+quoteLiteral(marker(ti.names)))
		}
		_, err := Provision(ctx, ti.admin, Spec{Names: ti.names, SecretsFile: ti.secrets})
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("Provision over a role %s: %v, want ErrConflict", attrs, err)
		}
		if _, serr := os.Stat(ti.secrets); !os.IsNotExist(serr) {
			t.Fatal("secrets written despite the conflict")
		}
		admin.Exec(ctx, "DROP ROLE "+quote(ti.names.Role))
	}

	// Invalid names never reach the server.
	bad := ti.names
	bad.Instance = "Bad_Name"
	if _, err := Provision(ctx, ti.admin, Spec{Names: bad, SecretsFile: ti.secrets}); err == nil || !strings.Contains(err.Error(), "invalid instance name") {
		t.Fatalf("invalid name: %v", err)
	}
}

func TestProvisionReportsServerProblems(t *testing.T) {
	ctx := context.Background()
	srv, cfg := tcpAdmin(t)
	ti := newInstanceOn(t, srv, "x")

	// Wrong admin password.
	wrong := cfg.Copy()
	wrong.Password = "not-the-password"
	_, err := Provision(ctx, wrong, Spec{Names: ti.names, SecretsFile: ti.secrets})
	var ce *ConnectError
	if !errors.Is(err, ErrConnect) || !errors.Is(err, ErrAuth) || !errors.As(err, &ce) || strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("wrong admin password: %v, want ErrConnect+ErrAuth without the password", err)
	}

	// Unreachable server: a port nobody listens on.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	down := cfg.Copy()
	down.Port = uint16(port)
	down.ConnectTimeout = 0
	if _, err := Provision(ctx, down, Spec{Names: ti.names, SecretsFile: ti.secrets}); !errors.Is(err, ErrConnect) || errors.Is(err, ErrAuth) {
		t.Fatalf("unreachable server: %v, want ErrConnect", err)
	}

	// An admin role that may not create roles or databases.
	admin := srv.Connect(t)
	weak := pgtest.RandomName("weak_")
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'weak-password-1'; GRANT CONNECT ON DATABASE postgres TO %[1]s", weak)); err != nil {
		t.Fatal(err)
	}
	defer admin.Exec(ctx, "DROP OWNED BY "+weak+"; DROP ROLE "+weak)
	w := cfg.Copy()
	w.User, w.Password = weak, "weak-password-1"
	if _, err := Provision(ctx, w, Spec{Names: ti.names, SecretsFile: ti.secrets}); !errors.Is(err, ErrAdminPrivileges) {
		t.Fatalf("weak admin: %v, want ErrAdminPrivileges", err)
	}
	if _, serr := os.Stat(ti.secrets); !os.IsNotExist(serr) {
		t.Fatal("secrets written for a refused admin")
	}
}

// A non-superuser admin with CREATEROLE and CREATEDB (a managed database
// service's usual grant) provisions and removes too.
func TestProvisionWithNonSuperuserAdmin(t *testing.T) {
	ctx := context.Background()
	srv, cfg := tcpAdmin(t)
	admin := srv.Connect(t)
	mgr := pgtest.RandomName("mgr_")
	// The embedded cluster closes its postgres database to PUBLIC; a
	// managed service's admin is let in explicitly.
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE CREATEDB PASSWORD 'manager-password-1'; GRANT CONNECT ON DATABASE postgres TO %[1]s", mgr)); err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = mgr, "manager-password-1"
	ti := newInstanceOn(t, srv, "managed")
	ti.admin = cfg
	r := ti.provision(t)
	ti.provision(t)
	c := ti.connect(t, r.Password)
	if _, err := c.Exec(ctx, "CREATE TABLE t (x int)"); err != nil {
		t.Fatalf("instance cannot create in its public schema: %v", err)
	}
	c.Close(ctx)
	if err := Remove(ctx, cfg, ti.names, RemoveOptions{Confirm: ti.names.Database}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "DROP OWNED BY "+mgr+"; DROP ROLE "+mgr); err != nil {
		t.Fatal(err)
	}
}

// tcpAdmin returns a server reachable over TCP with a password and its
// admin configuration over TCP: the external server when its URL is TCP,
// else the throwaway cluster (an external server on a Unix socket has no
// TCP to offer).
func tcpAdmin(t *testing.T) (*pgtest.Server, *pgx.ConnConfig) {
	t.Helper()
	if srv := pgtest.Get(t); !srv.Local() {
		if cfg := srv.ConnConfig(t); !strings.HasPrefix(cfg.Host, "/") {
			return srv, cfg
		}
	}
	srv := pgtest.Local(t)
	tcp, err := srv.Cluster.AdminTCPURL()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(tcp)
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

func TestInstanceConnInfo(t *testing.T) {
	admin, _ := pgx.ParseConfig("postgres://postgres@/postgres?host=/srv/dk/postgres/run&port=5433")
	ti := &testInstance{}
	ti.names.Role, ti.names.Database = "dk-prod", "dk-prod"
	peer, err := InstanceConnInfo(admin, ti.names, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := peer.URL(); got != "postgres://dk-prod@/dk-prod?host=%2Fsrv%2Fdk%2Fpostgres%2Frun&port=5433" || !peer.Peer() {
		t.Fatalf("peer URL %s", got)
	}
	pw, err := InstanceConnInfo(admin, ti.names, "s3cret", false)
	if err != nil {
		t.Fatal(err)
	}
	if pw.URL() != "postgres://dk-prod:s3cret@127.0.0.1:5433/dk-prod" || strings.Contains(pw.String(), "s3cret") {
		t.Fatalf("password URL %s / %s", pw.URL(), pw.String())
	}
	if cfg, err := pw.Config(); err != nil || cfg.Host != "127.0.0.1" || cfg.Database != "dk-prod" || cfg.Password != "s3cret" {
		t.Fatalf("Config: %+v %v", cfg, err)
	}
	remote, _ := pgx.ParseConfig("postgres://admin:x@db.example:6543/postgres")
	if _, err := InstanceConnInfo(remote, ti.names, "", true); err == nil {
		t.Fatal("peer over TCP accepted")
	}
	if ci, _ := InstanceConnInfo(remote, ti.names, "p", false); ci.Host != "db.example" || ci.Port != 6543 {
		t.Fatalf("remote: %+v", ci)
	}
}
