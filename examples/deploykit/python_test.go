package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// poisonFacts rewrites the version in a cached facts file, keeping the
// file valid (checksum included): a process that reports the poisoned
// version read the cache instead of running the interpreter.
func poisonFacts(t *testing.T, file, version string) {
	t.Helper()
	var f struct {
		SHA256 string          `json:"sha256"`
		Facts  json.RawMessage `json:"facts"`
	}
	b, err := os.ReadFile(file)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(f.Facts, &m)
	}
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	m["version"] = version
	if f.Facts, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(f.Facts)
	f.SHA256 = hex.EncodeToString(sum[:])
	if b, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCLIInterpreterFactsAreCachedPerUser runs deploykit as an ordinary
// user (nobody): the first command runs the interpreter and keeps its
// facts in $XDG_CACHE_HOME/deploykit; the next processes — venv and lock
// alike — read them from there instead of running it again.
func TestCLIInterpreterFactsAreCachedPerUser(t *testing.T) {
	testenv.NeedRoot(t)
	py := testenv.SystemPython(t)
	wh := testenv.GetWheelhouse(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		testenv.Skip(t, "no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir, err := os.MkdirTemp("", "dkfacts")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		if err := cmd.Run(); err != nil {
			t.Fatalf("deploykit %s as nobody: %v\n%s%s", strings.Join(args, " "), err, so.String(), se.String())
		}
		return so.String()
	}
	if out := run("venv", filepath.Join(dir, "v1"), "--python", py.Path, "--json"); !strings.Contains(out, `"python": "`+py.Version+`"`) {
		t.Fatalf("venv: %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "xdg", "deploykit", "interpreters", "*.json"))
	if len(files) != 1 {
		t.Fatalf("facts cache files %v, want one in $XDG_CACHE_HOME/deploykit/interpreters", files)
	}
	poisonFacts(t, files[0], "3.99.0")
	if out := run("venv", filepath.Join(dir, "v2"), "--python", py.Path, "--json"); !strings.Contains(out, `"python": "3.99.0"`) {
		t.Fatalf("second venv ran the interpreter again instead of reading the cache: %s", out)
	}
	if out := run("lock", "six", "--no-index", "-f", wh.Dir, "--python", py.Path, "-o", filepath.Join(dir, "pylock.toml")); !strings.Contains(out, "for Python 3.99.0") {
		t.Fatalf("lock ran the interpreter again instead of reading the cache: %s", out)
	}
}

// TestCLIInterpreterFactsAsRootGoToTheRootsCache: as root, the facts are
// kept in ROOT/cache, where instance operations keep theirs, and read by
// the next command.
func TestCLIInterpreterFactsAsRootGoToTheRootsCache(t *testing.T) {
	testenv.NeedRoot(t)
	py := testenv.SystemPython(t)
	dir := t.TempDir()
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT=", "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg")}}
	c.ok("venv", filepath.Join(dir, "v1"), "--python", py.Path)
	files, _ := filepath.Glob(filepath.Join(c.root, "cache", "interpreters", "*.json"))
	if len(files) != 1 {
		t.Fatalf("facts cache files %v, want one in ROOT/cache/interpreters", files)
	}
	if xdg, _ := filepath.Glob(filepath.Join(dir, "xdg", "*")); len(xdg) != 0 {
		t.Fatalf("root wrote to $XDG_CACHE_HOME: %v", xdg)
	}
	poisonFacts(t, files[0], "3.98.0")
	if out := c.ok("venv", filepath.Join(dir, "v2"), "--python", py.Path, "--json"); !strings.Contains(out, `"python": "3.98.0"`) {
		t.Fatalf("second venv ran the interpreter again instead of reading the cache: %s", out)
	}
}

// benchDir is a scratch directory on the machine's disk ($DEPLOYKIT_BENCH_DIR,
// else /var/tmp): the install figures are about a real filesystem, not tmpfs.
func benchDir(b *testing.B) string {
	b.Helper()
	parent := os.Getenv("DEPLOYKIT_BENCH_DIR")
	if parent == "" {
		parent = "/var/tmp"
	}
	dir, err := os.MkdirTemp(parent, "dk-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func benchRun(b *testing.B, env []string, name string, args ...string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// BenchmarkCLIVenv is `deploykit venv DIR --python PY` as a whole process,
// the interpreter's facts cached by an earlier command (the figure
// scripts/bench/venv.sh compares with python -m venv --without-pip).
func BenchmarkCLIVenv(b *testing.B) {
	py := testenv.SystemPython(b)
	dir := benchDir(b)
	env := []string{"DEPLOYKIT_ROOT=" + filepath.Join(dir, "root"), "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg")}
	benchRun(b, env, binary, "venv", filepath.Join(dir, "first"), "--python", py.Path)
	i := 0
	for b.Loop() {
		i++
		benchRun(b, env, binary, "venv", filepath.Join(dir, "v"+strconv.Itoa(i)), "--python", py.Path)
	}
}

// BenchmarkCLIInstallWarm is `deploykit venv` + `deploykit install
// --no-compile --no-index -f WHEELHOUSE ROOTS…` from a warm cache onto the
// disk, as whole processes; it also reports cp -al of the installed tree
// (the floor) and the ratio to it (goal: at most 1.5).
func BenchmarkCLIInstallWarm(b *testing.B) {
	py := testenv.SystemPython(b)
	wh := testenv.GetWheelhouse(b)
	roots, err := os.ReadFile(filepath.Join(wh.Dir, "roots.txt"))
	if err != nil {
		b.Fatal(err)
	}
	dir := benchDir(b)
	env := []string{"DEPLOYKIT_ROOT=" + filepath.Join(dir, "root"), "XDG_CACHE_HOME=" + filepath.Join(dir, "xdg")}
	install := func(v string) {
		benchRun(b, env, binary, "venv", v, "--python", py.Path)
		benchRun(b, env, binary, append([]string{"install", "--venv", v, "--no-compile", "--no-index", "-f", wh.Dir}, strings.Fields(string(roots))...)...)
	}
	src := filepath.Join(dir, "src")
	install(src)
	var floor time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		t0 := time.Now()
		benchRun(b, nil, "cp", "-al", src, filepath.Join(dir, "cp"+strconv.Itoa(i)))
		floor += time.Since(t0)
		b.StartTimer()
		install(filepath.Join(dir, "v"+strconv.Itoa(i)))
	}
	b.ReportMetric(float64(floor.Milliseconds())/float64(b.N), "cp-al-ms/op")
	b.ReportMetric(float64(b.Elapsed())/float64(floor), "x-cp-al")
}
