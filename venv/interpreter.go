package venv

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/errgroup"

	"github.com/deploykit/deploykit/internal/lazyregexp"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
)

//go:embed pyscripts/facts.py
var factsScript string

// Interpreter is what one run of a Python interpreter says about itself.
// The JSON field names are those facts.py prints; they are also the shape
// of the on-disk cache.
type Interpreter struct {
	// Path is the executable as found or given (absolute, not resolved),
	// RealPath the same with symlinks resolved.
	Path     string `json:"path"`
	RealPath string `json:"real_path"`

	Executable     string `json:"executable"`      // sys.executable
	BaseExecutable string `json:"base_executable"` // sys._base_executable (3.11+), else sys.executable

	Version               string `json:"version"`      // platform.python_version(): "3.11.7", "3.13.0rc1"
	VersionInfo           []any  `json:"version_info"` // sys.version_info: [3, 11, 7, "final", 0]
	Implementation        string `json:"implementation"`
	ImplementationVersion string `json:"implementation_version"`
	CacheTag              string `json:"cache_tag"` // "cpython-311": names __pycache__ files
	Magic                 string `json:"magic"`     // importlib.util.MAGIC_NUMBER, hex

	Prefix         string `json:"prefix"`
	BasePrefix     string `json:"base_prefix"`
	ExecPrefix     string `json:"exec_prefix"`
	BaseExecPrefix string `json:"base_exec_prefix"`

	// Paths are sysconfig.get_paths() of the interpreter itself (stdlib,
	// purelib, platlib, scripts, include, data, …).
	Paths map[string]string `json:"paths"`
	// VenvPaths are the same keys for a virtual environment made from this
	// interpreter, relative to the environment's root
	// ("lib/python3.11/site-packages", "bin", "include/python3.11", "").
	VenvPaths map[string]string `json:"venv_paths"`

	// Platform tag facts, the inputs of the wheel tag computation
	// (packaging.tags): sysconfig.get_platform(), SOABI, EXT_SUFFIX, …
	Platform     string `json:"platform"`
	SOABI        string `json:"soabi"`
	ExtSuffix    string `json:"ext_suffix"`
	PyDebug      bool   `json:"py_debug"`
	WithPymalloc bool   `json:"with_pymalloc"`
	GILDisabled  bool   `json:"gil_disabled"`
	PointerBits  int    `json:"pointer_bits"`
	Libc         string `json:"libc"` // os.confstr("CS_GNU_LIBC_VERSION"): "glibc 2.36"; "" elsewhere

	// TagFacts feed dist.SupportedTags: the wheel tags this interpreter
	// accepts, exactly as packaging.tags.sys_tags() computes them.
	TagFacts dist.TagFacts `json:"tag_facts"`

	FSEncoding string `json:"fs_encoding"`

	// Markers is the PEP 508 marker environment (without "extra"), from
	// requirements.EnvironmentScript run in the same process; it converts
	// directly to requirements.Environment.
	Markers map[string]string `json:"markers"`

	// Stamp is the cache key the facts were stored under (path, size,
	// mtime); empty when they were not cached.
	Stamp string `json:"stamp,omitempty"`
}

// Major and Minor return the language version numbers.
func (py *Interpreter) Major() int { return py.versionPart(0) }

// Minor returns the minor version number (11 for 3.11.7).
func (py *Interpreter) Minor() int { return py.versionPart(1) }

