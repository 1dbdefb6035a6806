package instance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/Masterminds/semver/v3"

	"github.com/deploykit/deploykit/internal/lazyregexp"
	"github.com/deploykit/deploykit/services"
)

// Spec is an application spec (app.toml): what an application is, with no
// instance-specific values. Two instances of one Spec differ only in what is
// derived from their names (see Vars).
type Spec struct {
	// Name of the application ("demo"). Lower-case letters, digits and '-'.
	Name string `toml:"name" json:"name"`
	// Python is a semver constraint on the interpreter version
	// (">=3.9, <3.14"); "" accepts any Python 3.
	Python string `toml:"python" json:"python,omitempty"`
	// Requirements are pip requirements files, relative to Dir.
	Requirements []string `toml:"requirements" json:"requirements,omitempty"`
	// Packages are inline PEP 508 requirements.
	Packages []string `toml:"packages" json:"packages,omitempty"`
	// Env is added to every component's and hook's environment;
	// values may use placeholders.
	Env map[string]string `toml:"env" json:"env,omitempty"`
	// Database is nil when the application needs no database.
	Database *DatabaseSpec `toml:"database" json:"database,omitempty"`
	// Broker is nil when the application needs no message broker.
	Broker *BrokerSpec `toml:"broker" json:"broker,omitempty"`
	Hooks  HooksSpec   `toml:"hooks" json:"hooks"`
	// Services are the long-running components, by name.
	Services map[string]ServiceSpec `toml:"services" json:"services,omitempty"`

	// Dir is the directory the spec was read from; relative paths in the
	// spec are relative to it. Not part of the TOML.
	Dir string `toml:"-" json:"dir,omitempty"`
	// File is the spec's file name, for error messages. Not part of the TOML.
	File string `toml:"-" json:"file,omitempty"`
}

// DatabaseSpec asks for a PostgreSQL role and database per instance.
type DatabaseSpec struct {
	// Migrations is a directory (relative to the spec) of versioned SQL
	// files applied in order by instance/schema; "" for none.
	Migrations string `toml:"migrations" json:"migrations,omitempty"`
}

// BrokerSpec asks for a message broker space per instance: a RabbitMQ
// vhost and user (instance/broker). Components see BROKER_URL and
// CELERY_BROKER_URL.
type BrokerSpec struct {
	// Kind is the broker: "rabbitmq" (the default, and the only one).
	Kind string `toml:"kind" json:"kind,omitempty"`
}

// HooksSpec holds commands run during a release, in the instance's
// environment, as its user.
type HooksSpec struct {
	// Migrate runs after the SQL migrations and before the switch to the
	// new release; a non-zero exit aborts the release.
	Migrate []string `toml:"migrate" json:"migrate,omitempty"`
}

// Who binds a listening service's port (ServiceSpec.Socket).
const (
	SocketPassed = "passed"
	SocketSelf   = "self"
)

// Restart policies of a service.
const (
	RestartAlways    = "always"
	RestartOnFailure = "on-failure"
	RestartNo        = "no"
)

// ServiceSpec is one long-running component.
type ServiceSpec struct {
	// Command is the argv; placeholders are expanded per instance. A bare
	// program name is looked up in the release's venv bin/ first.
	Command []string `toml:"command" json:"command"`
	// Listen gives the service a TCP port per instance ({port}, $PORT).
	Listen bool `toml:"listen" json:"listen,omitempty"`
	// Socket says who binds a listening service's port:
	//
	//   - "passed" (the default): deploykit binds it (the supervisor, or a
	//     systemd socket unit) and passes it to the program as fd 3
	//     (LISTEN_FDS, sd_listen_fds(3)). The socket outlives the program,
	//     so a restart, an upgrade or a rollback refuses no connection:
	//     clients wait in the backlog. gunicorn takes the passed socket by
	//     itself; uvicorn with --fd 3.
	//   - "self": the program binds {port} itself (python -m http.server
	//     {port}, Django's runserver, uvicorn --port {port}, Flask's
	//     app.run). It gets {port} and $PORT, no LISTEN_FDS, no socket
	//     unit. What is lost: a restart is stop, then start, and requests
	//     in between are refused. An upgrade still health-checks the new
	//     release and rolls back if it fails.
	Socket string `toml:"socket" json:"socket,omitempty"`
	// Restart is "always", "on-failure" (default) or "no".
	Restart string `toml:"restart" json:"restart,omitempty"`
	// Health is the HTTP path checked after a (re)start of a listening
	// service; default "/". A 2xx/3xx answer means healthy.
	Health string `toml:"health" json:"health,omitempty"`
	// Env is added to this service's environment.
	Env map[string]string `toml:"env" json:"env,omitempty"`
	// Ready is the readiness check after a start: "http" (default for a
	// listening service: GET Health), "tcp", "notify" (sd_notify READY=1)
	// or "none".
	Ready string `toml:"ready" json:"ready,omitempty"`
	// StopTimeout is the graceful-stop wait in seconds (0 = 10).
	StopTimeout int `toml:"stop_timeout" json:"stop_timeout,omitempty"`

	// Relaxations of the hardened sandbox (services/systemd); everything
	// not relaxed here stays locked down.

	// ReadWritePaths are extra paths the service may write (the
	// instance's data/ run/ log/ always are writable).
	ReadWritePaths []string `toml:"read_write_paths" json:"read_write_paths,omitempty"`
	// AllowWriteExecute permits W+X memory (JITs, some cffi uses).
	AllowWriteExecute bool `toml:"allow_write_execute" json:"allow_write_execute,omitempty"`
	// AllowHome keeps /home, /root and /run/user visible.
	AllowHome bool `toml:"allow_home" json:"allow_home,omitempty"`
	// AddressFamilies adds socket families to AF_UNIX/AF_INET/AF_INET6.
	AddressFamilies []string `toml:"address_families" json:"address_families,omitempty"`
	// SystemCalls adds syscall groups or names to the allow list.
	SystemCalls []string `toml:"system_calls" json:"system_calls,omitempty"`
}

