package instance

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deploykit/deploykit/internal/pgcluster"
	"github.com/deploykit/deploykit/internal/testenv"
)

// A root made before the embedded cluster had its tuning: the server runs
// under the supervisor at wal_level = replica. The next Manager that needs
// the database restarts it once, through the supervisor, with the tuning;
// the one after does not restart it again.
func TestEmbeddedClusterOfAnOlderRootGetsItsSettings(t *testing.T) {
	testenv.NeedRoot(t)
	if _, err := pgcluster.FindBinaries(context.Background()); err != nil {
		testenv.Skip(t, "PostgreSQL server binaries: %v", err)
	}
	root, err := os.MkdirTemp("", "dkt")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(root, 0o755)
	ctx := context.Background()
	var mu sync.Mutex
	var events []string
	open := func() *Manager {
		m, err := Open(ctx, Options{Root: root, Services: "supervise", Events: func(e Event) {
			mu.Lock()
			events = append(events, e.Message)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	t.Cleanup(func() {
		m.Shutdown(context.Background())
		os.RemoveAll(root)
	})
	srv, err := m.server(ctx)
	if err != nil {
		t.Fatal(err)
	}
	show := func(name string) string {
		t.Helper()
		conn, err := srv.cluster.Connect(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	pid := func() int {
		b, _ := os.ReadFile(filepath.Join(srv.cluster.DataDir(), "postmaster.pid"))
		n, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
		return n
	}
	if got := show("wal_level"); got != "minimal" {
		t.Fatalf("a new embedded cluster runs at wal_level %s, want minimal", got)
	}

	// What deploykit.conf held before the tuning; the supervisor restarts
	// the server with it.
	c := srv.cluster
	old := "port = " + strconv.Itoa(c.Port()) + "\nunix_socket_directories = '" + c.SocketDir() +
		"'\nlisten_addresses = '127.0.0.1'\npassword_encryption = 'scram-sha-256'\n"
	// (Written in place: the file stays the server user's.)
	if err := os.WriteFile(filepath.Join(c.DataDir(), "deploykit.conf"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	ctrl, err := m.controller()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Restart(ctx, clusterInstance); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if got := show("wal_level"); got != "replica" {
		t.Fatalf("the older cluster runs at wal_level %s", got)
	}
	before := pid()

	m2 := open()
	if _, err := m2.server(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"wal_level": "minimal", "max_wal_senders": "0", "checkpoint_timeout": "15min"} {
		if got := show(name); got != want {
			t.Errorf("after the next operation: %s = %s, want %s", name, got, want)
		}
	}
	after := pid()
	if after == before {
		t.Error("the server was not restarted")
	}
	mu.Lock()
	said := strings.Join(events, "\n")
	mu.Unlock()
	if !strings.Contains(said, "restarting the embedded PostgreSQL cluster once, for its new settings: max_wal_senders, shared_buffers, wal_level") {
		t.Errorf("no event says why the cluster restarts: %q", said)
	}
	if _, err := open().server(ctx); err != nil {
		t.Fatal(err)
	}
	if pid() != after {
		t.Error("a second Manager restarted the cluster again")
	}
}
