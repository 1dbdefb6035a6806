package instance

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"testing"
)

// A create that fails because the root's embedded PostgreSQL cluster or
// RabbitMQ node cannot be set up (no rabbitmq-server installed, a full
// disk under initdb) must still roll back completely. Undoing the
// database or broker step must not try to set up that server again to
// drop a database or vhost that cannot exist: it failed the same way,
// left the create's journal pending, and then status, remove and every
// later command of the instance failed with it until the server could
// start. Here the server's directory under the root is a regular file,
// so setting it up fails at once, whatever is installed.
func TestCreateThatCannotSetUpTheEmbeddedServerRollsBackCompletely(t *testing.T) {
	for _, tc := range []struct {
		name, dir, extra string
		opts             func(*Options)
	}{
		{"database", "postgres", "", func(o *Options) { o.DatabaseURL = "" }},
		{"broker", "rabbitmq", "[broker]\nkind = \"rabbitmq\"\n", func(o *Options) { o.BrokerURL = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t)
			if err := os.MkdirAll(f.root, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(f.root, tc.dir), []byte("not a directory\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			opts := f.options()
			tc.opts(&opts)
			m, err := Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			name := randomName("nosrv")
			cleanup(t, m, name)
			_, err = m.Create(ctx, name, f.specWith(t, "1.0", tc.extra))
			if err == nil {
				t.Fatalf("create succeeded with %s a regular file", tc.dir)
			}
			var stepErr *StepError
			if !errors.As(err, &stepErr) || stepErr.Step != tc.name {
				t.Fatalf("create failed, but not at the %s step: %v", tc.name, err)
			}
			if stepErr.UndoErr != nil || !stepErr.RolledBack {
				t.Fatalf("create did not roll back: %v", err)
			}
			if _, err := os.Stat(m.Layout().InstanceDir(name)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed create left %s (%v)", m.Layout().InstanceDir(name), err)
			}
			if _, err := m.Status(ctx, name); !errors.Is(err, ErrNotFound) {
				t.Errorf("status after the failed create: %v, want not found", err)
			}
			n, _ := names(&State{Name: name})
			if _, err := user.Lookup(n.User); err == nil {
				t.Errorf("the failed create left the user %s", n.User)
			}
		})
	}
}
