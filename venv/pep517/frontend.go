package pep517

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/deploykit/deploykit/internal/atomicfile"
	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/internal/flock"
	"github.com/deploykit/deploykit/internal/procgroup"
	"github.com/deploykit/deploykit/internal/tailbuf"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/venv"
)

//go:embed pyscripts/hook_runner.py
var hookRunner string

// Sentinel errors.
var (
	ErrInvalidProject      = errors.New("not a buildable Python project")
	ErrBackendFailed       = errors.New("build backend failed")
	ErrBackendUnavailable  = errors.New("build backend cannot be imported")
	ErrEditableUnsupported = errors.New("build backend does not support editable installs (PEP 660)")
	ErrNoRequirer          = errors.New("build requirements given but no Requirer to install them")
)

// ProjectError is a source tree that cannot be read as a project.
type ProjectError struct {
	Dir string
	Err error
}

func (e *ProjectError) Error() string { return fmt.Sprintf("%s: %v", e.Dir, e.Err) }
func (e *ProjectError) Unwrap() error { return e.Err }

// BuildError is a failed build step of one project. Output is the tail of
// what the backend printed (stdout and stderr together).
type BuildError struct {
	Project string // [project].name, else the directory's base name
	Dir     string
	Step    string // "install build requirements", "get_requires_for_build_wheel", "build_wheel", …
	Output  string
	Err     error
}

