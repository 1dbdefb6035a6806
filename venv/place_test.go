package venv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/testenv"
)

// TestUpgradeReplacesAFileByADirectory: version 1 ships a data file
// swap/res, version 2 a package swap/res/. The directory takes the place
// of the file the same transaction removes.
func TestUpgradeReplacesAFileByADirectory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	w1 := buildWheel(t, dir, wheelSpec{name: "swap", version: "1.0", files: map[string]member{
		"swap/__init__.py": {data: "V = 1\n"}, "swap/res": {data: "a file\n"}}})
	w2 := buildWheel(t, dir, wheelSpec{name: "swap", version: "2.0", files: map[string]member{
		"swap/__init__.py": {data: "V = 2\n"}, "swap/res/__init__.py": {data: "R = 2\n"}, "swap/res/deep/data.txt": {data: "d\n"}}})
	if _, err := v.Install(ctx, []Wheel{{Path: w1}}, InstallOptions{NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Install(ctx, []Wheel{{Path: w2}}, InstallOptions{NoCompile: true}); err != nil {
		t.Fatalf("upgrade that turns a file into a directory: %v", err)
	}
	run(t, v.Executable(), "-c", "import swap, swap.res; assert swap.V == 2 and swap.res.R == 2")
	if b, err := os.ReadFile(filepath.Join(v.Purelib, "swap", "res", "deep", "data.txt")); err != nil || string(b) != "d\n" {
		t.Fatalf("data.txt: %q %v", b, err)
	}
	if _, err := v.Uninstall(ctx, []string{"swap"}, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(v.Purelib, "swap")); !os.IsNotExist(err) {
		t.Fatalf("uninstall left swap/: %v", err)
	}
}

// TestInstallRefusesWhatIsInTheWay: a file where the wheel needs a
// directory, or a directory where it needs a file, is an error naming
// the path, and the venv is left as it was.
func TestInstallRefusesWhatIsInTheWay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, block string
		isDir       bool
		want        string
	}{
		{"blockf", "blockf", false, "a file is in the way of a directory"},
		{"blockd", "blockd/mod.py", true, "a directory is in the way of a file"},
	} {
		v := newTestVenv(t, py)
		p := filepath.Join(v.Purelib, filepath.FromSlash(tc.block))
		var err error
		if tc.isDir {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte("mine\n"), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		before := venvState(t, v)
		w := buildWheel(t, dir, wheelSpec{name: tc.name, version: "1.0", files: map[string]member{
			tc.name + "/mod.py": {data: "X = 1\n"}, tc.name + "/sub/a.py": {data: ""}}})
		_, err = v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{NoCompile: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Fatalf("%s: error %v, want %q naming %s", tc.name, err, tc.want, p)
		}
		diffSnapshots(t, tc.name+": venv after a refused install", before, venvState(t, v))
	}
}

// TestTwoWheelsShippingOneFileLaterWins: in one transaction, the wheel
// listed later owns a file both ship, every time, as with pip installing
// them in sequence.
func TestTwoWheelsShippingOneFileLaterWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	files := func(who string) map[string]member {
		m := map[string]member{"shared/data.txt": {data: who + "\n"}}
		for i := range 30 {
			m["shared/"+who+strconv.Itoa(i)+".txt"] = member{data: who}
		}
		return m
	}
	a := buildWheel(t, dir, wheelSpec{name: "first", version: "1.0", files: files("first")})
	b := buildWheel(t, dir, wheelSpec{name: "second", version: "1.0", files: files("second")})
	for range 5 {
		v := newTestVenv(t, py)
		if _, err := v.Install(ctx, []Wheel{{Path: a}, {Path: b}}, InstallOptions{NoCompile: true, Jobs: 8}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(v.Purelib, "shared", "data.txt")); string(got) != "second\n" {
			t.Fatalf("shared/data.txt holds %q, want the later wheel's", got)
		}
	}
}

// TestInstallIntoAFreshVenvProbesNothing counts the system calls of an
// install from a warm cache into a new venv, run under strace: no stat
// and no mkdir may fail (a fresh venv has none of the files, so any
// probe is wasted), and every directory is made once. This is the
// regression guard for the ~12,700 failed stats and ~1,700 failed mkdirs
// a warm install of the wheelhouse once cost.
func TestInstallIntoAFreshVenvProbesNothing(t *testing.T) {
	strace := testenv.Command(t, "strace")
	py := py311(t)
	dir := t.TempDir()
	files := map[string]member{}
	for d := range 20 {
		for f := range 10 {
			files["probe/d"+strconv.Itoa(d)+"/sub/f"+strconv.Itoa(f)+".py"] = member{data: "X = 1\n"}
		}
	}
	w := buildWheel(t, dir, wheelSpec{name: "probe", version: "1.0", files: files})
	cache := filepath.Join(dir, "cache")
	// Warm the cache.
	c, err := OpenCache(cache, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTestVenv(t, py).Install(context.Background(), []Wheel{{Path: w}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	// The child reads the interpreter's facts from the cache: running
	// Python there would add Python's own lookups to the count.
	v := newTestVenv(t, py)
	exe, err := filepath.EvalSymlinks(v.Executable())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(context.Background(), exe, InspectOptions{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	counts := filepath.Join(dir, "strace.txt")
	cmd := exec.Command(strace, "-f", "-c", "-o", counts, "-e", "trace=newfstatat,stat,lstat,statx,mkdir,mkdirat,link,linkat",
		os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), "DK_KILL_MODE=none", "DK_KILL_VENV="+v.Dir, "DK_KILL_CACHE="+cache, "DK_KILL_WHEEL="+w, "DK_KILL_FACTS="+cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install under strace: %v\n%s", err, out)
	}
	calls, errs := straceCounts(t, counts)
	t.Logf("syscalls %v, failed %v", calls, errs)
	stats := errs["newfstatat"] + errs["stat"] + errs["lstat"] + errs["statx"]
	mkdirs := errs["mkdir"] + errs["mkdirat"]
	// 220 directories (probe, 20 dN, 20 dN/sub, 20 __pycache__-free
	// ones…) and 203 files (200 modules, METADATA, WHEEL, RECORD):
	// a probe per file or per directory would show as hundreds.
	if stats > 10 || mkdirs > 0 {
		t.Fatalf("%d failed stats and %d failed mkdirs installing 200 files into a fresh venv", stats, mkdirs)
	}
	if made := calls["mkdir"] + calls["mkdirat"]; made > 45 {
		t.Fatalf("%d mkdirs for 42 new directories", made)
	}
	if linked := calls["link"] + calls["linkat"]; linked < 200 {
		t.Fatalf("%d links for 200 cached files", linked)
	}
}

// straceCounts reads `strace -c` output: calls and errors per syscall.
func straceCounts(t *testing.T, file string) (calls, errs map[string]int) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, errs = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		// % time, seconds, usecs/call, calls, [errors], syscall
		if len(fs) < 5 || fs[0] == "%" || strings.HasPrefix(fs[0], "-") || fs[len(fs)-1] == "total" {
			continue
		}
		name := fs[len(fs)-1]
		calls[name], _ = strconv.Atoi(fs[3])
		if len(fs) == 6 {
			errs[name], _ = strconv.Atoi(fs[4])
		}
	}
	return calls, errs
}
