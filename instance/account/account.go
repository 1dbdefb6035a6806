package account

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: the instance has no user (Lookup).
	ErrNotFound = errors.New("account: no such instance user")
	// ErrForeignUser: a user or group of the instance's name exists but was
	// not made for it (other home directory, login shell, or a user whose
	// primary group is not its own): deploykit will not take it over.
	ErrForeignUser = errors.New("account: user or group exists and is not an instance account")
	// ErrNotRoot: a privileged operation was asked for without root.
	ErrNotRoot = errors.New("account: needs root")
)

// UnprivilegedWarning is the message of unprivileged mode.
const UnprivilegedWarning = "deploykit is not running as root: all instances run as the current user and uid isolation is OFF; instances are separated only by directories, database roles and databases"

// Options configure a Manager; the zero value manages the host's users
// with the default prefix, or runs unprivileged when not root.
type Options struct {
	// Root is the directory whose etc/passwd and etc/group hold the
	// instance users (useradd --prefix); "" is the host's.
	Root string
	// Prefix of user, group, role and database names; "" is DefaultPrefix.
	Prefix string
	// Unprivileged forces unprivileged mode even as root (see the package
	// doc); without root it is always on.
	Unprivileged bool
	// UIDMin and UIDMax bound the uids and gids given to new users (both 0:
	// useradd's system range from login.defs).
	UIDMin, UIDMax int
	// Shell of the instance users; default /usr/sbin/nologin.
	Shell string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Manager creates, finds and removes instance accounts.
type Manager struct {
	opts       Options
	log        *slog.Logger
	privileged bool
	self       *Account // the current user, in unprivileged mode
}

// Account is an instance's identity on the host.
type Account struct {
	Names
	UID, GID int
	Home     string
	// Privileged is false in unprivileged mode: UID and GID are then the
	// current user's, and Credential returns nil.
	Privileged bool
}

// New returns a Manager. Without root it is in unprivileged mode: Warning
// returns UnprivilegedWarning, and Ensure logs it for each instance.
func New(opts Options) (*Manager, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if err := ValidatePrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if opts.Shell == "" {
		opts.Shell = "/usr/sbin/nologin"
	}
	if opts.Root != "" {
		r, err := filepath.Abs(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("account: %w", err)
		}
		opts.Root = r
	}
	if opts.UIDMin < 0 || opts.UIDMax < opts.UIDMin || (opts.UIDMin == 0) != (opts.UIDMax == 0) {
		return nil, fmt.Errorf("account: invalid uid range %d..%d", opts.UIDMin, opts.UIDMax)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: log, privileged: os.Geteuid() == 0 && !opts.Unprivileged}
	if !m.privileged {
		name := strconv.Itoa(os.Getuid())
		home, _ := os.UserHomeDir()
		if u, err := user.Current(); err == nil {
			name = u.Username
			if u.HomeDir != "" {
				home = u.HomeDir
			}
		}
		m.self = &Account{Names: Names{User: name, Group: name}, UID: os.Getuid(), GID: os.Getgid(), Home: home}
	}
	return m, nil
}

// Privileged reports whether instances get their own users.
func (m *Manager) Privileged() bool { return m.privileged }

// Warning is UnprivilegedWarning in unprivileged mode, else "".
func (m *Manager) Warning() string {
	if m.privileged {
		return ""
	}
	return UnprivilegedWarning
}

// Names maps an instance name to its system names.
func (m *Manager) Names(name string) (Names, error) { return NamesFor(m.opts.Prefix, name) }

func (m *Manager) etc(file string) string {
	root := m.opts.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, "etc", file)
}

func (m *Manager) readDB() ([]PasswdEntry, []GroupEntry, error) {
	pb, err := os.ReadFile(m.etc("passwd"))
	if err != nil {
		return nil, nil, fmt.Errorf("account: %w", err)
	}
	users, err := ParsePasswd(m.etc("passwd"), pb)
	if err != nil {
		return nil, nil, fmt.Errorf("account: %w", err)
	}
	gb, err := os.ReadFile(m.etc("group"))
	if err != nil {
		return nil, nil, fmt.Errorf("account: %w", err)
	}
	groups, err := ParseGroup(m.etc("group"), gb)
	if err != nil {
		return nil, nil, fmt.Errorf("account: %w", err)
	}
	return users, groups, nil
}

func findUser(us []PasswdEntry, name string) *PasswdEntry {
	for i := range us {
		if us[i].Name == name {
			return &us[i]
		}
	}
	return nil
}

func findGroup(gs []GroupEntry, name string) *GroupEntry {
	for i := range gs {
		if gs[i].Name == name {
			return &gs[i]
		}
	}
	return nil
}

// Lookup returns the account of an instance; ErrNotFound when it has no
// user. In unprivileged mode it is the current user, always.
func (m *Manager) Lookup(ctx context.Context, name string) (*Account, error) {
	names, err := m.Names(name)
	if err != nil {
		return nil, err
	}
	if !m.privileged {
		a := *m.self
		a.Names = names
		a.User, a.Group = m.self.User, m.self.Group
		return &a, nil
	}
	us, gs, err := m.readDB()
	if err != nil {
		return nil, err
	}
	u := findUser(us, names.User)
	if u == nil {
		return nil, fmt.Errorf("%w: %s (instance %s)", ErrNotFound, names.User, name)
	}
	g := findGroup(gs, names.Group)
	if g == nil || g.GID != u.GID {
		return nil, fmt.Errorf("%w: user %s's primary group is not group %s", ErrForeignUser, names.User, names.Group)
	}
	return &Account{Names: names, UID: u.UID, GID: u.GID, Home: u.Home, Privileged: true}, nil
}