// ErrInvalidSpec is matched (errors.Is) by every *SpecError.
var ErrInvalidSpec = errors.New("invalid application spec")

// SpecError is a problem in an application spec, at a key and line.
type SpecError struct {
	File string // spec file name, as given
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key ("services.web.command"), "" for syntax errors
	Err  error
}

func (e *SpecError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("spec")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *SpecError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInvalidSpec) true for every SpecError.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

var (
	nameRE      = lazyregexp.New(`^[a-z][a-z0-9-]{0,30}$`)
	envNameRE   = lazyregexp.New(`^[A-Za-z_][A-Za-z0-9_]*$`)
	reservedEnv = map[string]bool{"DATABASE_URL": true, "PORT": true, "DEPLOYKIT_INSTANCE": true, "LISTEN_FDS": true, "LISTEN_PID": true, "LISTEN_FDNAMES": true}
	tomlErrRE   = lazyregexp.New(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)
)

// LoadSpec reads and validates an application spec file, including that
// the files it names exist.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading spec: %w", err) // names the file
	}
	s, err := ParseSpec(data, path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	s.Dir = abs
	if err := s.checkFiles(data); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseSpec decodes and validates a spec held in memory; file is used in
// errors only, and Dir is left empty. It does not touch the file system.
func ParseSpec(data []byte, file string) (*Spec, error) {
	var s Spec
	md, err := toml.Decode(string(data), &s)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &SpecError{File: file, Line: pe.Position.Line, Key: pe.LastKey, Err: errors.New(pe.Message)}
		}
		// Type mismatches come as plain errors with the position in text.
		if m := tomlErrRE.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &SpecError{File: file, Line: line, Key: m[2], Err: errors.New(m[3])}
		}
		return nil, &SpecError{File: file, Err: err}
	}
	s.File = file
	lines := keyLines(data)
	var errs []error
	bad := func(key string, format string, args ...any) {
		errs = append(errs, &SpecError{File: file, Line: lineOf(lines, key), Key: key, Err: fmt.Errorf(format, args...)})
	}
	for _, k := range md.Undecoded() {
		// Unknown keys are errors: a typo ("requirement") must not be
		// silently ignored.
		bad(k.String(), "unknown key")
	}
	s.validate(bad)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

