package venv

import (
	"bufio"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed templates/activate templates/activate.csh templates/activate.fish
var templates embed.FS

// Version is written to pyvenv.cfg as the creating tool's version.
const Version = "0.1.0"

// CreateOptions controls Create. The zero value makes a plain venv like
// `python -m venv --without-pip DIR`.
type CreateOptions struct {
	// SystemSitePackages gives the venv access to the base interpreter's
	// site-packages (include-system-site-packages = true).
	SystemSitePackages bool
	// Prompt is shown by the activation scripts; empty means the base
	// name of the directory, as venv does.
	Prompt string
	// CacheDir is the interpreter facts cache (see InspectOptions),
	// accepted for symmetry with OpenOptions: Create itself reuses py's
	// facts and runs no interpreter.
	CacheDir string
	Logger   *slog.Logger
}

// Venv is an existing virtual environment and the install scheme of its
// interpreter. All paths are absolute.
type Venv struct {
	Dir    string
	Python *Interpreter // the base interpreter the venv was made from

	Purelib string // DIR/lib/pythonX.Y/site-packages
	Platlib string // the same directory on CPython/POSIX
	Scripts string // DIR/bin
	Include string // DIR/include/site/pythonX.Y; headers go in Include/<dist name>, as pip does
	Data    string // DIR
}

// Executable is the venv's python.
func (v *Venv) Executable() string { return filepath.Join(v.Scripts, "python") }

// Create makes a virtual environment at dir from the interpreter py,
// without running Python, pip or the venv module, and returns it.
//
// Layout (as CPython's venv makes it on POSIX): pyvenv.cfg; bin/python3
// linking to the base executable, bin/python and bin/python3.X linking to
// python3; lib/pythonX.Y/site-packages; lib64 -> lib on 64-bit Linux;
// include/; activate, activate.fish and activate.csh adapted from CPython's
// templates.
//
// Atomicity: a venv is not relocatable, because its activation scripts
// and, later, script shebangs name its own directory. Nothing Create writes
// depends on where it is written, only on the final path it is told, so the
// venv is built in a sibling directory ".NAME.deploykit-*" with every file
// naming dir, and then renamed onto dir in one rename(2). dir therefore
// either does not exist (or is the empty directory it was) or is a
// complete venv; a crash leaves at most the sibling, which a later Create
// of the same dir removes once it is an hour old. dir must not exist or be
// an empty directory; otherwise the error wraps ErrExists.
func Create(ctx context.Context, dir string, py *Interpreter, opts CreateOptions) (*Venv, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &VenvError{Dir: dir, Op: "create", Err: err}
	}
	fail := func(err error) (*Venv, error) { return nil, &VenvError{Dir: abs, Op: "create", Err: err} }
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if ents, err := os.ReadDir(abs); err == nil && len(ents) > 0 {
		return fail(fmt.Errorf("%w and is not empty", ErrExists))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fail(err)
	}
	if py.Major() != 3 {
		return fail(fmt.Errorf("Python %s is not Python 3", py.Version))
	}
	parent, base := filepath.Split(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fail(err)
	}
	removeStale(parent, "."+base+".deploykit-")
	tmp, err := mkdirTemp(parent, "."+base+".deploykit-")
	if err != nil {
		return fail(err)
	}
	if err := populate(tmp, abs, py, opts); err != nil {
		os.RemoveAll(tmp)
		return fail(err)
	}
	// syscall.Rename, not os.Rename: os refuses to replace a directory, but
	// replacing an empty one is what rename(2) does atomically.
	if err := syscall.Rename(tmp, abs); err != nil {
		os.RemoveAll(tmp)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			err = fmt.Errorf("%w (created concurrently)", ErrExists)
		}
		return fail(err)
	}
	// Not fsynced, as python -m venv does not and as installs into the
	// venv are not (txn.go): a venv is atomic against a killed process,
	// and a crash of the machine may lose one just made. An fsync here
	// waits for the filesystem's journal, up to tens of milliseconds on
	// a busy disk: several times the rest of Create.
	if opts.Logger != nil {
		opts.Logger.Debug("venv created", "dir", abs, "python", py.Path, "version", py.Version)
	}
	return newVenv(abs, py), nil
}

