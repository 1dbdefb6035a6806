package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deploykit/deploykit/internal/flock"
)

// InCI reports whether the tests run in CI (CI=true), where a missing
// dependency is a failure rather than a reason to skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// Skip skips t with the reason, or fails it in CI.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true and a test dependency is missing: %s", msg)
	}
	t.Skip(msg)
}

// NeedRoot skips (or fails in CI) unless the test runs as root.
// CI runs as root; tests of uid isolation need it.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root (real uids)")
	}
}

// Command returns the path of an executable, or skips/fails.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "command %q not found: %v", name, err)
	}
	return p
}

// ModuleRoot returns the directory holding deploykit's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// Shared returns the workplace's shared/ directory (DESIGN.md, conformance
// vectors, tools): $DEPLOYKIT_SHARED, else ../shared beside the module root.
func Shared(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("DEPLOYKIT_SHARED")
	if dir == "" {
		dir = filepath.Join(ModuleRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "conformance")); err != nil {
		Skip(t, "shared directory with conformance vectors not found at %s (set DEPLOYKIT_SHARED)", dir)
	}
	return dir
}

// Conformance returns the path of one conformance vector file, e.g.
// Conformance(t, "versions.json").
func Conformance(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Shared(t), "conformance", name)
	if _, err := os.Stat(p); err != nil {
		Skip(t, "conformance file %s: %v", p, err)
	}
	return p
}

// Python is one real interpreter installed on the machine.
type Python struct {
	Path    string // executable
	Version string // "3.11.7"
	Minor   string // "3.11"
}

var (
	pythonsOnce sync.Once
	pythons     []Python
)

// Pythons lists the CPython 3 interpreters on the machine: pyenv's versions
// ($PYENV_ROOT or ~/.pyenv) and /usr/bin/python3, oldest first. Each is asked
// its version once per test binary.
func Pythons(t testing.TB) []Python {
	t.Helper()
	pythonsOnce.Do(func() {
		var cands []string
		root := os.Getenv("PYENV_ROOT")
		if root == "" {
			if home, err := os.UserHomeDir(); err == nil {
				root = filepath.Join(home, ".pyenv")
			}
		}
		if root != "" {
			m, _ := filepath.Glob(filepath.Join(root, "versions", "3.*", "bin", "python3"))
			cands = append(cands, m...)
		}
		cands = append(cands, "/usr/bin/python3")
		seen := map[string]bool{}
		for _, c := range cands {
			out, err := exec.Command(c, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])").Output()
			if err != nil {
				continue
			}
			v := strings.TrimSpace(string(out))
			real, _ := filepath.EvalSymlinks(c)
			if seen[real] {
				continue
			}
			seen[real] = true
			parts := strings.SplitN(v, ".", 3)
			pythons = append(pythons, Python{Path: c, Version: v, Minor: parts[0] + "." + parts[1]})
		}
		sort.SliceStable(pythons, func(i, j int) bool { return versionLess(pythons[i].Version, pythons[j].Version) })
	})
	if len(pythons) == 0 {
		Skip(t, "no Python 3 interpreter found")
	}
	return pythons
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// PythonMinor returns an interpreter of the given minor version ("3.11"),
// preferring pyenv's (which has pip) over the system one.
func PythonMinor(t testing.TB, minor string) Python {
	t.Helper()
	for _, p := range Pythons(t) {
		if p.Minor == minor && p.Path != "/usr/bin/python3" {
			return p
		}
	}
	for _, p := range Pythons(t) {
		if p.Minor == minor {
			return p
		}
	}
	Skip(t, "no Python %s interpreter found", minor)
	return Python{}
}

// SystemPython returns Debian's /usr/bin/python3, the interpreter the
// wheelhouse's compiled wheels were built for.
func SystemPython(t testing.TB) Python {
	t.Helper()
	for _, p := range Pythons(t) {
		if p.Path == "/usr/bin/python3" {
			return p
		}
	}
	Skip(t, "/usr/bin/python3 not found")
	return Python{}
}

// Wheelhouse is the set of real wheels ../shared/tools/make-wheelhouse makes
// from Debian's python3-* packages (Django, celery, gunicorn, psycopg2, lxml…).
type Wheelhouse struct {
	Dir      string // the directory holding the .whl files, manifest.json, roots.txt, pinned.txt
	IndexDir string // a PEP 503 tree: IndexDir/simple/NAME/index.html, IndexDir/files/…
}

// TestCache is where machine-wide test fixtures are kept between runs.
func TestCache() string {
	if d := os.Getenv("DEPLOYKIT_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/tmp/deploykit-test"
}

// GetWheelhouse returns the wheelhouse, building it once per machine when
// running as root (apt-get installs the Debian packages it is made from).
// Building takes a minute or two; scripts/test.sh does it before the tests.
func GetWheelhouse(t testing.TB) Wheelhouse {
	t.Helper()
	dir := os.Getenv("DEPLOYKIT_TEST_WHEELHOUSE")
	if dir == "" {
		dir = filepath.Join(TestCache(), "wheelhouse")
	}
	wh := Wheelhouse{Dir: filepath.Join(dir, "wheels"), IndexDir: filepath.Join(dir, "index")}
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return wh
	}
	if os.Geteuid() != 0 {
		Skip(t, "wheelhouse %s not built (run scripts/test.sh as root once)", dir)
	}
	tool := filepath.Join(Shared(t), "tools", "make-wheelhouse")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// Several test binaries may race to build it: serialize on a lock file.
	unlock, err := flock.Lock(dir+".lock", 0o644, true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return wh
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool, "-q", "--install", "--index", wh.IndexDir, wh.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make-wheelhouse: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return wh
}