func (s *Spec) validate(bad func(key, format string, args ...any)) {
	if s.Name == "" {
		bad("name", "missing: the application's name is required")
	} else if !nameRE.MatchString(s.Name) {
		bad("name", "%q is not a valid name (lower-case letters, digits and '-', starting with a letter, at most 31 characters)", s.Name)
	}
	if s.Python != "" {
		if _, err := semver.NewConstraint(s.Python); err != nil {
			bad("python", "%q is not a version constraint (write one such as \">=3.9, <3.14\")", s.Python)
		}
	}
	for i, r := range s.Requirements {
		if strings.TrimSpace(r) == "" {
			bad("requirements", "entry %d is empty", i+1)
		}
	}
	for i, p := range s.Packages {
		if strings.TrimSpace(p) == "" {
			bad("packages", "entry %d is empty", i+1)
		}
	}
	checkEnv := func(key string, env map[string]string) {
		for _, k := range sortedKeys(env) {
			if !envNameRE.MatchString(k) {
				bad(key+"."+k, "not a valid environment variable name")
			} else if reservedEnv[k] {
				bad(key+"."+k, "%s is set by deploykit and cannot be overridden", k)
			}
			if err := checkPlaceholders(env[k]); err != nil {
				bad(key+"."+k, "%v", err)
			}
		}
	}
	checkEnv("env", s.Env)
	if s.Broker != nil {
		switch s.Broker.Kind {
		case "", "rabbitmq":
		default:
			bad("broker.kind", "%q is not a known broker (rabbitmq)", s.Broker.Kind)
		}
		envs := map[string]map[string]string{"env": s.Env}
		for _, n := range sortedKeys(s.Services) {
			envs["services."+n+".env"] = s.Services[n].Env
		}
		for _, key := range sortedKeys(envs) {
			for _, k := range []string{"BROKER_URL", "CELERY_BROKER_URL"} {
				if _, ok := envs[key][k]; ok {
					bad(key+"."+k, "%s is set by deploykit for the [broker] and cannot be overridden", k)
				}
			}
		}
	}
	checkArgv := func(key string, argv []string, required bool) {
		if len(argv) == 0 {
			if required {
				bad(key, "missing: a command (array of strings) is required")
			}
			return
		}
		if strings.TrimSpace(argv[0]) == "" {
			bad(key, "the program name is empty")
		}
		for _, a := range argv {
			if err := checkPlaceholders(a); err != nil {
				bad(key, "%v", err)
			}
		}
	}
	checkArgv("hooks.migrate", s.Hooks.Migrate, false)
	if s.Database != nil && s.Database.Migrations != "" {
		if filepath.IsAbs(s.Database.Migrations) {
			bad("database.migrations", "must be relative to the spec")
		}
	}
	listening := 0
	for _, name := range sortedKeys(s.Services) {
		svc := s.Services[name]
		key := "services." + name
		if !nameRE.MatchString(name) {
			bad(key, "service name %q is not valid (lower-case letters, digits and '-')", name)
		}
		checkArgv(key+".command", svc.Command, true)
		switch svc.Restart {
		case "", RestartAlways, RestartOnFailure, RestartNo:
		default:
			bad(key+".restart", "%q is not one of always, on-failure, no", svc.Restart)
		}
		if svc.Health != "" && !strings.HasPrefix(svc.Health, "/") {
			bad(key+".health", "must be an HTTP path starting with '/'")
		}
		switch svc.Ready {
		case "", "none", "notify":
		case "http", "tcp":
			if !svc.Listen {
				bad(key+".ready", "a %s readiness check needs listen = true", svc.Ready)
			}
		default:
			bad(key+".ready", "%q is not one of http, tcp, notify, none", svc.Ready)
		}
		if svc.StopTimeout < 0 {
			bad(key+".stop_timeout", "must not be negative")
		}
		if svc.Health != "" && !svc.Listen {
			bad(key+".health", "only a listening service (listen = true) can be health-checked")
		}
		switch svc.Socket {
		case "", SocketPassed, SocketSelf:
			if svc.Socket != "" && !svc.Listen {
				bad(key+".socket", "only a listening service (listen = true) has a socket")
			}
		default:
			bad(key+".socket", "%q is not one of passed (deploykit holds the port and passes it as fd 3), self (the program binds {port} itself)", svc.Socket)
		}
		if svc.Listen {
			listening++
		}
		checkEnv(key+".env", svc.Env)
		for _, p := range svc.ReadWritePaths {
			if !filepath.IsAbs(p) && !strings.HasPrefix(p, "{") {
				bad(key+".read_write_paths", "%q must be absolute or start with a placeholder", p)
			}
			if err := checkPlaceholders(p); err != nil {
				bad(key+".read_write_paths", "%v", err)
			}
		}
	}
	if listening == 0 && s.usesPort() {
		bad("services", "{port} is used but no service has listen = true")
	}
}

func (s *Spec) usesPort() bool {
	has := func(v string) bool { return strings.Contains(v, "{port}") }
	for _, v := range s.Env {
		if has(v) {
			return true
		}
	}
	for _, a := range s.Hooks.Migrate {
		if has(a) {
			return true
		}
	}
	for _, svc := range s.Services {
		for _, a := range svc.Command {
			if has(a) {
				return true
			}
		}
		for _, v := range svc.Env {
			if has(v) {
				return true
			}
		}
	}
	return false
}

