package venv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
)

// distributionOf describes a wheel file as a lock would.
func distributionOf(t testing.TB, wheel string) Distribution {
	t.Helper()
	wn, err := parseWheelName(filepath.Base(wheel))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := filehash.SHA256(wheel)
	if err != nil {
		t.Fatal(err)
	}
	return Distribution{Name: wn.Name, Version: wn.Version, Wheel: wheel, SHA256: sum}
}

// TestCompileAfterInstallIsInstallThatCompiles: Sync without compiling,
// then Compile, leaves the venv byte for byte as a Sync that compiles
// (same path, so launchers and RECORDs are comparable): the same .pyc
// files, the same RECORDs.
func TestCompileAfterInstallIsInstallThatCompiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	work := t.TempDir()
	var dists []Distribution
	for _, w := range append(wheelhouseSubset(t, []string{"django-", "gunicorn-", "six-", "markupsafe-", "pyyaml-"}), dataWheel(t, work)) {
		d := distributionOf(t, w)
		d.Requested = strings.HasPrefix(filepath.Base(w), "django-")
		dists = append(dists, d)
	}
	c, err := OpenCache(filepath.Join(work, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "venv")
	build := func(later bool) map[string]string {
		os.RemoveAll(dir)
		v, err := Create(ctx, dir, py, CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Sync(ctx, dists, InstallOptions{Cache: c, NoCompile: later}); err != nil {
			t.Fatal(err)
		}
		if later {
			got, err := v.Compile(ctx, dists, InstallOptions{Cache: c})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(dists) {
				t.Fatalf("Compile returned %d distributions, want %d", len(got), len(dists))
			}
			// Compiling again changes nothing.
			before := venvState(t, v)
			if _, err := v.Compile(ctx, dists, InstallOptions{Cache: c}); err != nil {
				t.Fatal(err)
			}
			diffSnapshots(t, "venv compiled twice", before, venvState(t, v))
		}
		return venvState(t, v)
	}
	want := build(false)
	got := build(true)
	pycs := 0
	for k := range want {
		if strings.HasSuffix(k, ".pyc") {
			pycs++
		}
	}
	if pycs < 500 {
		t.Fatalf("only %d compiled modules in the compiling install", pycs)
	}
	diffSnapshots(t, "Sync(NoCompile) + Compile against Sync", want, got)
}

// TestCompileRefusesWhatIsNotInstalledAsGiven: a distribution that is not
// installed, or was installed differently (requested, another wheel), is
// refused and the venv left as it was.
func TestCompileRefusesWhatIsNotInstalledAsGiven(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	a := distributionOf(t, simpleWheel(t, dir, "compa", "1.0", nil))
	b := distributionOf(t, simpleWheel(t, dir, "compb", "1.0", nil))
	if _, err := v.Sync(ctx, []Distribution{a}, InstallOptions{NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	before := venvState(t, v)
	if _, err := v.Compile(ctx, []Distribution{a, b}, InstallOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("compiling what is not installed: %v, want ErrNotInstalled", err)
	}
	requested := a
	requested.Requested = true
	if _, err := v.Compile(ctx, []Distribution{requested}, InstallOptions{}); !errors.Is(err, ErrDistMismatch) {
		t.Fatalf("compiling a distribution installed otherwise: %v, want ErrDistMismatch", err)
	}
	diffSnapshots(t, "venv after refused compiles", before, venvState(t, v))
}

// TestKilledCompileIsRolledBack kills Compile while it places the compiled
// modules: the next operation finds the venv as the install left it, and
// compiling then goes through.
func TestKilledCompileIsRolledBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	files := map[string]member{}
	for i := range 40 {
		files["compkill/m"+strconv.Itoa(i)+".py"] = member{data: "X = " + strconv.Itoa(i) + "\n"}
	}
	w := buildWheel(t, dir, wheelSpec{name: "compkill", version: "1.0", files: files})
	d := distributionOf(t, w)
	cachePath := filepath.Join(dir, "cache")
	c, err := OpenCache(cachePath, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := newTestVenv(t, py)
	if _, err := v.Sync(ctx, []Distribution{d}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	before := venvState(t, v)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), "DK_KILL_MODE=venv", "DK_KILL_OP=compile", "DK_KILL_AFTER=20",
		"DK_KILL_VENV="+v.Dir, "DK_KILL_CACHE="+cachePath, "DK_KILL_WHEEL="+w)
	out, err := cmd.CombinedOutput()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
	if err := v.Recover(ctx, nil); err != nil {
		t.Fatal(err)
	}
	diffSnapshots(t, "venv after a killed compile", before, venvState(t, v))
	if _, err := v.Compile(ctx, []Distribution{d}, InstallOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(v.Purelib, "compkill", "__pycache__", "m39."+py.CacheTag+".pyc")); err != nil {
		t.Fatal(err)
	}
	rec, _ := os.ReadFile(filepath.Join(v.Purelib, "compkill-1.0.dist-info", "RECORD"))
	if !strings.Contains(string(rec), "compkill/__pycache__/m39."+py.CacheTag+".pyc,,") {
		t.Fatalf("RECORD does not list the compiled modules:\n%s", rec)
	}
}
