package services

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/lazyregexp"
)

// Component is one long-running process of an instance.
type Component struct {
	// Name is the component's name within its instance ("web", "worker").
	Name string
	// Instance is the name of the instance the component belongs to.
	Instance string
	// Command is the argv, placeholders already resolved (see
	// Placeholders.ExpandAll). Command[0] must be an absolute path.
	Command []string
	// Env is the component's environment (besides what the controller adds:
	// LISTEN_* for socket activation, NOTIFY_SOCKET for readiness).
	Env map[string]string
	// EnvironmentFile, when set, is read by systemd (EnvironmentFile=) or by
	// the supervisor before each start: KEY=VALUE lines, # comments. Secrets
	// belong there rather than in Env, which ends up in unit files.
	EnvironmentFile string
	// WorkingDir is the process's working directory ("" = the user's home
	// for systemd, the supervisor's directory otherwise).
	WorkingDir string

	// User and Group name the account the process runs as. UID and GID,
	// when non-zero, are used by the supervisor instead of looking the names
	// up (systemd always gets the names, or the numbers when no name is set).
	// All empty/zero: the controller's own user (root for systemd).
	User  string
	Group string
	UID   int
	GID   int

	// Listen are the sockets the controller holds and passes to the
	// component (LISTEN_FDS), in this order, from fd 3.
	Listen []Listen
	// SelfBound are TCP addresses ("127.0.0.1:8000") the component binds
	// itself, for programs that cannot take a passed socket. The
	// controller holds nothing and passes nothing for them (no LISTEN_FDS,
	// no socket unit); it probes the first for readiness when the check
	// has no address, reports them in Status.Listen (supervisor), and
	// starts the component only once they are free, so a restart (stop,
	// then start) does not race the old process for the port. Requests in
	// that window are refused: this is what a held socket avoids.
	SelfBound []string
	// Restart says when a stopped process is started again.
	Restart RestartPolicy
	// StopSignal is sent for a graceful stop (0 = SIGTERM); after StopTimeout
	// (0 = 10s) the whole process group is killed.
	StopSignal  syscall.Signal
	StopTimeout time.Duration
	// ReloadSignal is sent on Reload (0 = SIGHUP).
	ReloadSignal syscall.Signal
	// Ready says when a started component counts as up.
	Ready Readiness
	// Limits are resource limits.
	Limits Limits
	// Relax lists the hardening a component needs relaxed. Everything else
	// is locked down (see services/systemd).
	Relax Relaxations
	// After names components of other instances this one needs running
	// first, such as the host's embedded database server. systemd starts
	// them with it and orders it after them (Wants= and After=; a restart
	// of one does not restart the other). The supervisor starts each
	// instance when told to, so whoever drives it starts those first.
	After []Ref
}

// Ref names a component of an instance.
type Ref struct {
	Instance, Component string
}

// Listen is one listening socket held by the controller.
type Listen struct {
	// Name is passed in LISTEN_FDNAMES (default: the component's name).
	Name string
	// Network is "tcp" (also "tcp4"/"tcp6") or "unix".
	Network string
	// Address is "127.0.0.1:8000" / "[::1]:8000" for tcp, a path for unix.
	Address string
	// Mode is the unix socket's file mode (0 = 0660).
	Mode os.FileMode
}

// RestartPolicy says when and how a stopped component is started again.
type RestartPolicy struct {
	// When is one of RestartOnFailure (the zero value), RestartAlways,
	// RestartNever.
	When RestartWhen
	// Delay is the first backoff (0 = 100ms); the supervisor doubles it after
	// each crash, up to MaxDelay (0 = 30s). systemd uses Delay as RestartSec.
	Delay    time.Duration
	MaxDelay time.Duration
	// Burst restarts within Interval mark the component failed, a crash loop
	// (0 = 5 in 60s), as systemd's StartLimitBurst/StartLimitIntervalSec.
	Burst    int
	Interval time.Duration
}

// RestartWhen is a restart condition.
type RestartWhen string

// Restart conditions, as systemd's Restart=.
const (
	RestartOnFailure RestartWhen = ""
	RestartAlways    RestartWhen = "always"
	RestartNever     RestartWhen = "no"
)

// Readiness says when a started component is up.
type Readiness struct {
	Kind ReadyKind
	// Address is the host:port probed by ReadyTCP and ReadyHTTP (default:
	// the first TCP listen address).
	Address string
	// Path is the HTTP path probed by ReadyHTTP ("/" by default); any status
	// below 500 counts as up.
	Path string
	// Timeout bounds the wait (0 = 30s).
	Timeout time.Duration
}

// ReadyKind is a readiness check.
type ReadyKind string