// checkFiles verifies that the files and directories the spec names exist.
func (s *Spec) checkFiles(data []byte) error {
	lines := keyLines(data)
	var errs []error
	for _, r := range s.Requirements {
		p := s.Path(r)
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			errs = append(errs, &SpecError{File: s.File, Line: lineOf(lines, "requirements"), Key: "requirements", Err: fmt.Errorf("requirements file %s not found", p)})
		}
	}
	if s.Database != nil && s.Database.Migrations != "" {
		p := s.Path(s.Database.Migrations)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			errs = append(errs, &SpecError{File: s.File, Line: lineOf(lines, "database.migrations"), Key: "database.migrations", Err: fmt.Errorf("migrations directory %s not found", p)})
		}
	}
	return errors.Join(errs...)
}

// Path resolves a path named in the spec against the spec's directory.
func (s *Spec) Path(p string) string {
	if filepath.IsAbs(p) || s.Dir == "" {
		return p
	}
	return filepath.Join(s.Dir, p)
}

// ListeningServices returns the names of the services with listen = true,
// sorted; the first one's port is what {port} means outside a service.
func (s *Spec) ListeningServices() []string {
	var out []string
	for _, n := range sortedKeys(s.Services) {
		if s.Services[n].Listen {
			out = append(out, n)
		}
	}
	return out
}

// Encode renders the spec as TOML (as stored in a release's spec copy).
func (s *Spec) Encode() ([]byte, error) {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Vars are the values of the placeholders for one instance.
type Vars struct {
	Instance string // {instance}: the instance name
	Home     string // {home}: the instance directory
	Venv     string // {venv}: the current release's venv
	Port     int    // {port}: the service's port (or the first listening service's)
	Run      string // {run}: runtime dir (sockets, pid files)
	Data     string // {data}: persistent data dir
}

// Placeholders returns the services package's placeholder values.
func (v Vars) Placeholders() services.Placeholders {
	p := services.Placeholders{Instance: v.Instance, Home: v.Home, Venv: v.Venv, Run: v.Run, Data: v.Data}
	if v.Port > 0 {
		p.Port = strconv.Itoa(v.Port)
	}
	return p
}

// Expand replaces the placeholders in s ("{{" and "}}" are literal
// braces); an unknown placeholder, or {port} where there is none, is an
// error.
func (v Vars) Expand(s string) (string, error) { return v.Placeholders().Expand(s) }

// ExpandAll expands every element of argv.
func (v Vars) ExpandAll(argv []string) ([]string, error) { return v.Placeholders().ExpandAll(argv) }

// checkPlaceholders validates placeholders with dummy values; a missing
// listening service for {port} is checked separately.
func checkPlaceholders(s string) error {
	p := services.Placeholders{Instance: "i", Home: "/h", Venv: "/v", Port: "1", Run: "/r", Data: "/d"}
	if _, err := p.Expand(s); err != nil {
		var pe *services.PlaceholderError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s (known: {instance} {home} {venv} {port} {run} {data}; write {{ and }} for literal braces)", pe.Msg)
		}
		return err
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// keyLines maps dotted keys to the line where they are defined, by a
// line scan of the TOML text: the decoder does not expose key positions.
// It understands [table] headers, [[array]] headers and key = value lines;
// continuation lines of multi-line values are skipped because they do not
// look like key = value at the start (good enough for error positions).
func keyLines(data []byte) map[string]int {
	out := map[string]int{}
	table := ""
	inMulti := ""
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		if inMulti != "" {
			if strings.Count(t, inMulti)%2 == 1 {
				inMulti = ""
			}
			continue
		}
		if t == "" || t[0] == '#' {
			continue
		}
		if strings.HasPrefix(t, "[") {
			h := strings.Trim(t, "[] \t")
			if j := strings.Index(h, "]"); j >= 0 {
				h = h[:j]
			}
			table = normKey(h)
			// [services.web] also defines "services" at this line.
			for k := table; ; {
				if _, ok := out[k]; !ok {
					out[k] = n
				}
				j := strings.LastIndex(k, ".")
				if j < 0 {
					break
				}
				k = k[:j]
			}
			continue
		}
		eq := strings.Index(t, "=")
		if eq <= 0 {
			continue
		}
		k := normKey(t[:eq])
		if table != "" {
			k = table + "." + k
		}
		if _, ok := out[k]; !ok {
			out[k] = n
		}
		rest := t[eq+1:]
		for _, q := range []string{`"""`, `'''`} {
			if strings.Count(rest, q)%2 == 1 {
				inMulti = q
			}
		}
	}
	return out
}

func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// lineOf finds the line of key, else of its nearest defined parent.
func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if n, ok := lines[k]; ok {
			return n
		}
		j := strings.LastIndex(k, ".")
		if j < 0 {
			break
		}
		k = k[:j]
	}
	return 0
}
