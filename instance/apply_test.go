package instance

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/pgtest"
)

// webPID is the pid of the instance's web component.
func webPID(t *testing.T, m *Manager, name string) int {
	t.Helper()
	st, err := m.Status(context.Background(), name)
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

// databaseExists asks the test server whether database db exists.
func databaseExists(t *testing.T, db string) bool {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Get(t).Connect(t)
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", db).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestApplyDryRunOnAnAbsentInstanceChangesNothing(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("ad")
	cleanup(t, m, name)
	p, st, err := m.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if st != nil || p.Action != ApplyCreate || !p.Changed || !p.DryRun || p.Release != "r1" || p.Ports["web"] == 0 {
		t.Fatalf("dry-run plan: %+v, state %+v", p, st)
	}
	if len(p.Packages.Added) != 1 || p.Packages.Added[0] != (PackageChange{Name: "six", To: "1.16.0"}) {
		t.Fatalf("packages: %+v", p.Packages)
	}
	if !reflect.DeepEqual(p.Migrations, []string{"0001_notes.sql"}) || !reflect.DeepEqual(p.ServicesAdded, []string{"web"}) {
		t.Fatalf("migrations %v, services %v", p.Migrations, p.ServicesAdded)
	}
	// Nothing on the host: not the root, not a user, not a database.
	if _, err := os.Stat(f.root); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dry run made the root %s: %v", f.root, err)
	}
	if _, err := user.Lookup("dk-" + name); err == nil {
		t.Fatal("the dry run made the instance's user")
	}
	if databaseExists(t, "dk-"+name) {
		t.Fatal("the dry run made the instance's database")
	}
	if ents, _ := filepath.Glob(filepath.Join(os.TempDir(), "deploykit-plan-*")); len(ents) > 0 {
		t.Logf("temporary plan caches (maybe other runs'): %v", ents)
	}

	// The real Apply creates it, with the ports the plan announced.
	p2, st, err := m.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p2.Action != ApplyCreate || !p2.Changed || p2.DryRun || st.Current != "r1" || p2.Ports["web"] != p.Ports["web"] {
		t.Fatalf("apply: %+v %+v", p2, st)
	}
	if len(p2.Packages.Added) != 1 || p2.After == nil || p2.After.Packages["six"] != "1.16.0" {
		t.Fatalf("apply's packages: %+v %+v", p2.Packages, p2.After)
	}
	if a := get(t, st.Ports["web"]); a.Instance != name || a.Version != "1" {
		t.Fatalf("answered %+v", a)
	}
}

