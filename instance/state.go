package instance

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// State is an instance's record, instances/NAME/instance.toml: the spec
// it was created from, what was derived from its name (user, database,
// ports) and its releases. It is rewritten atomically by each operation.
type State struct {
	Name    string    `toml:"name" json:"name"`
	App     string    `toml:"app" json:"app"`
	Created time.Time `toml:"created" json:"created"`
	// SpecFile is the spec file the instance was created or last upgraded
	// from; upgrade without --spec reads it again.
	SpecFile string `toml:"spec_file" json:"spec_file"`

	User string `toml:"user,omitempty" json:"user,omitempty"`
	UID  int    `toml:"uid" json:"uid"`
	GID  int    `toml:"gid" json:"gid"`

	// Database is the instance's database, "" when the spec has none.
	Database string `toml:"database,omitempty" json:"database,omitempty"`
	Role     string `toml:"role,omitempty" json:"role,omitempty"`
	// DatabaseServer is where the database is: "embedded" (ROOT/postgres)
	// or the host:port of the --database-url it was created with.
	DatabaseServer string `toml:"database_server,omitempty" json:"database_server,omitempty"`

	// Broker is the instance's RabbitMQ vhost, "" when the spec has no
	// broker; BrokerUser its user. BrokerServer is where they are:
	// "embedded" (ROOT/rabbitmq) or the host:port of the --broker-url.
	Broker       string `toml:"broker,omitempty" json:"broker,omitempty"`
	BrokerUser   string `toml:"broker_user,omitempty" json:"broker_user,omitempty"`
	BrokerServer string `toml:"broker_server,omitempty" json:"broker_server,omitempty"`

	// Ports holds the port of each listening service, allocated once.
	Ports map[string]int `toml:"ports" json:"ports"`
	// ListenAddress is the address the listening services are bound on,
	// set when they are installed ("" in records from before it: 127.0.0.1).
	ListenAddress string `toml:"listen_address,omitempty" json:"listen_address,omitempty"`

	// Current is the release `current` points at ("" before the first).
	Current  string    `toml:"current" json:"current"`
	Releases []Release `toml:"releases" json:"releases"`
	// NextRelease numbers releases: r1, r2, … It travels in journal
	// snapshots too: a rollback restores the record from one, and a lost
	// counter would hand out an existing release's ID again.
	NextRelease int `toml:"next_release" json:"next_release"`
}

// Release is one built release of an instance.
type Release struct {
	ID      string    `toml:"id" json:"id"`
	Created time.Time `toml:"created" json:"created"`
	// Kind is "create", "upgrade" or "hotfix".
	Kind string `toml:"kind" json:"kind"`
	// Changes lists the requirements a hotfix changed.
	Changes []string `toml:"changes,omitempty" json:"changes,omitempty"`
	// Packages is the number of distributions in the release's lock.
	Packages int `toml:"packages" json:"packages"`
}

// ErrNotFound is returned for an instance (or release) that does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned when creating an instance that already exists.
var ErrExists = errors.New("already exists")

func readState(l Layout, name string) (*State, error) {
	b, err := os.ReadFile(l.StateFile(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("instance %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", name, err)
	}
	var st State
	if _, err := toml.Decode(string(b), &st); err != nil {
		return nil, fmt.Errorf("instance %s: %s: %w", name, l.StateFile(name), err)
	}
	if st.Ports == nil {
		st.Ports = map[string]int{}
	}
	return &st, nil
}

func writeState(l Layout, st *State) error {
	var buf bytes.Buffer
	buf.WriteString("# deploykit instance record: written by deploykit, do not edit.\n")
	if err := toml.NewEncoder(&buf).Encode(st); err != nil {
		return err
	}
	return atomicfile.WriteFile(l.StateFile(st.Name), buf.Bytes(), 0o644)
}

// Release returns the release with the given id.
func (st *State) Release(id string) (Release, bool) {
	for _, r := range st.Releases {
		if r.ID == id {
			return r, true
		}
	}
	return Release{}, false
}