func newVenv(dir string, py *Interpreter) *Venv {
	rel := func(key, def string) string {
		if p, ok := py.VenvPaths[key]; ok {
			return filepath.Join(dir, p)
		}
		return filepath.Join(dir, def)
	}
	mm := py.MajorMinor()
	v := &Venv{
		Dir:     dir,
		Python:  py,
		Purelib: rel("purelib", "lib/python"+mm+"/site-packages"),
		Platlib: rel("platlib", "lib/python"+mm+"/site-packages"),
		Scripts: rel("scripts", "bin"),
		Include: filepath.Join(dir, "include", "site", "python"+mm),
		Data:    dir,
	}
	return v
}

// baseExecutable is the interpreter a venv's python should run: the base
// executable, never another venv's python.
func baseExecutable(py *Interpreter) string {
	exe := py.Path
	if py.Prefix != py.BasePrefix {
		// py is itself inside a venv: its bin/python is a link to the base.
		if py.BaseExecutable != "" && py.BaseExecutable != py.Executable {
			exe = py.BaseExecutable
		} else {
			exe = py.RealPath
		}
	}
	return exe
}

func populate(tmp, final string, py *Interpreter, opts CreateOptions) error {
	v := newVenv(tmp, py)
	exe := baseExecutable(py)
	mm := py.MajorMinor()
	// tmp is new and empty: each directory is made once, parents first,
	// with no probing (what mkdir -p would do costs a failed lookup each).
	made := map[string]bool{tmp: true}
	var mkdirs func(d string) error
	mkdirs = func(d string) error {
		if made[d] {
			return nil
		}
		if !strings.HasPrefix(d, tmp+string(filepath.Separator)) {
			return os.MkdirAll(d, 0o777)
		}
		if err := mkdirs(filepath.Dir(d)); err != nil {
			return err
		}
		made[d] = true
		return mkdirNew(d)
	}
	for _, d := range []string{v.Scripts, v.Purelib, v.Platlib, filepath.Join(tmp, "include")} {
		if err := mkdirs(d); err != nil {
			return err
		}
	}
	if py.PointerBits == 64 && py.Markers["sys_platform"] == "linux" && !made[filepath.Join(tmp, "lib64")] {
		if err := os.Symlink("lib", filepath.Join(tmp, "lib64")); err != nil {
			return err
		}
	}
	links := [][2]string{{exe, "python3"}, {"python3", "python"}, {"python3", "python" + mm}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(v.Scripts, l[1])); err != nil {
			return err
		}
	}
	prompt := opts.Prompt
	if prompt == "" {
		prompt = filepath.Base(final)
	}
	implName := py.Markers["platform_python_implementation"]
	if implName == "" {
		implName = "CPython"
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "home = %s\n", filepath.Dir(exe))
	fmt.Fprintf(&cfg, "implementation = %s\n", implName)
	fmt.Fprintf(&cfg, "version_info = %s\n", py.Version)
	fmt.Fprintf(&cfg, "include-system-site-packages = %t\n", opts.SystemSitePackages)
	fmt.Fprintf(&cfg, "version = %s\n", py.Version)
	fmt.Fprintf(&cfg, "executable = %s\n", py.RealPath)
	fmt.Fprintf(&cfg, "prompt = %s\n", prompt)
	fmt.Fprintf(&cfg, "deploykit = %s\n", Version)
	// The files are new (tmp is): written with the system calls directly,
	// 0o666 less the umask as python -m venv's are.
	if err := writeNewUmasked(filepath.Join(tmp, "pyvenv.cfg"), []byte(cfg.String())); err != nil {
		return err
	}
	if err := writeNewUmasked(filepath.Join(tmp, ".gitignore"), []byte("# Created by deploykit\n*\n")); err != nil {
		return err
	}
	binName := filepath.Base(v.Scripts)
	repl := strings.NewReplacer(
		"__VENV_DIR_SH__", shQuote(final),
		"__VENV_PROMPT_SH__", shQuote("("+prompt+") "),
		"__VENV_DIR__", final,
		"__VENV_NAME__", filepath.Base(final),
		"__VENV_PROMPT__", "("+prompt+") ",
		"__VENV_BIN_NAME__", binName,
		"__VENV_PYTHON__", filepath.Join(final, binName, "python"),
	)
	for _, name := range []string{"activate", "activate.csh", "activate.fish"} {
		t, err := templates.ReadFile("templates/" + name)
		if err != nil {
			return err
		}
		if err := writeNewUmasked(filepath.Join(v.Scripts, name), []byte(repl.Replace(string(t)))); err != nil {
			return err
		}
	}
	return nil
}