// Ensure creates the instance's user and group if missing, with home
// directory home (not created here), and returns the account. An existing
// user is accepted when it has home, the configured shell and its own
// group; otherwise the error wraps ErrForeignUser. In unprivileged mode it
// returns the current user.
func (m *Manager) Ensure(ctx context.Context, name, home string) (*Account, error) {
	names, err := m.Names(name)
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(home) {
		return nil, fmt.Errorf("account: instance %s: home %q is not absolute", name, home)
	}
	if !m.privileged {
		m.log.Warn(UnprivilegedWarning, "instance", name, "user", m.self.User)
		return m.Lookup(ctx, name)
	}
	us, gs, err := m.readDB()
	if err != nil {
		return nil, err
	}
	if u := findUser(us, names.User); u != nil {
		g := findGroup(gs, names.Group)
		switch {
		case u.UID == 0:
			return nil, fmt.Errorf("%w: %s has uid 0", ErrForeignUser, names.User)
		case g == nil || g.GID != u.GID:
			return nil, fmt.Errorf("%w: user %s exists without its own primary group %s", ErrForeignUser, names.User, names.Group)
		case filepath.Clean(u.Home) != filepath.Clean(home):
			return nil, fmt.Errorf("%w: user %s exists with home %s, not %s", ErrForeignUser, names.User, u.Home, home)
		case u.Shell != m.opts.Shell:
			return nil, fmt.Errorf("%w: user %s exists with shell %s, not %s", ErrForeignUser, names.User, u.Shell, m.opts.Shell)
		}
		return &Account{Names: names, UID: u.UID, GID: u.GID, Home: u.Home, Privileged: true}, nil
	}
	if g := findGroup(gs, names.Group); g == nil {
		if err := m.run(ctx, "groupadd", append(m.rangeArgs(), "--system", names.Group)...); err != nil {
			return nil, fmt.Errorf("account: instance %s: creating group: %w", name, err)
		}
	} else if findUser(us, names.User) == nil {
		// A group left by an interrupted Ensure (groupadd done, useradd
		// not): adopt it if no other user has it as primary group.
		for _, u := range us {
			if u.GID == g.GID {
				return nil, fmt.Errorf("%w: group %s is the primary group of user %s", ErrForeignUser, names.Group, u.Name)
			}
		}
	}
	args := append(m.rangeArgs(), "--system", "--gid", names.Group, "--home-dir", home,
		"--no-create-home", "--shell", m.opts.Shell, "--comment", "deploykit instance "+name, names.User)
	if err := m.run(ctx, "useradd", args...); err != nil {
		return nil, fmt.Errorf("account: instance %s: creating user: %w", name, err)
	}
	m.log.Info("account: created user", "instance", name, "user", names.User)
	return m.Lookup(ctx, name)
}

func (m *Manager) rangeArgs() []string {
	var a []string
	if m.opts.Root != "" {
		a = append(a, "--prefix", m.opts.Root)
	}
	if m.opts.UIDMin > 0 {
		min, max := strconv.Itoa(m.opts.UIDMin), strconv.Itoa(m.opts.UIDMax)
		a = append(a, "-K", "SYS_UID_MIN="+min, "-K", "SYS_UID_MAX="+max,
			"-K", "SYS_GID_MIN="+min, "-K", "SYS_GID_MAX="+max)
	}
	return a
}

// Remove deletes the instance's user and group; missing ones are fine.
// Files they own are not touched (the caller removes the instance tree).
// In unprivileged mode it does nothing.
func (m *Manager) Remove(ctx context.Context, name string) error {
	names, err := m.Names(name)
	if err != nil {
		return err
	}
	if !m.privileged {
		return nil
	}
	us, gs, err := m.readDB()
	if err != nil {
		return err
	}
	var pre []string
	if m.opts.Root != "" {
		pre = []string{"--prefix", m.opts.Root}
	}
	if u := findUser(us, names.User); u != nil {
		if g := findGroup(gs, names.Group); g == nil || g.GID != u.GID {
			return fmt.Errorf("%w: refusing to remove user %s", ErrForeignUser, names.User)
		}
		if err := m.run(ctx, "userdel", append(pre, names.User)...); err != nil {
			return fmt.Errorf("account: instance %s: removing user: %w", name, err)
		}
	}
	// userdel removes the user's group only under USERGROUPS_ENAB; make
	// sure, reading again.
	if _, gs, err = m.readDB(); err != nil {
		return err
	}
	if findGroup(gs, names.Group) != nil {
		if err := m.run(ctx, "groupdel", append(pre, names.Group)...); err != nil {
			return fmt.Errorf("account: instance %s: removing group: %w", name, err)
		}
	}
	m.log.Info("account: removed user", "instance", name, "user", names.User)
	return nil
}

func (m *Manager) run(ctx context.Context, prog string, args ...string) error {
	path, err := exec.LookPath(prog)
	if err != nil {
		// Not root's PATH: the shadow tools live in sbin.
		for _, d := range []string{"/usr/sbin", "/sbin"} {
			if _, serr := os.Stat(filepath.Join(d, prog)); serr == nil {
				path, err = filepath.Join(d, prog), nil
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s not found (install the passwd package): %w", prog, err)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", prog, err, bytes.TrimSpace(out))
	}
	return nil
}

// Credential returns the credential a child process needs to run as the
// account: uid, gid, no supplementary groups. Nil in unprivileged mode
// (the child keeps the caller's identity).
func (a *Account) Credential() *syscall.Credential {
	if !a.Privileged {
		return nil
	}
	return &syscall.Credential{Uid: uint32(a.UID), Gid: uint32(a.GID), Groups: []uint32{}, NoSetGroups: false}
}
