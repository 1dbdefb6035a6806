package venv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

func TestCreateSatisfiesEveryInterpreter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cache := t.TempDir()
	for _, p := range testenv.Pythons(t) {
		t.Run(p.Version+strings.ReplaceAll(p.Path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			py, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "my env")
			v, err := Create(ctx, dir, py, CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(v.Executable(), "-c",
				"import sys, site; print(sys.prefix != sys.base_prefix); print(sys.prefix); print(site.getsitepackages()[0] in sys.path); print(site.getsitepackages()[0])").CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if lines[0] != "True" || lines[1] != dir || lines[2] != "True" || lines[3] != v.Purelib {
				t.Fatalf("venv python says %q; want prefix %s, site-packages %s", lines, dir, v.Purelib)
			}
			// Activation works in a real shell and names the final path.
			sh, err := exec.Command("bash", "-c", `source "$1/bin/activate" && echo "$VIRTUAL_ENV" && command -v python`, "bash", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("activate: %v\n%s", err, sh)
			}
			if got := strings.Fields(strings.ReplaceAll(string(sh), dir, "DIR")); len(got) < 1 || !strings.Contains(string(sh), dir+"\n"+dir+"/bin/python") {
				t.Fatalf("activate output %q", sh)
			}
			// pip from ensurepip's real wheel, installed by deploykit, runs.
			if pips, _ := filepath.Glob(filepath.Join(py.Paths["stdlib"], "ensurepip", "_bundled", "pip-*.whl")); len(pips) > 0 {
				sort.Strings(pips)
				pip := pips[len(pips)-1]
				if _, err := v.Install(ctx, []Wheel{{Path: pip, Requested: true}}, InstallOptions{NoCompile: true}); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(v.Executable(), "-m", "pip", "--version").CombinedOutput()
				if err != nil || !strings.Contains(string(out), v.Purelib) {
					t.Fatalf("python -m pip --version: %v\n%s", err, out)
				}
			} else {
				t.Logf("%s bundles no pip wheel (Debian's python3 does not)", py.Path)
			}
			// Open finds the same interpreter and scheme.
			w, err := Open(ctx, dir, OpenOptions{CacheDir: cache})
			if err != nil {
				t.Fatal(err)
			}
			if w.Purelib != v.Purelib || w.Python.Version != py.Version {
				t.Fatalf("Open = %+v, Create = %+v", w, v)
			}
		})
	}
}

func TestCreateSystemSitePackages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py, err := Inspect(ctx, testenv.Pythons(t)[0].Path, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "v")
	v, err := Create(ctx, dir, py, CreateOptions{SystemSitePackages: true, Prompt: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(v.Executable(), "-c", "import sys; print(any(p.startswith(sys.base_prefix) and p.endswith('site-packages') for p in sys.path))").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("system site-packages not on sys.path: %v %s", err, out)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "pyvenv.cfg"))
	if !strings.Contains(string(cfg), "include-system-site-packages = true") || !strings.Contains(string(cfg), "prompt = demo") {
		t.Fatalf("pyvenv.cfg:\n%s", cfg)
	}
}

