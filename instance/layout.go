package instance

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// Layout is the directory layout under a deploykit root (DESIGN.md):
//
//	instances/NAME/instance.toml     resolved spec, user, database, ports, current release
//	instances/NAME/releases/ID/      a release: venv/, pylock.toml, spec copy (never changed)
//	instances/NAME/current -> releases/ID
//	instances/NAME/data/ run/ log/   shared across releases, owned by the instance user
//	instances/NAME/secrets/          0700 dir, 0600 files
//	instances/NAME/.lock, journal    the operation lock and the journal
//	backups/NAME/TIMESTAMP.dkb       backup archives
//	cache/                           wheel/build cache shared by all instances
//	postgres/                        the embedded default cluster
type Layout struct {
	Root string
}

// Environment variables that choose the root.
const (
	EnvRoot = "DEPLOYKIT_ROOT"
)

// DefaultRoot returns the root deploykit uses when none is given:
// $DEPLOYKIT_ROOT, else /srv/deploykit when running as root, else
// $XDG_DATA_HOME/deploykit (~/.local/share/deploykit).
func DefaultRoot() (string, error) {
	if r := os.Getenv(EnvRoot); r != "" {
		return filepath.Abs(r)
	}
	if os.Geteuid() == 0 {
		return "/srv/deploykit", nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "deploykit"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("instance: no root given and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "deploykit"), nil
}

var instanceNameRE = lazyregexp.New(`^[a-z][a-z0-9-]{0,23}$`)

// ErrInvalidName is returned for an instance name that is not usable as a
// Unix user, PostgreSQL role and directory name.
var ErrInvalidName = errors.New("invalid instance name")

// ValidateName checks an instance name: lower-case letters, digits and
// '-', starting with a letter, at most 24 characters (it becomes part of
// a Unix user name, which is limited to 32).
func ValidateName(name string) error {
	if !instanceNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use lower-case letters, digits and '-', starting with a letter, at most 24 characters", ErrInvalidName, name)
	}
	return nil
}

func (l Layout) InstancesDir() string           { return filepath.Join(l.Root, "instances") }
func (l Layout) InstanceDir(name string) string { return filepath.Join(l.Root, "instances", name) }
func (l Layout) StateFile(name string) string {
	return filepath.Join(l.InstanceDir(name), "instance.toml")
}
func (l Layout) ReleasesDir(name string) string {
	return filepath.Join(l.InstanceDir(name), "releases")
}
func (l Layout) ReleaseDir(name, id string) string {
	return filepath.Join(l.InstanceDir(name), "releases", id)
}
func (l Layout) Current(name string) string    { return filepath.Join(l.InstanceDir(name), "current") }
func (l Layout) DataDir(name string) string    { return filepath.Join(l.InstanceDir(name), "data") }
func (l Layout) RunDir(name string) string     { return filepath.Join(l.InstanceDir(name), "run") }
func (l Layout) LogDir(name string) string     { return filepath.Join(l.InstanceDir(name), "log") }
func (l Layout) SecretsDir(name string) string { return filepath.Join(l.InstanceDir(name), "secrets") }
func (l Layout) LockFile(name string) string   { return filepath.Join(l.InstanceDir(name), ".lock") }
func (l Layout) JournalFile(name string) string {
	return filepath.Join(l.InstanceDir(name), "journal")
}
func (l Layout) BackupsDir(name string) string { return filepath.Join(l.Root, "backups", name) }
func (l Layout) CacheDir() string              { return filepath.Join(l.Root, "cache") }
func (l Layout) PostgresDir() string           { return filepath.Join(l.Root, "postgres") }

// ReleaseVenv is a release's virtualenv.
func (l Layout) ReleaseVenv(name, id string) string {
	return filepath.Join(l.ReleaseDir(name, id), "venv")
}

// ReleaseLock is a release's pylock.toml.
func (l Layout) ReleaseLock(name, id string) string {
	return filepath.Join(l.ReleaseDir(name, id), "pylock.toml")
}

// ReleaseSpec is a release's copy of the spec it was built from.
func (l Layout) ReleaseSpec(name, id string) string {
	return filepath.Join(l.ReleaseDir(name, id), "app.toml")
}

// Port allocation: each listening service of an instance gets a port in
// [PortBase, PortBase+PortRange), derived from a hash of "instance/service"
// so that the same name gets the same port on every host; collisions with
// ports held by other instances are resolved by linear probing, and the
// result is recorded in instance.toml so it never moves afterwards.
const (
	PortBase  = 20000
	PortRange = 10000
)

// AllocatePort returns the port for service svc of instance name, given
// the ports already taken (by other instances or other services).
func AllocatePort(name, svc string, taken map[int]bool) (int, error) {
	h := fnv.New32a()
	h.Write([]byte(name + "/" + svc))
	start := int(h.Sum32() % PortRange)
	for i := 0; i < PortRange; i++ {
		p := PortBase + (start+i)%PortRange
		if !taken[p] {
			return p, nil
		}
	}
	return 0, fmt.Errorf("instance: no free port in %d-%d", PortBase, PortBase+PortRange-1)
}