// mkdirTemp makes a new directory in dir named prefix and a random
// number, with mode 0o777 less the umask, as mkdir(2) makes it.
// (os.MkdirTemp makes it 0o700, and setting the venv's mode afterwards
// needs the umask, which only /proc/self/status tells without changing
// it: reading it took 0.1-0.35 ms here, up to a fifth of Create.)
func mkdirTemp(dir, prefix string) (string, error) {
	for range 10000 {
		p := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err := os.Mkdir(p, 0o777)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return p, err
	}
	return "", &os.PathError{Op: "mkdirtemp", Path: filepath.Join(dir, prefix+"*"), Err: fs.ErrExist}
}

// shQuote quotes s for POSIX shells.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// removeStale removes leftovers of killed runs: siblings with the prefix
// older than an hour (younger ones may belong to a concurrent Create).
func removeStale(dir, prefix string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// OpenOptions controls Open.
type OpenOptions struct {
	// CacheDir caches interpreter facts (see InspectOptions).
	CacheDir string
	// Python, when set, is the interpreter the caller believes the venv
	// was made from (the one it passed to Create): if bin/python leads to
	// it, Open uses its facts and runs nothing; otherwise it is ignored.
	Python *Interpreter
}

// Open returns the virtual environment at dir: it reads pyvenv.cfg and
// inspects the base interpreter bin/python leads to. The error wraps
// ErrNotVenv when dir is not a venv.
func Open(ctx context.Context, dir string, opts OpenOptions) (*Venv, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &VenvError{Dir: dir, Op: "open", Err: err}
	}
	fail := func(err error) (*Venv, error) { return nil, &VenvError{Dir: abs, Op: "open", Err: err} }
	cfg, err := readPyvenvCfg(filepath.Join(abs, "pyvenv.cfg"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(abs); errors.Is(serr, fs.ErrNotExist) {
				return fail(fmt.Errorf("%w: %w", ErrNotVenv, fs.ErrNotExist))
			}
			return fail(fmt.Errorf("%w: no pyvenv.cfg", ErrNotVenv))
		}
		return fail(err)
	}
	exe := ""
	for _, name := range []string{"python", "python3"} {
		if real, err := filepath.EvalSymlinks(filepath.Join(abs, "bin", name)); err == nil {
			exe = real
			break
		}
	}
	if exe == "" {
		if cfg["home"] == "" {
			return fail(fmt.Errorf("%w: no bin/python and no home in pyvenv.cfg", ErrNotVenv))
		}
		exe = filepath.Join(cfg["home"], "python3")
	}
	if py := opts.Python; py != nil && py.RealPath == exe {
		return newVenv(abs, py), nil
	}
	py, err := Inspect(ctx, exe, InspectOptions{CacheDir: opts.CacheDir})
	if err != nil {
		return fail(err)
	}
	return newVenv(abs, py), nil
}

func readPyvenvCfg(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			cfg[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return cfg, sc.Err()
}