func (py *Interpreter) versionPart(i int) int {
	if i < len(py.VersionInfo) {
		if f, ok := py.VersionInfo[i].(float64); ok {
			return int(f)
		}
	}
	parts := strings.SplitN(py.Version, ".", 3)
	if i < len(parts) {
		n, _ := strconv.Atoi(strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
		return n
	}
	return 0
}

// MajorMinor returns "3.11".
func (py *Interpreter) MajorMinor() string { return fmt.Sprintf("%d.%d", py.Major(), py.Minor()) }

var preRe = lazyregexp.New(`^(\d+)\.(\d+)\.(\d+)\+?([a-z]+\d*)?$`)

// SemVer returns the version as a semantic version: "3.13.0rc1" becomes
// 3.13.0-rc1, so a constraint only matches it when it names pre-releases.
func (py *Interpreter) SemVer() (*semver.Version, error) {
	m := preRe.FindStringSubmatch(py.Version)
	if m == nil {
		return semver.NewVersion(py.Version)
	}
	s := m[1] + "." + m[2] + "." + m[3]
	if m[4] != "" {
		s += "-" + m[4]
	}
	return semver.NewVersion(s)
}

func (py *Interpreter) String() string {
	return fmt.Sprintf("%s %s (%s)", py.Implementation, py.Version, py.Path)
}

// InspectOptions controls Inspect.
type InspectOptions struct {
	// CacheDir, when set, keeps interpreter facts in CacheDir/interpreters,
	// keyed by the executable's path, size and modification time, so each
	// interpreter is run once until it changes. Typically ROOT/cache.
	// Empty: the interpreter is run every time.
	CacheDir string

	depth int // launcher hops followed (one at most)
}

// Inspect runs the interpreter at path once (or reads its cached facts)
// and returns what it says about itself.
func Inspect(ctx context.Context, path string, opts InspectOptions) (*Interpreter, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &InterpreterError{Path: path, Err: err}
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, &InterpreterError{Path: abs, Err: err}
	}
	var key string
	if opts.CacheDir != "" {
		if key, err = factsKey(abs, real); err != nil {
			return nil, &InterpreterError{Path: abs, Err: err}
		}
		if py, err := readFacts(opts.CacheDir, key, abs); err == nil {
			return py, nil
		}
	} else if st, err := os.Stat(real); err != nil {
		return nil, &InterpreterError{Path: abs, Err: err}
	} else if st.IsDir() || st.Mode().Perm()&0o111 == 0 {
		return nil, &InterpreterError{Path: abs, Err: ErrNotExecutable}
	}
	cmd := exec.CommandContext(ctx, abs, "-I", "-c", factsScript, dist.TagFactsScript, requirements.EnvironmentScript)
	cmd.Env = pythonEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, &InterpreterError{Path: abs, Err: err}
	}
	var py Interpreter
	if err := json.Unmarshal(stdout.Bytes(), &py); err != nil {
		return nil, &InterpreterError{Path: abs, Err: fmt.Errorf("reading its facts: %w", err)}
	}
	// A launcher — pyenv's shims are shell scripts that exec whichever
	// Python `pyenv global` names — is not the interpreter: a venv made
	// from it would link to the script (home = …/shims, and no venv at all
	// in Python's eyes). Inspect the executable it ran instead. Its answer
	// is not cached under the launcher, whose target can change while the
	// script itself does not.
	if py.Executable != "" && filepath.IsAbs(py.Executable) && opts.depth == 0 {
		if exe, err := filepath.EvalSymlinks(py.Executable); err == nil && exe != real {
			opts.depth++
			return Inspect(ctx, py.Executable, opts)
		}
	}
	py.Path, py.RealPath = abs, real
	if key != "" {
		py.Stamp = key
		// A cache that cannot be written only costs a rerun.
		_ = writeFacts(opts.CacheDir, key, &py)
	}
	return &py, nil
}

// pythonEnv is the environment interpreters run in: the caller's, minus
// variables that would make an interpreter lie about itself.
func pythonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "__PYVENV_LAUNCHER__", "VIRTUAL_ENV":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// DiscoverOptions says where Discover looks.
type DiscoverOptions struct {
	// Paths are explicit interpreters to consider first.
	Paths []string
	// SearchPath is a PATH-style list of directories; empty means $PATH.
	SearchPath string
	// PyenvRoot holds versions/*/bin; empty means $PYENV_ROOT, else ~/.pyenv.
	PyenvRoot string
	// OnlyPaths restricts discovery to Paths (no PATH, common prefixes or
	// pyenv versions).
	OnlyPaths bool
	// CacheDir caches interpreter facts (see InspectOptions).
	CacheDir string
}

// Candidate is one interpreter Discover found, with its facts or the
// reason it could not be inspected.
type Candidate struct {
	Path        string
	Interpreter *Interpreter // nil when Err is set
	Err         error
	// Reason says why Find rejected the candidate ("" when accepted).
	Reason string
}

var pythonName = lazyregexp.New(`^python(3(\.\d+)?)?$`)