// Readiness checks.
const (
	ReadyNone   ReadyKind = ""       // up once started
	ReadyTCP    ReadyKind = "tcp"    // up once Address accepts a connection
	ReadyHTTP   ReadyKind = "http"   // up once GET Address/Path answers
	ReadyNotify ReadyKind = "notify" // up once it sends READY=1 (sd_notify)
)

// Limits are resource limits. Zero means unlimited / inherited.
type Limits struct {
	MemoryMax   int64  // bytes (cgroup; systemd only)
	TasksMax    int    // processes+threads (cgroup; systemd only)
	LimitNOFILE uint64 // RLIMIT_NOFILE, both controllers
}

// Relaxations are the hardening exceptions a component asks for. The zero
// value keeps everything locked down.
type Relaxations struct {
	// WritablePaths may be written besides the component's own state
	// directories (systemd: ReadWritePaths=).
	WritablePaths []string
	// AllowWriteExecute lets the process map writable+executable memory
	// (JITs, some ctypes/cffi uses; systemd: MemoryDenyWriteExecute=no).
	AllowWriteExecute bool
	// AllowHome keeps /home, /root and /run/user visible (ProtectHome=no).
	AllowHome bool
	// AddressFamilies adds socket families to AF_UNIX, AF_INET, AF_INET6
	// (e.g. "AF_NETLINK").
	AddressFamilies []string
	// SystemCalls adds syscall groups or names to the allow list
	// (e.g. "@resources").
	SystemCalls []string
}

// Sentinel errors.
var (
	ErrInvalid   = errors.New("invalid component")
	ErrNotFound  = errors.New("no such component or instance")
	ErrCollision = errors.New("name collision")
)

// ComponentError is a problem with one component's definition.
type ComponentError struct {
	Instance, Component string
	Field               string
	Err                 error
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("instance %q component %q: %s: %v", e.Instance, e.Component, e.Field, e.Err)
}

func (e *ComponentError) Unwrap() error { return e.Err }

var (
	instanceRe  = lazyregexp.New(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	componentRe = lazyregexp.New(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// ValidInstanceName reports whether s may name an instance: lower-case ASCII
// letters, digits, '-' and '_', starting with a letter or digit, at most 63
// characters — safe in unit names, user names and paths.
func ValidInstanceName(s string) bool { return instanceRe.MatchString(s) }

// ValidComponentName reports whether s may name a component (same rules as
// an instance name).
func ValidComponentName(s string) bool { return componentRe.MatchString(s) }

// Validate checks a component's definition; errors are *ComponentError
// wrapping ErrInvalid.
func (c *Component) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ComponentError{Instance: c.Instance, Component: c.Name, Field: field,
			Err: fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))}
	}
	if !ValidInstanceName(c.Instance) {
		return bad("instance", "name must match %s", instanceRe)
	}
	if !ValidComponentName(c.Name) {
		return bad("name", "name must match %s", componentRe)
	}
	if len(c.Command) == 0 || c.Command[0] == "" {
		return bad("command", "empty")
	}
	if !filepath.IsAbs(c.Command[0]) {
		return bad("command", "%q is not an absolute path", c.Command[0])
	}
	for _, a := range c.Command {
		if strings.ContainsAny(a, "\x00\n") {
			return bad("command", "argument %q contains NUL or newline", a)
		}
	}
	for k, v := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00\n ") {
			return bad("env", "bad variable name %q", k)
		}
		if strings.ContainsAny(v, "\x00\n") {
			return bad("env", "value of %s contains NUL or newline", k)
		}
	}
	if c.WorkingDir != "" && !filepath.IsAbs(c.WorkingDir) {
		return bad("working_dir", "%q is not absolute", c.WorkingDir)
	}
	if c.EnvironmentFile != "" && !filepath.IsAbs(c.EnvironmentFile) {
		return bad("environment_file", "%q is not absolute", c.EnvironmentFile)
	}
	if c.UID < 0 || c.GID < 0 {
		return bad("uid", "negative uid/gid")
	}
	for _, s := range []string{c.User, c.Group} {
		if strings.ContainsAny(s, " \n\x00:/") {
			return bad("user", "bad user/group name %q", s)
		}
	}
	names := map[string]bool{}
	for i, l := range c.Listen {
		switch l.Network {
		case "tcp", "tcp4", "tcp6":
			if _, _, err := net.SplitHostPort(l.Address); err != nil {
				return bad("listen", "#%d: %v", i, err)
			}
		case "unix":
			if !filepath.IsAbs(l.Address) {
				return bad("listen", "#%d: unix socket path %q is not absolute", i, l.Address)
			}
		default:
			return bad("listen", "#%d: network %q (want tcp or unix)", i, l.Network)
		}
		n := l.FDName(c.Name)
		if strings.ContainsAny(n, ": \n") {
			return bad("listen", "#%d: bad fd name %q", i, n)
		}
		names[n] = true
	}
	for i, a := range c.SelfBound {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return bad("self_bound", "#%d: %v", i, err)
		}
		for _, l := range c.Listen {
			if strings.HasPrefix(l.Network, "tcp") && l.Address == a {
				return bad("self_bound", "%s is also a listen socket the controller holds", a)
			}
		}
	}
	for _, r := range c.After {
		if !ValidInstanceName(r.Instance) || !ValidComponentName(r.Component) {
			return bad("after", "bad component reference %q/%q", r.Instance, r.Component)
		}
		if r.Instance == c.Instance {
			return bad("after", "%s/%s is of the same instance", r.Instance, r.Component)
		}
	}
	switch c.Restart.When {
	case RestartOnFailure, RestartAlways, RestartNever:
	default:
		return bad("restart", "unknown policy %q", c.Restart.When)
	}
	switch c.Ready.Kind {
	case ReadyNone, ReadyNotify:
	case ReadyTCP, ReadyHTTP:
		if c.Ready.Address == "" && c.FirstTCP() == "" {
			return bad("ready", "%s check needs an address, a tcp listen socket or a self-bound address", c.Ready.Kind)
		}
	default:
		return bad("ready", "unknown readiness %q", c.Ready.Kind)
	}
	if c.Limits.MemoryMax < 0 || c.Limits.TasksMax < 0 {
		return bad("limits", "negative limit")
	}
	for _, p := range c.Relax.WritablePaths {
		if !filepath.IsAbs(p) {
			return bad("relax", "writable path %q is not absolute", p)
		}
	}
	return nil
}

