package schema

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/pgtest"
	"github.com/deploykit/deploykit/internal/testenv"
)

// Real Unix users on the host (PostgreSQL resolves a peer's uid with the
// host's passwd), removed at the end: each instance's processes log in to
// their own database by peer authentication over the socket, and to no
// other; migration hooks run as the instance with its environment.
func TestPeerAuthenticationAndHooksAsInstanceUsers(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.Command(t, "useradd")
	ctx := context.Background()
	srv := pgtest.Local(t) // peer authentication: a cluster on this host
	bins, err := srv.Cluster.Binaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	psql := filepath.Join(bins.Dir, "psql")
	if _, err := os.Stat(psql); err != nil {
		testenv.Skip(t, "psql not found beside the server binaries: %v", err)
	}
	prefix := pgtest.RandomName("p")[:6] + "-"
	mgr, err := account.New(account.Options{Prefix: prefix, UIDMin: 62000, UIDMax: 62999})
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "dkpeer")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)

	type inst struct {
		acct    *account.Account
		secrets string
		res     *Result
	}
	insts := map[string]*inst{}
	for _, n := range []string{"a", "b"} {
		home := filepath.Join(base, n)
		acct, err := mgr.Ensure(ctx, n, home)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := mgr.Remove(context.Background(), n); err != nil {
				t.Errorf("removing user: %v", err)
			}
		})
		for _, d := range []string{"secrets", "data"} {
			os.MkdirAll(filepath.Join(home, d), 0o755)
		}
		secrets := filepath.Join(home, "secrets", "database-password")
		res, err := Provision(ctx, srv.ConnConfig(t), Spec{Names: acct.Names, SecretsFile: secrets, Owner: acct})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			Remove(context.Background(), srv.ConnConfig(t), acct.Names, RemoveOptions{Confirm: acct.Database})
		})
		if err := acct.Secure(ctx, account.Tree{Dir: home, Writable: []string{filepath.Join(home, "data")}, Secrets: filepath.Join(home, "secrets")}); err != nil {
			t.Fatal(err)
		}
		insts[n] = &inst{acct, secrets, res}
	}
	a, b := insts["a"], insts["b"]

	run := func(who *inst, argv ...string) (string, error) {
		cmd, err := who.acct.Command(ctx, argv, []string{"LC_ALL=C", "PGCONNECT_TIMEOUT=5"}, "/")
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	sql := func(who *inst, role, db string) (string, error) {
		return run(who, psql, "-X", "-w", "-At", "-h", srv.SocketDir, "-p", strconv.Itoa(srv.Port), "-U", role, "-d", db, "-c", "SELECT current_user")
	}
	if out, err := sql(a, a.acct.Role, a.acct.Database); err != nil || strings.TrimSpace(out) != a.acct.Role {
		t.Fatalf("A by peer to its own database: %v %s", err, out)
	}
	if out, err := sql(a, b.acct.Role, b.acct.Database); err == nil || !strings.Contains(out, "Peer authentication failed") {
		t.Fatalf("A as B's role: %v %s, want peer failure", err, out)
	}
	if out, err := sql(a, a.acct.Role, b.acct.Database); err == nil || !strings.Contains(out, "password") {
		t.Fatalf("A's role to B's database over the socket: %v %s, want a password demand", err, out)
	}
	if out, err := run(a, "cat", a.secrets); err != nil || strings.TrimSpace(out) != a.res.Password {
		t.Fatalf("A reading its secrets: %v", err)
	}
	if out, err := run(a, "cat", b.secrets); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("A reading B's secrets: %v %s, want EACCES", err, out)
	}

	// The migration hook: as A, with A's environment, over peer auth.
	ci, err := InstanceConnInfo(srv.ConnConfig(t), a.acct.Names, "", true)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	script := `id -un; echo "app=$APP_SETTING"; "$PSQL" -X -w -q "$DATABASE_URL" -c 'CREATE TABLE hooked (x int)'`
	env := []string{"DATABASE_URL=" + ci.URL(), "APP_SETTING=demo", "PSQL=" + psql}
	if err := RunHook(ctx, a.acct, []string{"sh", "-c", script}, env, filepath.Join(base, "a"), &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, a.acct.User+"\n") || !strings.Contains(got, "app=demo") {
		t.Fatalf("hook output %q", got)
	}
	var owner string
	cfg := srv.ConnConfig(t)
	cfg.Database = a.acct.Database
	admin, err := connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if err := admin.QueryRow(ctx, "SELECT tableowner FROM pg_tables WHERE tablename = 'hooked'").Scan(&owner); err != nil || owner != a.acct.Role {
		t.Fatalf("table made by the hook: owner %q, %v", owner, err)
	}
	err = RunHook(ctx, a.acct, []string{"sh", "-c", "echo doing; echo broken >&2; exit 3"}, env, "/", nil)
	var he *HookError
	if !errors.As(err, &he) || !errors.Is(err, ErrHookFailed) || !strings.Contains(he.Output, "broken") {
		t.Fatalf("failing hook: %v", err)
	}
}