func TestCreateRefusesNonEmptyAndLeavesNoTemp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py, err := Inspect(ctx, testenv.Pythons(t)[0].Path, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, "v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// An empty directory is fine (an instance layout may pre-create it).
	if _, err := Create(ctx, dir, py, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, dir, py, CreateOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	ents, _ := os.ReadDir(parent)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	// A failure while populating (unwritable parent) leaves nothing.
	ro := filepath.Join(parent, "ro")
	os.Mkdir(ro, 0o555)
	if os.Geteuid() != 0 {
		if _, err := Create(ctx, filepath.Join(ro, "v"), py, CreateOptions{}); err == nil {
			t.Fatal("Create in a read-only directory succeeded")
		}
	}
}

// TestCreateModesFollowTheUmask: the venv's directories and files get
// the modes python -m venv gives them under the process's umask (0o777
// and 0o666 less it), the activation scripts 0o666 less it. Not
// parallel: the umask is the process's.
func TestCreateModesFollowTheUmask(t *testing.T) {
	ctx := context.Background()
	py, err := Inspect(ctx, testenv.Pythons(t)[0].Path, InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mask := range []int{0o027, 0o002} {
		old := syscall.Umask(mask)
		parent := t.TempDir()
		dir, ref := filepath.Join(parent, "v"), filepath.Join(parent, "ref")
		_, err := Create(ctx, dir, py, CreateOptions{})
		if err == nil {
			if out, perr := exec.Command(py.Path, "-m", "venv", "--without-pip", ref).CombinedOutput(); perr != nil {
				err = fmt.Errorf("python -m venv: %v\n%s", perr, out)
			}
		}
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{".", "bin", "lib", "include", "pyvenv.cfg"} {
			want, err := os.Stat(filepath.Join(ref, rel))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.Stat(filepath.Join(dir, rel)); err != nil || got.Mode() != want.Mode() {
				t.Errorf("umask %#o: %s: %v, python -m venv's %v (%v)", mask, rel, got.Mode(), want.Mode(), err)
			}
		}
		if got, err := os.Stat(filepath.Join(dir, "bin", "activate")); err != nil || got.Mode().Perm() != os.FileMode(0o666&^mask) {
			t.Errorf("umask %#o: bin/activate: %v, want %v (%v)", mask, got.Mode(), os.FileMode(0o666&^mask), err)
		}
	}
}

func TestFindPicksNewestAndExplainsRejections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := testenv.Pythons(t)
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	opts := DiscoverOptions{Paths: append(paths, "/nonexistent/python3"), OnlyPaths: true, CacheDir: t.TempDir()}
	py, err := Find(ctx, ">=3", opts)
	if err != nil {
		t.Fatal(err)
	}
	newest := ps[len(ps)-1]
	if py.Version != newest.Version {
		t.Fatalf("Find(>=3) = %s, want newest %s", py.Version, newest.Version)
	}
	if len(ps) > 1 {
		oldest := ps[0]
		py, err = Find(ctx, "<="+oldest.Version, opts)
		if err != nil || py.Version != oldest.Version {
			t.Fatalf("Find(<=%s) = %v, %v", oldest.Version, py, err)
		}
	}
	_, err = Find(ctx, ">=4.0", opts)
	var nie *NoInterpreterError
	if !errors.As(err, &nie) || !errors.Is(err, ErrNoInterpreter) {
		t.Fatalf("Find(>=4.0) err = %v", err)
	}
	msg := err.Error()
	for _, p := range ps {
		if !strings.Contains(msg, p.Path+": version "+p.Version+" does not satisfy") {
			t.Errorf("error does not explain %s:\n%s", p.Path, msg)
		}
	}
	if !strings.Contains(msg, "/nonexistent/python3:") {
		t.Errorf("error does not list the missing explicit path:\n%s", msg)
	}
}

// TestInspectFollowsALauncherToItsInterpreter: pyenv's shims are shell
// scripts that exec the real interpreter. A venv made from the script
// would not be a venv (home = the shims dir); Inspect must name the
// interpreter the launcher ran, and Discover list it once.
func TestInspectFollowsALauncherToItsInterpreter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	real := testenv.SystemPython(t).Path
	dir := t.TempDir()
	shim := filepath.Join(dir, "shims", "python3")
	if err := os.MkdirAll(filepath.Dir(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shim, []byte("#!/bin/sh\nexec "+real+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	py, err := Inspect(ctx, shim, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if py.Path != real {
		t.Fatalf("Inspect(launcher).Path = %s, want the interpreter it runs, %s", py.Path, real)
	}
	v := filepath.Join(dir, "v")
	if _, err := Create(ctx, v, py, CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(v, "bin", "python"), "-c", "import sys; print(sys.prefix != sys.base_prefix)").Output()
	if err != nil || strings.TrimSpace(string(out)) != "True" {
		t.Fatalf("venv made through a launcher is not a venv: %q %v", out, err)
	}
	cands, err := Discover(ctx, DiscoverOptions{Paths: []string{shim, real}, OnlyPaths: true, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].Interpreter == nil || cands[0].Interpreter.Path != real {
		t.Fatalf("Discover(launcher, interpreter) = %+v, want the interpreter once", cands)
	}
}

// TestDiscoverDoesNotRunPyenvShims: pyenv puts its shims directory first
// in PATH. Each shim is a bash script that runs pyenv to pick a version,
// a second or more per shim on a loaded machine, and Inspect never caches
// a launcher's answer (its target changes with `pyenv global`). Run by
// every discovery, they made every deploykit command on a pyenv machine
// take 20 s (`deploykit venv DIR`: 0.3 s with the shims out of PATH).
// What a shim can run is under versions/*/bin, which Discover lists
// itself, or the system's python: Discover must skip the shims.
func TestDiscoverDoesNotRunPyenvShims(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	real := testenv.SystemPython(t).Path
	root := t.TempDir()
	bin := filepath.Join(root, "versions", "3.99.0", "bin")
	shims := filepath.Join(root, "shims")
	for _, d := range []string{bin, shims} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(real, filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(root, "shim-ran")
	script := "#!/bin/sh\necho \"$0\" >>" + ran + "\nexec " + real + " \"$@\"\n"
	for _, n := range []string{"python", "python3"} {
		if err := os.WriteFile(filepath.Join(shims, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cands, err := Discover(ctx, DiscoverOptions{SearchPath: shims, PyenvRoot: root, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ran); err == nil {
		t.Errorf("Discover ran pyenv's shims:\n%s", b)
	}
	want, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cands {
		found = found || c.Interpreter != nil && c.Interpreter.RealPath == want
	}
	if !found {
		t.Errorf("Discover did not find %s, which pyenv's versions hold: %+v", real, cands)
	}
}