// FDName is the LISTEN_FDNAMES entry for l in component comp.
func (l Listen) FDName(comp string) string {
	if l.Name != "" {
		return l.Name
	}
	return comp
}

// FirstTCP returns the address of the component's first TCP listen socket,
// else its first self-bound address, or "".
func (c *Component) FirstTCP() string {
	for _, l := range c.Listen {
		if strings.HasPrefix(l.Network, "tcp") {
			return l.Address
		}
	}
	if len(c.SelfBound) > 0 {
		return c.SelfBound[0]
	}
	return ""
}

// ValidateAll validates components of one instance and checks their names
// are unique. All errors are joined.
func ValidateAll(comps []Component) error {
	var errs []error
	seen := map[string]bool{}
	inst := ""
	for i := range comps {
		c := &comps[i]
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if inst == "" {
			inst = c.Instance
		} else if c.Instance != inst {
			errs = append(errs, &ComponentError{Instance: c.Instance, Component: c.Name, Field: "instance",
				Err: fmt.Errorf("%w: components of instances %q and %q mixed", ErrInvalid, inst, c.Instance)})
		}
		if seen[c.Name] {
			errs = append(errs, &ComponentError{Instance: c.Instance, Component: c.Name, Field: "name",
				Err: fmt.Errorf("%w: component defined twice", ErrCollision)})
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}

// EnvList returns Env as sorted KEY=VALUE strings.
func (c *Component) EnvList() []string {
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + c.Env[k]
	}
	return out
}

// Defaults used when a field is zero.
const (
	DefaultStopTimeout   = 10 * time.Second
	DefaultRestartDelay  = 100 * time.Millisecond
	DefaultRestartMax    = 30 * time.Second
	DefaultBurst         = 5
	DefaultBurstInterval = 60 * time.Second
	DefaultReadyTimeout  = 30 * time.Second
)

// StopSig returns StopSignal or SIGTERM.
func (c *Component) StopSig() syscall.Signal {
	if c.StopSignal == 0 {
		return syscall.SIGTERM
	}
	return c.StopSignal
}

// ReloadSig returns ReloadSignal or SIGHUP.
func (c *Component) ReloadSig() syscall.Signal {
	if c.ReloadSignal == 0 {
		return syscall.SIGHUP
	}
	return c.ReloadSignal
}

// StopWait returns StopTimeout or DefaultStopTimeout.
func (c *Component) StopWait() time.Duration {
	if c.StopTimeout <= 0 {
		return DefaultStopTimeout
	}
	return c.StopTimeout
}

// WithDefaults returns r with zero fields set to the defaults.
func (r RestartPolicy) WithDefaults() RestartPolicy {
	if r.Delay <= 0 {
		r.Delay = DefaultRestartDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = DefaultRestartMax
	}
	if r.MaxDelay < r.Delay {
		r.MaxDelay = r.Delay
	}
	if r.Burst <= 0 {
		r.Burst = DefaultBurst
	}
	if r.Interval <= 0 {
		r.Interval = DefaultBurstInterval
	}
	return r
}
