package pgcluster

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func settingsOf(ss []Setting) map[string]string {
	m := map[string]string{}
	for _, s := range ss {
		m[s.Name] = s.Value
	}
	return m
}

func TestTuningIsSizedForTheHost(t *testing.T) {
	for _, tc := range []struct {
		host Host
		want map[string]string
	}{
		{Host{Memory: 24 * gib, Disk: 252 * gib}, map[string]string{"shared_buffers": "3GB", "effective_cache_size": "12GB",
			"maintenance_work_mem": "768MB", "max_wal_size": "4GB", "min_wal_size": "1GB", "wal_level": "minimal", "max_wal_senders": "0",
			"checkpoint_timeout": "15min"}},
		{Host{Memory: 512 * mib, Disk: 10 * gib}, map[string]string{"shared_buffers": "128MB", "effective_cache_size": "256MB",
			"maintenance_work_mem": "64MB", "max_wal_size": "1GB", "min_wal_size": "256MB"}},
		{Host{Memory: 256 * gib, Disk: 4096 * gib}, map[string]string{"shared_buffers": "4GB", "maintenance_work_mem": "1GB", "max_wal_size": "4GB"}},
		{Host{Memory: 3 * gib, Disk: 64 * gib}, map[string]string{"shared_buffers": "384MB", "maintenance_work_mem": "96MB", "max_wal_size": "2GB", "min_wal_size": "512MB"}},
	} {
		got := settingsOf(Tuning(tc.host))
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("host %+v: %s = %q, want %q", tc.host, k, got[k], v)
			}
		}
	}
	if h := HostOf(t.TempDir()); h.Memory <= 0 || h.Disk <= 0 {
		t.Fatalf("HostOf: %+v", h)
	}
}

func TestParseConfFindsActiveSettings(t *testing.T) {
	got := parseConf([]byte(`# comment
shared_buffers = 128MB			# min 128kB
#wal_level = replica
Max_WAL_Size 2GB
archive_command = 'cp %p /arch/''x''/%f'  # quoted
  work_mem='4MB'
include_if_exists = 'deploykit.conf'
shared_buffers = 1GB
`))
	want := map[string]string{"shared_buffers": "1GB", "max_wal_size": "2GB", "archive_command": "cp %p /arch/'x'/%f",
		"work_mem": "4MB", "include_if_exists": "deploykit.conf"}
	if len(got) != len(want) {
		t.Fatalf("parseConf = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// show returns a setting of the running server.
func show(t *testing.T, c *Cluster, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := c.Connect(ctx)
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

func TestClusterRunsWithTheTuningUnlessTheAdministratorSetIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := Host{Memory: 2 * gib, Disk: 64 * gib}
	c := newCluster(t, Options{Host: &host, Settings: map[string]string{"maintenance_work_mem": "70MB"}})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"shared_buffers": "256MB", "wal_level": "minimal", "max_wal_senders": "0",
		"max_wal_size": "2GB", "checkpoint_timeout": "15min", "maintenance_work_mem": "70MB"} {
		if got := show(t, c, name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}

	// The administrator sets shared_buffers and archiving in
	// postgresql.conf: deploykit leaves them, and wal_level, alone (at
	// wal_level = minimal a server with archive_mode on refuses to start).
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(c.DataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("shared_buffers = 48MB\narchive_mode = on\narchive_command = 'true'\n")
	f.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"shared_buffers": "48MB", "wal_level": "replica", "archive_mode": "on", "max_wal_size": "2GB"} {
		if got := show(t, c, name); got != want {
			t.Errorf("after the administrator's settings: %s = %s, want %s", name, got, want)
		}
	}
	conf, err := os.ReadFile(c.confFile())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"shared_buffers", "wal_level", "max_wal_senders"} {
		if strings.Contains(string(conf), "\n"+name+" =") {
			t.Errorf("deploykit.conf still sets %s:\n%s", name, conf)
		}
	}
}

// A cluster made before the tuning (a root from an older deploykit) and
// running: Init writes the settings, Reconfigure applies what a reload can
// and names what waits for a restart, and the restart applies the rest.
func TestReconfigureAppliesTheTuningToAnOlderCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	host := Host{Memory: 2 * gib, Disk: 64 * gib}
	c := newCluster(t, Options{Host: &host})
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// What deploykit.conf held before the tuning, started as a service
	// controller starts it (not through Start, which writes the file).
	old := "port = " + strconv.Itoa(c.Port()) + "\nunix_socket_directories = " + quoteConf(c.SocketDir()) +
		"\nlisten_addresses = '127.0.0.1'\npassword_encryption = 'scram-sha-256'\nfsync = off\n"
	if err := c.writeOwned(c.confFile(), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := c.command(ctx, "pg_ctl", "start", "-D", c.DataDir(), "-l", c.LogFile(), "-w", "-s").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	if got := show(t, c, "wal_level"); got != "replica" {
		t.Fatalf("the older cluster runs at wal_level %s", got)
	}

	c2 := newCluster(t, Options{Dir: c.Dir(), Host: &host})
	if err := c2.Init(ctx); err != nil {
		t.Fatal(err)
	}
	restart, err := c2.Reconfigure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"max_wal_senders", "shared_buffers", "wal_level"}; !slices.Equal(restart, want) {
		t.Errorf("Reconfigure: waiting for a restart %v, want %v", restart, want)
	}
	// Reloadable settings apply at once.
	if got := show(t, c2, "max_wal_size"); got != "2GB" {
		t.Errorf("max_wal_size after Reconfigure = %s, want 2GB", got)
	}
	if err := c2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := show(t, c2, "wal_level"); got != "minimal" {
		t.Errorf("wal_level after the restart = %s, want minimal", got)
	}
	if restart, err := c2.Reconfigure(ctx); err != nil || len(restart) > 0 {
		t.Errorf("Reconfigure after the restart: %v, %v; want nothing", restart, err)
	}
}
