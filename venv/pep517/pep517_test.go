package pep517

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/dist"
	"github.com/deploykit/deploykit/requirements/pep440"
	"github.com/deploykit/deploykit/venv"
)

func interpreter(t *testing.T) *venv.Interpreter {
	t.Helper()
	py := testenv.PythonMinor(t, "3.11")
	in, err := venv.Inspect(context.Background(), py.Path, venv.InspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// inTreeProject writes a project whose backend lives in the tree
// (backend-path), with no build requirements.
func inTreeProject(t *testing.T) string {
	t.Helper()
	backend, err := os.ReadFile("testdata/inbackend.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "intree")
	writeFiles(t, dir, map[string]string{
		"pyproject.toml":              "[build-system]\nrequires = []\nbuild-backend = \"inbackend\"\nbackend-path = [\"_build\"]\n\n[project]\nname = \"intree-demo\"\n",
		"_build/inbackend.py":         string(backend),
		"src/intree_demo/__init__.py": "VALUE = 42\n",
	})
	return dir
}

// installAndRun installs the wheel into a fresh venv and runs code there.
func installAndRun(t *testing.T, py *venv.Interpreter, wheel, code string) string {
	t.Helper()
	ctx := context.Background()
	v, err := venv.Create(ctx, filepath.Join(t.TempDir(), "venv"), py, venv.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Install(ctx, []venv.Wheel{{Path: wheel}}, venv.InstallOptions{NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(v.Executable(), "-c", code).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", code, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestBuildInTreeBackend(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	fe, err := New(Options{Python: py})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	whl, err := fe.BuildWheel(context.Background(), src, out, false)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(whl) != "intree_demo-1.2.3-py3-none-any.whl" || filepath.Dir(whl) != out {
		t.Errorf("wheel %s", whl)
	}
	m, err := dist.ReadWheelMetadata(context.Background(), whl)
	if err != nil || m.Name != "intree-demo" {
		t.Fatalf("metadata %+v %v", m, err)
	}
	if got := installAndRun(t, py, whl, "import intree_demo; print(intree_demo.VALUE)"); got != "42" {
		t.Errorf("installed package says %q", got)
	}

	// PEP 660: the editable wheel imports from the source tree itself.
	ewhl, err := fe.BuildWheel(context.Background(), src, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	code := "import intree_demo; print(intree_demo.__file__)"
	if got := installAndRun(t, py, ewhl, code); got != filepath.Join(src, "src", "intree_demo", "__init__.py") {
		t.Errorf("editable install imports %q", got)
	}

	// prepare_metadata_for_build_wheel answers without a build.
	meta, err := fe.PrepareMetadata(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Version != "1.2.3" || len(meta.RequiresDist) != 1 {
		t.Errorf("PrepareMetadata = %+v", meta)
	}
}

func TestBuildCachesBySourceTree(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	fe, err := New(Options{Python: py, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r1, err := fe.Build(ctx, src, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := fe.Build(ctx, src, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Cached || !r2.Cached {
		t.Errorf("cached: first %v, second %v", r1.Cached, r2.Cached)
	}
	// Build output directories do not change the key; a source edit does.
	writeFiles(t, src, map[string]string{"build/lib/junk.py": "x", "src/intree_demo/__pycache__/x.pyc": "y"})
	if r, err := fe.Build(ctx, src, t.TempDir(), false); err != nil || !r.Cached {
		t.Errorf("after build droppings: cached=%v err=%v", r != nil && r.Cached, err)
	}
	writeFiles(t, src, map[string]string{"src/intree_demo/__init__.py": "VALUE = 43\n"})
	r3, err := fe.Build(ctx, src, t.TempDir(), false)
	if err != nil || r3.Cached {
		t.Fatalf("after an edit: %+v %v", r3, err)
	}
	if got := installAndRun(t, py, r3.Wheel, "import intree_demo; print(intree_demo.VALUE)"); got != "43" {
		t.Errorf("rebuilt wheel says %q", got)
	}
}

func noLeftovers(t *testing.T, tmp, out, cache string) {
	t.Helper()
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("output directory holds %v", ents)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temporary build files left: %v", ents)
	}
	ents, _ := os.ReadDir(filepath.Join(cache, "pep517"))
	for _, e := range ents {
		if e.Name() != "tmp" && e.Name() != "locks" {
			t.Errorf("cache entry after a failed build: %s", e.Name())
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "pep517", "tmp")); len(ents) != 0 {
		t.Errorf("build directories left: %v", ents)
	}
}

func TestFailingBackendGivesClearErrorAndLeavesNothing(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	writeFiles(t, src, map[string]string{"FAIL": ""})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cache, out := t.TempDir(), t.TempDir()
	fe, _ := New(Options{Python: py, CacheDir: cache})
	_, err := fe.BuildWheel(context.Background(), src, out, false)
	var be *BuildError
	if !errors.As(err, &be) || !errors.Is(err, ErrBackendFailed) {
		t.Fatalf("error %v", err)
	}
	if be.Project != "intree-demo" || be.Step != "build_wheel" || !strings.Contains(be.Output, "kaboom: the demo backend was told to fail") {
		t.Errorf("BuildError %+v", be)
	}
	if !strings.Contains(err.Error(), "building intree-demo") || !strings.Contains(err.Error(), "RuntimeError") {
		t.Errorf("message %q", err)
	}
	noLeftovers(t, tmp, out, cache)
}

func TestCancelledBuildIsKilledAndLeavesNothing(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	writeFiles(t, src, map[string]string{"SLEEP": ""})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cache, out := t.TempDir(), t.TempDir()
	fe, _ := New(Options{Python: py, CacheDir: cache})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := fe.BuildWheel(ctx, src, out, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	noLeftovers(t, tmp, out, cache)
}

func TestBackendErrors(t *testing.T) {
	py := interpreter(t)
	fe, _ := New(Options{Python: py})
	ctx := context.Background()

	// A backend that cannot be imported.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"no_such_backend_xyz\"\n"})
	if _, err := fe.BuildWheel(ctx, dir, t.TempDir(), false); !errors.Is(err, ErrBackendUnavailable) || !strings.Contains(err.Error(), "no_such_backend_xyz") {
		t.Errorf("missing backend: %v", err)
	}
	// No build_editable: PEP 660 unsupported.
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{
		"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\".\"]\n",
		"b.py":           "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    raise SystemExit(3)\n",
	})
	if _, err := fe.BuildWheel(ctx, dir, t.TempDir(), true); !errors.Is(err, ErrEditableUnsupported) {
		t.Errorf("editable: %v", err)
	}
	// sys.exit in a backend is a failure, not a crash of the runner.
	if _, err := fe.BuildWheel(ctx, dir, t.TempDir(), false); !errors.Is(err, ErrBackendFailed) || !strings.Contains(err.Error(), "SystemExit") {
		t.Errorf("SystemExit: %v", err)
	}
	// Requirements without a Requirer.
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{"pyproject.toml": "[build-system]\nrequires = [\"flit_core>=3\"]\nbuild-backend = \"flit_core.buildapi\"\n"})
	if _, err := fe.BuildWheel(ctx, dir, t.TempDir(), false); !errors.Is(err, ErrNoRequirer) {
		t.Errorf("no requirer: %v", err)
	}
}

func TestReadBuildSystem(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string // "" for an error
	}{
		{"legacy setup.py", map[string]string{"setup.py": ""}, "setuptools.build_meta:__legacy__ [setuptools>=40.8.0] []"},
		{"no backend", map[string]string{"pyproject.toml": "[build-system]\nrequires = [\"setuptools\", \"wheel\"]\n"}, "setuptools.build_meta:__legacy__ [setuptools wheel] []"},
		{"flit", map[string]string{"pyproject.toml": "[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n"}, "flit_core.buildapi [flit_core >=3.2,<4] []"},
		{"in-tree", map[string]string{"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"./tools/\"]\n"}, "b [] [tools]"},
		{"escape", map[string]string{"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\"../x\"]\n"}, ""},
		{"no requires", map[string]string{"pyproject.toml": "[build-system]\nbuild-backend = \"b\"\n"}, ""},
		{"nothing", map[string]string{"README": ""}, ""},
		{"only project", map[string]string{"pyproject.toml": "[project]\nname = \"x\"\n"}, ""},
		{"bad toml", map[string]string{"pyproject.toml": "[build-system\n"}, ""},
	} {
		dir := t.TempDir()
		writeFiles(t, dir, c.files)
		bs, err := ReadBuildSystem(dir)
		got := ""
		if err == nil {
			got = fmt.Sprintf("%s %v %v", bs.BuildBackend, bs.Requires, bs.BackendPath)
		} else if !errors.Is(err, ErrInvalidProject) || !strings.Contains(err.Error(), dir) {
			t.Errorf("%s: error %v does not wrap ErrInvalidProject or name the directory", c.name, err)
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q (err %v)", c.name, got, c.want, err)
		}
	}
}

// wheelRequirer installs build requirements from a fixed set of real
// wheels (ensurepip's bundled setuptools, the wheelhouse's wheel),
// checking each requirement's specifier, as a resolver would.
type wheelRequirer struct {
	t      *testing.T
	wheels []string
	calls  [][]string
}

func (r *wheelRequirer) Install(ctx context.Context, venvDir string, reqs []string) error {
	r.calls = append(r.calls, reqs)
	v, err := venv.Open(ctx, venvDir, venv.OpenOptions{})
	if err != nil {
		return err
	}
	var ws []venv.Wheel
	for _, s := range reqs {
		req, err := requirements.ParseRequirement(s)
		if err != nil {
			return err
		}
		found := false
		for _, w := range r.wheels {
			wn, err := dist.ParseWheelFilename(filepath.Base(w), false)
			if err == nil && wn.Name == requirements.NormalizeName(req.Name) && req.Specifiers.ContainsWith(wn.Version, pep440.PrereleaseDefault) {
				ws = append(ws, venv.Wheel{Path: w})
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no wheel satisfies %s", s)
		}
	}
	_, err = v.Install(ctx, ws, venv.InstallOptions{NoCompile: true})
	return err
}

func TestBuildWithRealSetuptools(t *testing.T) {
	py := interpreter(t)
	// setuptools from ensurepip's bundled wheel (pyenv builds keep it;
	// Debian strips it), else the wheelhouse's; wheel from the wheelhouse.
	bundled, _ := filepath.Glob(filepath.Join(py.Prefix, "lib", "python"+py.MajorMinor(), "ensurepip", "_bundled", "setuptools-*.whl"))
	wh := testenv.GetWheelhouse(t)
	more, _ := filepath.Glob(filepath.Join(wh.Dir, "setuptools-*.whl"))
	wheelWheel, _ := filepath.Glob(filepath.Join(wh.Dir, "wheel-*.whl"))
	if len(bundled)+len(more) == 0 || len(wheelWheel) == 0 {
		testenv.Skip(t, "no setuptools or wheel wheel: not bundled with %s, not in %s", py.Path, wh.Dir)
	}
	req := &wheelRequirer{t: t, wheels: append(append(bundled, more...), wheelWheel...)}
	fe, err := New(Options{Python: py, Requirer: req})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, pyproject string }{
		{"legacy", ""},
		{"pyproject", "[build-system]\nrequires = [\"setuptools>=40.8.0\"]\nbuild-backend = \"setuptools.build_meta\"\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "st-demo")
			files := map[string]string{
				"setup.py":            "from setuptools import setup\nsetup(name='st-demo', version='0.4.0', packages=['st_demo'], install_requires=['idna'])\n",
				"st_demo/__init__.py": "GREETING = 'hello from setuptools'\n",
			}
			if c.pyproject != "" {
				files["pyproject.toml"] = c.pyproject
			}
			writeFiles(t, dir, files)
			whl, err := fe.BuildWheel(context.Background(), dir, t.TempDir(), false)
			if err != nil {
				t.Fatal(err)
			}
			wn, err := dist.ParseWheelFilename(filepath.Base(whl), false)
			if err != nil || wn.Name != "st-demo" || wn.Version.String() != "0.4.0" {
				t.Fatalf("built %s: %v", whl, err)
			}
			m, err := dist.ReadWheelMetadata(context.Background(), whl)
			if err != nil || len(m.RequiresDist) != 1 || m.RequiresDist[0] != "idna" {
				t.Fatalf("metadata %+v %v", m, err)
			}
			if got := installAndRun(t, py, whl, "import st_demo; print(st_demo.GREETING)"); got != "hello from setuptools" {
				t.Errorf("installed package says %q", got)
			}
		})
	}
	if len(req.calls) == 0 || req.calls[0][0] != "setuptools>=40.8.0" {
		t.Errorf("Requirer calls %v", req.calls)
	}
}

func TestConcurrentBuildsOfOneTreeBuildOnce(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	fe, _ := New(Options{Python: py, CacheDir: t.TempDir()})
	results := make(chan *Result, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			r, err := fe.Build(context.Background(), src, t.TempDir(), false)
			results <- r
			errs <- err
		}()
	}
	cached := 0
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if (<-results).Cached {
			cached++
		}
	}
	if cached != 1 {
		t.Errorf("%d of 2 concurrent builds came from the cache, want 1", cached)
	}
}

func TestSweepRemovesStaleBuildDirectories(t *testing.T) {
	py := interpreter(t)
	cache := t.TempDir()
	stale := filepath.Join(cache, "pep517", "tmp", "deploykit-pep517-123")
	fresh := filepath.Join(cache, "pep517", "tmp", "deploykit-pep517-456")
	for _, d := range []string{stale, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "env"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := New(Options{Python: py, CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale build directory kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh build directory removed: %v", err)
	}
}

// TestCancelKillsTheBackendsChildren: a backend that started a child
// process does not keep the build alive after cancellation.
func TestCancelKillsTheBackendsChildren(t *testing.T) {
	py := interpreter(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	writeFiles(t, dir, map[string]string{
		"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"b\"\nbackend-path = [\".\"]\n",
		"b.py": "import subprocess, sys, time\n" +
			"def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n" +
			"    p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n" +
			"    open(" + fmt.Sprintf("%q", pidFile) + ", 'w').write(str(p.pid))\n" +
			"    p.wait()\n",
	})
	fe, _ := New(Options{Python: py})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for i := 0; i < 300; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				time.Sleep(100 * time.Millisecond)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	if _, err := fe.BuildWheel(ctx, dir, t.TempDir(), false); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("cancel took %v", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	for i := 0; i < 50; i++ {
		if err := syscallKill0(pid); err != nil {
			return // gone
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("backend child %d still running after cancellation", pid)
}

// TestPrepareMetadataFallsBackToBuilding: a backend without
// prepare_metadata_for_build_wheel gets its metadata from a built wheel.
func TestPrepareMetadataFallsBackToBuilding(t *testing.T) {
	py := interpreter(t)
	src := inTreeProject(t)
	writeFiles(t, src, map[string]string{
		"_build/nometa.py": "from inbackend import build_wheel, build_editable\n",
		"pyproject.toml":   "[build-system]\nrequires = []\nbuild-backend = \"nometa\"\nbackend-path = [\"_build\"]\n",
	})
	cache := t.TempDir()
	fe, _ := New(Options{Python: py, CacheDir: cache})
	m, err := fe.PrepareMetadata(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "intree-demo" || m.Version != "1.2.3" {
		t.Errorf("metadata %+v", m)
	}
	// The wheel it built is in the cache now.
	if r, err := fe.Build(context.Background(), src, t.TempDir(), false); err != nil || !r.Cached {
		t.Errorf("build after PrepareMetadata: cached=%v err=%v", r != nil && r.Cached, err)
	}
}