func (e *BuildError) Error() string {
	msg := fmt.Sprintf("building %s (%s): %s: %v", e.Project, e.Dir, e.Step, e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

func (e *BuildError) Unwrap() error { return e.Err }

// Requirer installs build requirements (PEP 508 strings) into the build
// environment at venvDir. The caller implements it with its resolver and
// installer; keeping it an interface keeps this package below them.
type Requirer interface {
	Install(ctx context.Context, venvDir string, reqs []string) error
}

// RequirerFunc adapts a function to Requirer.
type RequirerFunc func(ctx context.Context, venvDir string, reqs []string) error

// Install calls f.
func (f RequirerFunc) Install(ctx context.Context, venvDir string, reqs []string) error {
	return f(ctx, venvDir, reqs)
}

// Options configures a Frontend. Python is required; the rest may be zero.
type Options struct {
	// Python is the interpreter the build environment is made from (the
	// one the wheel will be installed for).
	Python *venv.Interpreter
	// Requirer installs [build-system] requires and what the backend's
	// get_requires_for_build_* hooks ask for. Nil: only projects with no
	// build requirements can be built.
	Requirer Requirer
	// CacheDir keeps built wheels keyed by a hash of the source tree, the
	// interpreter and the build settings (CacheDir/pep517/KEY/*.whl).
	// Empty: nothing is cached.
	CacheDir string
	// ConfigSettings is passed to every hook (PEP 517 config_settings).
	ConfigSettings map[string]any
	// OutputLimit bounds the backend output kept for a BuildError
	// (default 64 KiB, the tail is kept).
	OutputLimit int
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Frontend builds wheels from source trees in isolated build
// environments. It is safe for concurrent use.
type Frontend struct {
	opts Options
}

// New returns a Frontend.
func New(opts Options) (*Frontend, error) {
	if opts.Python == nil {
		return nil, errors.New("pep517: Options.Python is required")
	}
	if opts.OutputLimit <= 0 {
		opts.OutputLimit = 64 << 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Frontend{opts: opts}
	f.sweep()
	return f, nil
}

// Result is a built wheel.
type Result struct {
	Wheel  string // absolute path in the output directory
	Name   dist.WheelName
	Cached bool // taken from the cache, no backend ran
}

// BuildWheel builds a wheel (an editable one, PEP 660, when editable) of
// the project in srcDir into outDir and returns its path. It implements
// the Builder interface of package requirements/index.
func (f *Frontend) BuildWheel(ctx context.Context, srcDir, outDir string, editable bool) (string, error) {
	r, err := f.Build(ctx, srcDir, outDir, editable)
	if err != nil {
		return "", err
	}
	return r.Wheel, nil
}

// Build is BuildWheel with details. Steps: read [build-system]; look the
// tree up in the cache; create a fresh venv; install requires; ask the
// backend for more (get_requires_for_build_wheel/_editable) and install
// them; call build_wheel or build_editable with a private output
// directory; check the file name; store it in the cache; copy it into
// outDir under a temporary name and rename it into place. The build venv
// and every temporary file are removed whatever happens, so a failed or
// cancelled build leaves neither a partial wheel in outDir nor a cache
// entry.
func (f *Frontend) Build(ctx context.Context, srcDir, outDir string, editable bool) (*Result, error) {
	src, bs, project, err := openProject(srcDir)
	if err != nil {
		return nil, err
	}
	fail := func(step, output string, err error) (*Result, error) {
		return nil, &BuildError{Project: project, Dir: src, Step: step, Output: output, Err: err}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fail("create output directory", "", err)
	}
	unlock, err := f.lockTree(src)
	if err != nil {
		return fail("lock source tree", "", err)
	}
	defer unlock()
	var key string
	if f.opts.CacheDir != "" {
		// Hashed under the lock: a concurrent build of the same tree has
		// finished by now, and its wheel is found here.
		key, err = f.cacheKey(src, bs, editable)
		if err != nil {
			return fail("hash source tree", "", err)
		}
		if whl, ok := f.cached(key); ok {
			return f.deliver(whl, outDir, true, project, src)
		}
	}
	kind := "wheel"
	if editable {
		kind = "editable"
	}
	h, step, out, err := f.prepare(ctx, src, bs, project, kind)
	if h != nil {
		defer os.RemoveAll(h.work)
	}
	if err != nil {
		return fail(step, out, err)
	}
	work := h.work
	wheelDir := filepath.Join(work, "wheel")
	if err := os.Mkdir(wheelDir, 0o755); err != nil {
		return fail("create build directory", "", err)
	}
	hook := "build_" + kind
	ret, out, missing, err := h.call(ctx, hook, map[string]any{
		"wheel_directory": wheelDir, "config_settings": f.opts.ConfigSettings, "metadata_directory": nil,
	})
	if err != nil {
		return fail(hook, out, err)
	}
	if missing {
		if editable {
			return fail(hook, out, ErrEditableUnsupported)
		}
		return fail(hook, out, fmt.Errorf("%w: backend %s has no build_wheel hook", ErrBackendFailed, bs.BuildBackend))
	}
	var name string
	if err := json.Unmarshal(ret, &name); err != nil || name == "" || filepath.Base(name) != name {
		return fail(hook, out, fmt.Errorf("%w: hook returned %s, not a file name", ErrBackendFailed, ret))
	}
	built := filepath.Join(wheelDir, name)
	if st, err := os.Stat(built); err != nil || !st.Mode().IsRegular() {
		return fail(hook, out, fmt.Errorf("%w: hook returned %q but wrote no such file", ErrBackendFailed, name))
	}
	if _, err := dist.ParseWheelFilename(name, false); err != nil {
		return fail(hook, out, fmt.Errorf("%w: %w", ErrBackendFailed, err))
	}
	f.opts.Logger.Debug("built", "project", project, "wheel", name)
	if key != "" {
		if p, err := f.store(key, built); err != nil {
			f.opts.Logger.Warn("could not cache the built wheel", "project", project, "err", err)
		} else {
			built = p
		}
	}
	return f.deliver(built, outDir, false, project, src)
}

// openProject resolves srcDir and reads its [build-system]; project is
// the name errors use: the declared project name, else the directory's.
func openProject(srcDir string) (src string, bs BuildSystem, project string, err error) {
	src, err = filepath.Abs(srcDir)
	if err != nil {
		return "", BuildSystem{}, "", &ProjectError{Dir: srcDir, Err: err}
	}
	bs, err = ReadBuildSystem(src)
	if err != nil {
		return "", BuildSystem{}, "", err
	}
	project = bs.ProjectName
	if project == "" {
		project = filepath.Base(src)
	}
	return src, bs, project, nil
}

// prepare makes the isolated build environment for kind ("wheel" or
// "editable"): a fresh venv in a new work directory with the
// [build-system] requires and the backend's get_requires_for_build_KIND
// installed. The caller removes h.work (also after an error, when h is
// not nil).
func (f *Frontend) prepare(ctx context.Context, src string, bs BuildSystem, project, kind string) (h *hookCaller, step, output string, err error) {
	work, err := os.MkdirTemp(f.workParent(), "deploykit-pep517-")
	if err != nil {
		return nil, "create build directory", "", err
	}
	h = &hookCaller{f: f, src: src, work: work, bs: bs}
	f.opts.Logger.Debug("creating build environment", "project", project, "requires", bs.Requires, "backend", bs.BuildBackend)
	h.env, err = venv.Create(ctx, filepath.Join(work, "env"), f.opts.Python, venv.CreateOptions{})
	if err != nil {
		return h, "create build environment", "", err
	}
	if err := f.require(ctx, h.env.Dir, bs.Requires); err != nil {
		return h, "install build requirements " + strings.Join(bs.Requires, ", "), "", err
	}
	hook := "get_requires_for_build_" + kind
	ret, out, missing, err := h.call(ctx, hook, map[string]any{"config_settings": f.opts.ConfigSettings})
	if err != nil {
		return h, hook, out, err
	}
	var extra []string
	if !missing {
		if err := json.Unmarshal(ret, &extra); err != nil {
			return h, hook, out, fmt.Errorf("%w: hook returned %s, not a list of strings", ErrBackendFailed, ret)
		}
	}
	if err := f.require(ctx, h.env.Dir, extra); err != nil {
		return h, "install backend requirements " + strings.Join(extra, ", "), "", err
	}
	return h, "", "", nil
}

func (f *Frontend) require(ctx context.Context, envDir string, reqs []string) error {
	if len(reqs) == 0 {
		return nil
	}
	if f.opts.Requirer == nil {
		return ErrNoRequirer
	}
	return f.opts.Requirer.Install(ctx, envDir, reqs)
}

// deliver copies the wheel into outDir atomically.
func (f *Frontend) deliver(wheel, outDir string, cached bool, project, src string) (*Result, error) {
	name := filepath.Base(wheel)
	wn, err := dist.ParseWheelFilename(name, false)
	if err != nil {
		return nil, &BuildError{Project: project, Dir: src, Step: "check wheel", Err: err}
	}
	dst, err := filepath.Abs(filepath.Join(outDir, name))
	if err != nil {
		return nil, &BuildError{Project: project, Dir: src, Step: "copy wheel", Err: err}
	}
	err = atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		in, err := os.Open(wheel)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(w, in)
		return err
	})
	if err != nil {
		return nil, &BuildError{Project: project, Dir: src, Step: "copy wheel", Err: err}
	}
	return &Result{Wheel: dst, Name: wn, Cached: cached}, nil
}

// hookCaller runs hooks in the build environment's interpreter.
type hookCaller struct {
	f    *Frontend
	env  *venv.Venv
	src  string
	work string
	bs   BuildSystem
	n    int
	once sync.Once
	run  string
}

// hookOutput keeps the end of a hook's output, marked with "…" when its
// start was dropped.
type hookOutput struct{ tailbuf.Buffer }

func (o *hookOutput) String() string {
	if o.Truncated() {
		return "…" + o.Buffer.String()
	}
	return o.Buffer.String()
}

// call runs one hook; ret is its JSON return value, missing reports an
// optional hook the backend does not define.
func (h *hookCaller) call(ctx context.Context, hook string, kwargs map[string]any) (ret json.RawMessage, output string, missing bool, err error) {
	h.once.Do(func() {
		h.run = filepath.Join(h.work, "hook_runner.py")
		err = os.WriteFile(h.run, []byte(hookRunner), 0o644)
	})
	if err != nil {
		return nil, "", false, err
	}
	h.n++
	reqFile := filepath.Join(h.work, fmt.Sprintf("hook-%d-request.json", h.n))
	resFile := filepath.Join(h.work, fmt.Sprintf("hook-%d-result.json", h.n))
	var bp []string
	for _, p := range h.bs.BackendPath {
		bp = append(bp, filepath.Join(h.src, p))
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	req, _ := json.Marshal(map[string]any{"backend": h.bs.BuildBackend, "backend_path": bp, "kwargs": kwargs})
	if err := os.WriteFile(reqFile, req, 0o644); err != nil {
		return nil, "", false, err
	}
	out := &hookOutput{}
	out.Max = h.f.opts.OutputLimit
	cmd := exec.CommandContext(ctx, h.env.Executable(), h.run, hook, reqFile, resFile)
	cmd.Dir = h.src
	cmd.Env = buildEnv(h.env)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	// Cancellation stops the hook and everything it started (compilers,
	// setup.py subprocesses), not only the interpreter.
	procgroup.KillOnCancel(cmd)
	start := time.Now()
	runErr := cmd.Run()
	h.f.opts.Logger.Debug("hook", "hook", hook, "elapsed", time.Since(start), "err", runErr)
	if ctx.Err() != nil {
		return nil, out.String(), false, ctx.Err()
	}
	if runErr != nil {
		return nil, out.String(), false, fmt.Errorf("%w: hook runner: %w", ErrBackendFailed, runErr)
	}
	b, err := os.ReadFile(resFile)
	if err != nil {
		return nil, out.String(), false, fmt.Errorf("%w: hook runner wrote no result: %w", ErrBackendFailed, err)
	}
	var res struct {
		Return             json.RawMessage `json:"return"`
		Missing            bool            `json:"missing"`
		BackendUnavailable bool            `json:"backend_unavailable"`
		BackendInvalid     bool            `json:"backend_invalid"`
		Error              bool            `json:"error"`
		Traceback          string          `json:"traceback"`
		Message            string          `json:"message"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, out.String(), false, fmt.Errorf("%w: hook runner result: %w", ErrBackendFailed, err)
	}
	switch {
	case res.BackendUnavailable:
		return nil, out.String() + res.Traceback, false, fmt.Errorf("%w: %s", ErrBackendUnavailable, h.bs.BuildBackend)
	case res.BackendInvalid:
		return nil, out.String(), false, fmt.Errorf("%w: %s", ErrBackendUnavailable, res.Message)
	case res.Error:
		return nil, out.String() + res.Traceback, false, fmt.Errorf("%w: %s raised an exception", ErrBackendFailed, hook)
	case res.Missing:
		return nil, out.String(), true, nil
	}
	return res.Return, out.String(), false, nil
}

// buildEnv is the environment of hook processes: the caller's, minus what
// would leak another Python setup in, with the build venv first on PATH.
func buildEnv(env *venv.Venv) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "PYTHONNOUSERSITE", "PATH", "__PYVENV_LAUNCHER__":
			continue
		}
		if strings.HasPrefix(k, "PIP_") {
			continue
		}
		out = append(out, kv)
	}
	path := env.Scripts
	if p := os.Getenv("PATH"); p != "" {
		path += string(os.PathListSeparator) + p
	}
	return append(out, "PATH="+path, "VIRTUAL_ENV="+env.Dir, "PYTHONNOUSERSITE=1", "PYTHONDONTWRITEBYTECODE=1", "SOURCE_DATE_EPOCH=315532800")
}

// Directories never part of a source tree's identity: VCS metadata and
// what builds themselves write.
var skipDirs = map[string]bool{
	".git": true, ".hg": true, ".bzr": true, ".svn": true, "__pycache__": true,
	".tox": true, ".nox": true, ".venv": true, "build": true, "dist": true, ".eggs": true,
}

// cacheKey hashes everything that decides the built wheel: the tree's
// files (path, executable bit, content; symlink targets), the backend
// settings, the interpreter and, for editable wheels, the tree's location.
func (f *Frontend) cacheKey(src string, bs BuildSystem, editable bool) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "deploykit-pep517 v1\x00%s\x00%s\x00%s\x00", f.opts.Python.RealPath, f.opts.Python.Version, f.opts.Python.SOABI)
	cfg, _ := json.Marshal(f.opts.ConfigSettings)
	fmt.Fprintf(h, "%v\x00%s\x00%q\x00%q\x00%s\x00", editable, bs.BuildBackend, bs.Requires, bs.BackendPath, cfg)
	if editable {
		fmt.Fprintf(h, "%s\x00", src)
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if p != src && (skipDirs[d.Name()] || strings.HasSuffix(d.Name(), ".egg-info")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "L\x00%s\x00%s\x00", rel, t)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			sum, err := filehash.SHA256(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "F\x00%s\x00%v\x00%s\x00", rel, info.Mode()&0o111 != 0, sum)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:20]), nil
}

func (f *Frontend) cacheDir(key string) string { return filepath.Join(f.opts.CacheDir, "pep517", key) }

// workParent is where build directories are made: CacheDir/pep517/tmp
// when there is a cache (so the ones a killed process leaves are swept by
// the next New), else the system's temporary directory.
func (f *Frontend) workParent() string {
	if f.opts.CacheDir == "" {
		return ""
	}
	dir := filepath.Join(f.opts.CacheDir, "pep517", "tmp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	return dir
}

// staleAge is how old a leftover build directory must be to be removed.
const staleAge = 24 * time.Hour

// sweep removes build directories and temporary cache entries left by
// killed processes.
func (f *Frontend) sweep() {
	if f.opts.CacheDir == "" {
		return
	}
	for _, dir := range []string{filepath.Join(f.opts.CacheDir, "pep517", "tmp"), filepath.Join(f.opts.CacheDir, "pep517")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "deploykit-pep517-") && !strings.HasPrefix(e.Name(), ".tmp-") {
				continue
			}
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAge {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// lockTree serializes builds of one source tree, across processes.
func (f *Frontend) lockTree(src string) (func(), error) {
	dir := filepath.Join(os.TempDir(), "deploykit-pep517-locks")
	if f.opts.CacheDir != "" {
		dir = filepath.Join(f.opts.CacheDir, "pep517", "locks")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(src))
	// Builds of one source tree are serialized because backends such as
	// setuptools write build/ and *.egg-info into the tree.
	return flock.Lock(filepath.Join(dir, hex.EncodeToString(sum[:12])+".lock"), 0o644, true)
}

// cached returns the wheel stored under key.
func (f *Frontend) cached(key string) (string, bool) {
	ents, err := os.ReadDir(f.cacheDir(key))
	if err != nil {
		return "", false
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".whl") && e.Type().IsRegular() {
			return filepath.Join(f.cacheDir(key), e.Name()), true
		}
	}
	return "", false
}

// store puts the wheel in the cache: written in a temporary directory,
// then renamed to KEY in one step, so an entry is complete or absent.
func (f *Frontend) store(key, wheel string) (string, error) {
	parent := filepath.Join(f.opts.CacheDir, "pep517")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data, err := os.ReadFile(wheel)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, filepath.Base(wheel)), data, 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, f.cacheDir(key)); err != nil {
		if p, ok := f.cached(key); ok { // another build stored it first
			return p, nil
		}
		return "", err
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return "", err
	}
	return filepath.Join(f.cacheDir(key), filepath.Base(wheel)), nil
}

// PrepareMetadata returns the project's core metadata: from the
// backend's prepare_metadata_for_build_wheel hook when it has one (no
// wheel is built), else from a built wheel (which then lands in the
// cache, when there is one).
func (f *Frontend) PrepareMetadata(ctx context.Context, srcDir string) (*dist.Metadata, error) {
	src, bs, project, err := openProject(srcDir)
	if err != nil {
		return nil, err
	}
	fail := func(step, output string, err error) (*dist.Metadata, error) {
		return nil, &BuildError{Project: project, Dir: src, Step: step, Output: output, Err: err}
	}
	unlock, err := f.lockTree(src)
	if err != nil {
		return fail("lock source tree", "", err)
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	h, step, out, err := f.prepare(ctx, src, bs, project, "wheel")
	if h != nil {
		defer os.RemoveAll(h.work)
	}
	if err != nil {
		return fail(step, out, err)
	}
	metaDir := filepath.Join(h.work, "metadata")
	if err := os.Mkdir(metaDir, 0o755); err != nil {
		return fail("create metadata directory", "", err)
	}
	const hook = "prepare_metadata_for_build_wheel"
	ret, out, missing, err := h.call(ctx, hook, map[string]any{"metadata_directory": metaDir, "config_settings": f.opts.ConfigSettings})
	if err != nil {
		return fail(hook, out, err)
	}
	if missing {
		unlock() // Build takes the lock itself
		locked = false
		r, err := f.Build(ctx, src, h.work, false)
		if err != nil {
			return nil, err
		}
		return dist.ReadWheelMetadata(ctx, r.Wheel)
	}
	var name string
	if err := json.Unmarshal(ret, &name); err != nil || name == "" || filepath.Base(name) != name || !strings.HasSuffix(name, ".dist-info") {
		return fail(hook, out, fmt.Errorf("%w: hook returned %s, not a .dist-info directory name", ErrBackendFailed, ret))
	}
	data, err := os.ReadFile(filepath.Join(metaDir, name, "METADATA"))
	if err != nil {
		return fail(hook, out, fmt.Errorf("%w: %w", ErrBackendFailed, err))
	}
	return dist.ParseMetadata(filepath.Join(src, name, "METADATA"), data)
}