// TestApplyConverges: the same spec again is unchanged and restarts
// nothing; a changed spec, requirements file or migrations directory is an
// upgrade, which a dry run plans without doing.
func TestApplyConverges(t *testing.T) {
	f, m, name, st := withInstance(t, "ac", "1")
	ctx := context.Background()
	pid := webPID(t, m, name)

	p, st2, err := m.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyNone || p.Changed || st2.Current != "r1" || p.Release != "r1" || p.Ports["web"] != st.Ports["web"] {
		t.Fatalf("second apply of the same spec: %+v", p)
	}
	if got := webPID(t, m, name); got != pid {
		t.Fatalf("the unchanged apply restarted web: pid %d, was %d", got, pid)
	}
	if p.Before == nil || p.Before.Packages["six"] != "1.16.0" {
		t.Fatalf("before: %+v", p.Before)
	}

	// A changed spec: planned in a dry run, nothing done.
	p, st2, err = m.Apply(ctx, name, f.spec(t, "2"), ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyUpgrade || !p.Changed || p.From != "r1" || p.Release != "r2" || !reflect.DeepEqual(p.Reasons, []string{"spec"}) {
		t.Fatalf("dry run of a changed spec: %+v", p)
	}
	if st2.Current != "r1" || webPID(t, m, name) != pid || exists(m.Layout().ReleaseDir(name, "r2")) || get(t, st.Ports["web"]).Version != "1" {
		t.Fatal("the dry run changed the instance")
	}
	if exists(m.Layout().JournalFile(name)) {
		t.Fatal("the dry run left a journal")
	}
	p, st2, err = m.Apply(ctx, name, f.spec(t, "2"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyUpgrade || p.From != "r1" || p.Release != "r2" || st2.Current != "r2" || get(t, st.Ports["web"]).Version != "2" {
		t.Fatalf("apply of a changed spec: %+v", p)
	}

	// Same spec, another requirements file: the lock differs.
	req := filepath.Join(f.specDir, "requirements.txt")
	b, _ := os.ReadFile(req)
	os.WriteFile(req, append(b, "roman\n"...), 0o644)
	p, _, err = m.Apply(ctx, name, f.spec(t, "2"), ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyUpgrade || !reflect.DeepEqual(p.Reasons, []string{"lock"}) || len(p.Packages.Added) != 1 || p.Packages.Added[0].Name != "roman" {
		t.Fatalf("dry run of a changed requirements file: %+v", p)
	}
	// And a new migration.
	os.WriteFile(filepath.Join(f.specDir, "migrations", "0002_tags.sql"), []byte("CREATE TABLE tags (name text);\n"), 0o644)
	p, st2, err = m.Apply(ctx, name, f.spec(t, "2"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyUpgrade || st2.Current != "r3" || !reflect.DeepEqual(p.Migrations, []string{"0002_tags.sql"}) || len(p.Packages.Added) != 1 {
		t.Fatalf("apply with a new migration and package: %+v", p)
	}
	if !strings.Contains(p.String(), "upgraded from r2 to r3") {
		t.Fatalf("plan: %s", p)
	}
	p, _, err = m.Apply(ctx, name, f.spec(t, "2"), ApplyOptions{})
	if err != nil || p.Changed {
		t.Fatalf("third apply of the same: %+v %v", p, err)
	}

	// A release that fails its health check is rolled back.
	bad := f.spec(t, "3")
	web := bad.Services["web"]
	web.Command = []string{"python", "-c", "raise SystemExit(3)"}
	bad.Services["web"] = web
	p, _, err = m.Apply(ctx, name, bad, ApplyOptions{})
	var se *StepError
	if !errors.As(err, &se) || !se.RolledBack || p == nil || p.Action != ApplyUpgrade {
		t.Fatalf("a failing release: %v (plan %+v)", err, p)
	}
	if s, err := m.Status(ctx, name); err != nil || s.Current != "r3" || get(t, st.Ports["web"]).Version != "2" {
		t.Fatalf("after the failed apply: %+v %v", s, err)
	}
}

func TestApplyRefusesAnotherApplication(t *testing.T) {
	f, m, name, _ := withInstance(t, "aa", "1")
	other := f.spec(t, "1")
	other.Name = "otherapp"
	for _, dry := range []bool{true, false} {
		if _, _, err := m.Apply(context.Background(), name, other, ApplyOptions{DryRun: dry}); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "otherapp") {
			t.Fatalf("dry run %v: %v", dry, err)
		}
	}
}

// TestApplyKilledThenAppliedAgainConverges kills an Apply that creates
// and one that upgrades (SIGKILL, in a child) and applies again: the
// second run recovers the first and reaches the spec, and a third changes
// nothing.
func TestApplyKilledThenAppliedAgainConverges(t *testing.T) {
	f := newFixture(t)
	m := f.open(t)
	ctx := context.Background()
	name := randomName("ak")
	cleanup(t, m, name)
	specPath := filepath.Join(f.specDir, "app.toml")
	for _, tc := range []struct{ version, point string }{{"1", "database:done"}, {"2", "restart"}} {
		f.spec(t, tc.version)
		if err := runKilled(f, "apply", name, specPath, tc.point); err != nil {
			t.Fatal(err)
		}
		p, st, err := m.Apply(ctx, name, f.spec(t, tc.version), ApplyOptions{})
		if err != nil {
			t.Fatalf("apply after a kill at %s: %v", tc.point, err)
		}
		if !p.Changed || get(t, st.Ports["web"]).Version != tc.version {
			t.Fatalf("apply after a kill at %s: %+v", tc.point, p)
		}
		if p, _, err := m.Apply(ctx, name, f.spec(t, tc.version), ApplyOptions{}); err != nil || p.Changed {
			t.Fatalf("apply again: %+v %v", p, err)
		}
	}
}

// TestApplyMovesToANewListenAddress: the same spec applied with another
// listen address moves the instance there (planned by a dry run that
// moves nothing), keeping its release and port; then nothing is left to do.
func TestApplyMovesToANewListenAddress(t *testing.T) {
	f, m, name, st := withInstance(t, "am", "1")
	ctx := context.Background()
	port := st.Ports["web"]
	opts := f.options()
	opts.ListenAddress = loopbackAddress()
	moved, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := moved.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyMove || !p.Changed || p.ListenFrom != "127.0.0.1" || p.ListenAddress != opts.ListenAddress {
		t.Fatalf("dry run: %+v", p)
	}
	if s, _ := m.Layout().ReadSettings(); s.ListenAddress != "" {
		t.Fatalf("the dry run recorded the listen address: %+v", s)
	}
	if _, err := getAt(t, "127.0.0.1", port); err != nil {
		t.Fatalf("the dry run moved the instance: %v", err)
	}
	p, st, err = moved.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Action != ApplyMove || st.Current != "r1" || st.ListenAddress != opts.ListenAddress || st.Ports["web"] != port {
		t.Fatalf("apply: %+v %+v", p, st)
	}
	if a, err := getAt(t, opts.ListenAddress, port); err != nil || a.Instance != name {
		t.Fatalf("on %s: %+v %v", opts.ListenAddress, a, err)
	}
	if _, err := getAt(t, "127.0.0.1", port); err == nil {
		t.Fatal("still answering on 127.0.0.1")
	}
	if p, _, err := moved.Apply(ctx, name, f.spec(t, "1"), ApplyOptions{}); err != nil || p.Changed {
		t.Fatalf("apply again: %+v %v", p, err)
	}
}
