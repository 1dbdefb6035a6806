package instance

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultRoot(t *testing.T) {
	t.Setenv(EnvRoot, "/tmp/dk-root")
	if r, err := DefaultRoot(); err != nil || r != "/tmp/dk-root" {
		t.Fatalf("with DEPLOYKIT_ROOT: %q %v", r, err)
	}
	t.Setenv(EnvRoot, "")
	t.Setenv("XDG_DATA_HOME", "/tmp/xdg")
	r, err := DefaultRoot()
	if err != nil {
		t.Fatal(err)
	}
	want := "/tmp/xdg/deploykit"
	if os.Geteuid() == 0 {
		want = "/srv/deploykit"
	}
	if r != want {
		t.Fatalf("root %q, want %q", r, want)
	}
}

func TestLayoutPaths(t *testing.T) {
	l := Layout{Root: "/r"}
	for got, want := range map[string]string{
		l.StateFile("prod"):        "/r/instances/prod/instance.toml",
		l.ReleaseVenv("prod", "7"): "/r/instances/prod/releases/7/venv",
		l.ReleaseLock("prod", "7"): "/r/instances/prod/releases/7/pylock.toml",
		l.Current("prod"):          "/r/instances/prod/current",
		l.SecretsDir("prod"):       "/r/instances/prod/secrets",
		l.BackupsDir("prod"):       "/r/backups/prod",
		l.CacheDir():               "/r/cache",
		l.PostgresDir():            "/r/postgres",
		l.JournalFile("prod"):      filepath.Join("/r/instances/prod", "journal"),
	} {
		if got != want {
			t.Errorf("%s, want %s", got, want)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"prod", "staging", "a", "feature-123"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Prod", "1x", "a_b", "../x", "averyveryveryverylongname12"} {
		if err := ValidateName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAllocatePortIsDeterministicAndAvoidsCollisions(t *testing.T) {
	p1, _ := AllocatePort("production", "web", nil)
	p2, _ := AllocatePort("production", "web", nil)
	if p1 != p2 || p1 < PortBase || p1 >= PortBase+PortRange {
		t.Fatalf("ports %d %d", p1, p2)
	}
	p3, _ := AllocatePort("production", "web", map[int]bool{p1: true})
	if p3 == p1 {
		t.Fatal("collision not avoided")
	}
	s, _ := AllocatePort("staging", "web", nil)
	if s == p1 {
		t.Fatal("production and staging hash to one port (choose other names in the test)")
	}
}