// Discover lists the interpreters on the machine: opts.Paths, then python,
// python3 and python3.N in $PATH, /usr/bin, /usr/local/bin and pyenv's
// versions/*/bin, each once (by resolved path), inspected in parallel.
// pyenv's shims directory in $PATH is skipped: its shims run the same
// interpreters, slowly (an explicit path to a shim in opts.Paths is
// followed to its interpreter).
func Discover(ctx context.Context, opts DiscoverOptions) ([]Candidate, error) {
	var paths []string
	paths = append(paths, opts.Paths...)
	if !opts.OnlyPaths {
		var dirs []string
		sp := opts.SearchPath
		if sp == "" {
			sp = os.Getenv("PATH")
		}
		dirs = append(dirs, filepath.SplitList(sp)...)
		dirs = append(dirs, "/usr/local/bin", "/usr/bin")
		root := opts.PyenvRoot
		if root == "" {
			root = os.Getenv("PYENV_ROOT")
		}
		if root == "" {
			if home, err := os.UserHomeDir(); err == nil {
				root = filepath.Join(home, ".pyenv")
			}
		}
		var shims string
		if root != "" {
			vs, _ := filepath.Glob(filepath.Join(root, "versions", "*", "bin"))
			sort.Sort(sort.Reverse(sort.StringSlice(vs)))
			dirs = append(dirs, vs...)
			shims = filepath.Join(root, "shims")
		}
		for _, d := range dirs {
			// pyenv's shims run what versions/*/bin (listed here) or
			// the system holds, through a bash pyenv that takes a second
			// or more per shim on a loaded machine, and a launcher's
			// answer is never cached: every discovery would pay it.
			if d == "" || shims != "" && filepath.Clean(d) == shims {
				continue
			}
			ents, err := os.ReadDir(d)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if pythonName.MatchString(e.Name()) {
					paths = append(paths, filepath.Join(d, e.Name()))
				}
			}
		}
	}
	seen := map[string]bool{}
	var cands []Candidate
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			cands = append(cands, Candidate{Path: p, Err: err})
			continue
		}
		key := abs
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			key = real
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		cands = append(cands, Candidate{Path: abs})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i := range cands {
		if cands[i].Err != nil {
			continue
		}
		g.Go(func() error {
			py, err := Inspect(gctx, cands[i].Path, InspectOptions{CacheDir: opts.CacheDir})
			cands[i].Interpreter, cands[i].Err = py, err
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A launcher resolves to an interpreter found on its own too: list
	// each interpreter once.
	out := cands[:0]
	found := map[string]bool{}
	for _, c := range cands {
		if c.Interpreter != nil {
			if found[c.Interpreter.RealPath] {
				continue
			}
			found[c.Interpreter.RealPath] = true
		}
		out = append(out, c)
	}
	return out, nil
}

// Find discovers interpreters and returns the newest one whose version
// satisfies constraint, a Masterminds/semver constraint such as
// ">=3.10, <3.13" ("" accepts any Python 3). When none does, the error is
// a *NoInterpreterError listing every candidate and why it was rejected.
func Find(ctx context.Context, constraint string, opts DiscoverOptions) (*Interpreter, error) {
	var c *semver.Constraints
	if strings.TrimSpace(constraint) != "" {
		var err error
		c, err = semver.NewConstraint(constraint)
		if err != nil {
			return nil, fmt.Errorf("venv: python constraint %q: %w", constraint, err)
		}
	}
	cands, err := Discover(ctx, opts)
	if err != nil {
		return nil, err
	}
	var best *Interpreter
	var bestV *semver.Version
	for i := range cands {
		cand := &cands[i]
		if cand.Err != nil {
			cand.Reason = cand.Err.Error()
			continue
		}
		py := cand.Interpreter
		v, err := py.SemVer()
		switch {
		case err != nil:
			cand.Reason = fmt.Sprintf("version %q: %v", py.Version, err)
		case py.Major() != 3:
			cand.Reason = fmt.Sprintf("Python %s is not Python 3", py.Version)
		case c != nil && !c.Check(v):
			cand.Reason = fmt.Sprintf("version %s does not satisfy %q", py.Version, constraint)
		}
		if cand.Reason != "" {
			continue
		}
		if best == nil || v.GreaterThan(bestV) {
			best, bestV = py, v
		}
	}
	if best == nil {
		return nil, &NoInterpreterError{Constraint: constraint, Candidates: cands}
	}
	return best, nil
}

// FindPython resolves what a user typed after --python: a path (anything
// with a slash), a command name such as "python3.11" (looked up in PATH), or
// a version constraint (">=3.10, <3.13", "3.11"); "" means the newest
// Python 3.
func FindPython(ctx context.Context, spec string, opts DiscoverOptions) (*Interpreter, error) {
	switch {
	case strings.ContainsRune(spec, os.PathSeparator):
		return Inspect(ctx, spec, InspectOptions{CacheDir: opts.CacheDir})
	case strings.HasPrefix(spec, "python"):
		p, err := exec.LookPath(spec)
		if err != nil {
			return nil, &InterpreterError{Path: spec, Err: err}
		}
		return Inspect(ctx, p, InspectOptions{CacheDir: opts.CacheDir})
	}
	return Find(ctx, spec, opts)
}

// InterpreterError says an interpreter could not be run or understood.
type InterpreterError struct {
	Path string
	Err  error
}

func (e *InterpreterError) Error() string {
	return "venv: interpreter " + e.Path + ": " + e.Err.Error()
}
func (e *InterpreterError) Unwrap() error { return e.Err }

// NoInterpreterError lists the interpreters Find considered and why each
// was rejected.
type NoInterpreterError struct {
	Constraint string
	Candidates []Candidate
}

func (e *NoInterpreterError) Error() string {
	var b strings.Builder
	what := "Python 3"
	if e.Constraint != "" {
		what = fmt.Sprintf("Python %q", e.Constraint)
	}
	fmt.Fprintf(&b, "venv: no interpreter matches %s", what)
	if len(e.Candidates) == 0 {
		b.WriteString(": none found")
	}
	for _, c := range e.Candidates {
		fmt.Fprintf(&b, "\n  %s: %s", c.Path, c.Reason)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoInterpreter) true.
func (e *NoInterpreterError) Is(target error) bool { return target == ErrNoInterpreter }
