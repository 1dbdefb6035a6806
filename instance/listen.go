package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/BurntSushi/toml"

	"github.com/deploykit/deploykit/internal/atomicfile"
)

// The listen address of a root.
//
// Every listening service of every instance under a root is bound on one
// address, the root's listen address: 127.0.0.1 unless set. On a host
// behind a load balancer on another host it is an address that balancer
// reaches (or 0.0.0.0 for all). It is a property of the host, not of an
// application, so it lives in the root, not in the spec: ROOT/settings.toml
// records it, and later commands keep it without being told again.
//
// Options.ListenAddress sets it. A value that differs from the recorded one
// is recorded by the next operation that takes an instance lock (every
// operation but Status and a dry-run Apply), and from then on it is the
// root's: each instance moves to it the next time its services are
// installed or started (create, upgrade, hotfix, rollback, apply, start,
// restart), which stops the instance's listening sockets on the old address
// and binds them on the new one. Until then an instance keeps serving,
// health-checks and reports the address it is bound on (State.ListenAddress).
// Apply counts an instance on another address as a change, so an Ansible
// play that changes listen_address converges every host.

// DefaultListenAddress is the listen address of a root that has none set.
const DefaultListenAddress = "127.0.0.1"

// EnvListenAddress is the environment variable the deploykit CLI reads
// the listen address from when --listen-address is not given.
const EnvListenAddress = "DEPLOYKIT_LISTEN_ADDRESS"

// Settings are a root's own settings, ROOT/settings.toml.
type Settings struct {
	// ListenAddress is the address instances' listening services are
	// bound on ("" = DefaultListenAddress).
	ListenAddress string `toml:"listen_address,omitempty" json:"listen_address,omitempty"`
}

// SettingsFile is the root's settings file.
func (l Layout) SettingsFile() string { return filepath.Join(l.Root, "settings.toml") }

// ValidateListenAddress checks a listen address: an IPv4 or IPv6 address
// literal (no host name, which could resolve differently later, and no
// port: ports are the instances').
func ValidateListenAddress(addr string) error {
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("%w %q: want an IP address such as 127.0.0.1, 10.0.0.5 or ::1 (no host name, no port)", ErrInvalidListenAddress, addr)
	}
	return nil
}

// ErrInvalidListenAddress is returned for a listen address that is not an
// IP address literal.
var ErrInvalidListenAddress = errors.New("invalid listen address")

// ReadSettings reads the root's settings; a root without a settings file
// has the zero Settings.
func (l Layout) ReadSettings() (Settings, error) {
	var s Settings
	b, err := os.ReadFile(l.SettingsFile())
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	md, err := toml.Decode(string(b), &s)
	if err != nil {
		return s, fmt.Errorf("%s: %w", l.SettingsFile(), err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return s, fmt.Errorf("%s: unknown key %q (known: listen_address)", l.SettingsFile(), u[0].String())
	}
	if s.ListenAddress != "" {
		if err := ValidateListenAddress(s.ListenAddress); err != nil {
			return s, fmt.Errorf("%s: %w", l.SettingsFile(), err)
		}
	}
	return s, nil
}

func (l Layout) writeSettings(s Settings) error {
	var buf bytes.Buffer
	buf.WriteString("# deploykit root settings: written by deploykit (--listen-address), kept by later commands.\n")
	if err := toml.NewEncoder(&buf).Encode(s); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Root, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(l.SettingsFile(), buf.Bytes(), 0o644)
}

// listenAddress is the root's listen address: Options.ListenAddress when
// given, else the recorded one, else DefaultListenAddress.
func (m *Manager) listenAddress() string {
	if m.opts.ListenAddress != "" {
		return m.opts.ListenAddress
	}
	if m.settings.ListenAddress != "" {
		return m.settings.ListenAddress
	}
	return DefaultListenAddress
}

// ListenAddress reports the root's listen address (see listenAddress).
func (m *Manager) ListenAddress() string { return m.listenAddress() }

// recordSettings writes an explicitly given listen address that differs
// from the recorded one into the root's settings.
func (m *Manager) recordSettings() error {
	m.settingsMu.Lock()
	defer m.settingsMu.Unlock()
	if m.opts.ListenAddress == "" || m.opts.ListenAddress == m.settings.ListenAddress {
		return nil
	}
	s := m.settings
	s.ListenAddress = m.opts.ListenAddress
	if err := m.layout.writeSettings(s); err != nil {
		return fmt.Errorf("instance: recording the listen address: %w", err)
	}
	if m.settings.ListenAddress != "" {
		m.log.Info("listen address changed for the root: instances move to it when their services are next installed or started",
			"root", m.layout.Root, "from", m.settings.ListenAddress, "to", s.ListenAddress)
	}
	m.settings = s
	return nil
}

// boundAddress is the address an instance's services are bound on: the
// one recorded when they were last installed (records from before the
// listen address have none: DefaultListenAddress).
func boundAddress(st *State) string {
	if st.ListenAddress == "" {
		return DefaultListenAddress
	}
	return st.ListenAddress
}

// dialAddress is host:port to reach a service bound on addr: the loopback
// address of the same family for an unspecified address (0.0.0.0, ::).
func dialAddress(addr string, port int) string {
	if ip := net.ParseIP(addr); ip != nil && ip.IsUnspecified() {
		if ip.To4() != nil {
			addr = "127.0.0.1"
		} else {
			addr = "::1"
		}
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// recordListenAddress writes st.ListenAddress into the instance record, if
// there is one yet: services were just installed on that address, and the
// record must say where they are even when the operation that moved them
// is then rolled back (its undo re-installs on the same address).
func (m *Manager) recordListenAddress(st *State) error {
	cur, err := readState(m.layout, st.Name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.ListenAddress == st.ListenAddress {
		return nil
	}
	cur.ListenAddress = st.ListenAddress
	return writeState(m.layout, cur)
}

// moved reports whether st's services are bound on another address than
// the root's.
func (m *Manager) moved(st *State) bool { return boundAddress(st) != m.listenAddress() }

// rebindIfMoved re-installs and restarts the current release of an
// instance bound on another address than the root's, so that start and
// restart move it; it reports whether it did.
func (m *Manager) rebindIfMoved(ctx context.Context, st *State, spec *Spec) (bool, error) {
	if !m.moved(st) {
		return false, nil
	}
	return true, m.installAndRestart(ctx, st, spec, st.Current)
}
