package venv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestKillChild is the child side of the kill tests: it installs a wheel
// and SIGKILLs itself partway (after DK_KILL_AFTER files unpacked into the
// cache, or placed into the venv); with DK_KILL_MODE=none it just
// installs. Without DK_KILL_MODE it does nothing.
func TestKillChild(t *testing.T) {
	mode := os.Getenv("DK_KILL_MODE")
	if mode == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("DK_KILL_AFTER"))
	die := func(i int) {
		if i >= n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	switch mode {
	case "cache":
		testHookAfterFile = die
	case "venv":
		testHookPlaced = die
	}
	ctx := context.Background()
	v, err := Open(ctx, os.Getenv("DK_KILL_VENV"), OpenOptions{CacheDir: os.Getenv("DK_KILL_FACTS")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenCache(os.Getenv("DK_KILL_CACHE"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := os.Getenv("DK_KILL_WHEEL")
	if os.Getenv("DK_KILL_OP") == "compile" {
		_, err = v.Compile(ctx, []Distribution{distributionOf(t, w)}, InstallOptions{Cache: c, Jobs: 1})
	} else {
		_, err = v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: c, NoCompile: true, Jobs: 1})
	}
	if mode == "none" { // a plain install, for the two-process test
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("not killed: install returned %v", err)
}

func killedInstall(t *testing.T, mode string, after int, v *Venv, cache, wheel string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
	cmd.Env = append(os.Environ(), "DK_KILL_MODE="+mode, "DK_KILL_AFTER="+strconv.Itoa(after),
		"DK_KILL_VENV="+v.Dir, "DK_KILL_CACHE="+cache, "DK_KILL_WHEEL="+wheel)
	out, err := cmd.CombinedOutput()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
}

func TestKilledCacheFillLeavesNoEntry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	files := map[string]member{}
	for i := 0; i < 50; i++ {
		files["many/m"+strconv.Itoa(i)+".py"] = member{data: strings.Repeat("# filler\n", 200)}
	}
	w := buildWheel(t, dir, wheelSpec{name: "many", version: "1.0", files: files})
	v := newTestVenv(t, py)
	before := venvState(t, v)
	cache := filepath.Join(dir, "cache")
	killedInstall(t, "cache", 20, v, cache, w)
	if ents, _ := os.ReadDir(filepath.Join(cache, "wheels")); len(ents) != 0 {
		t.Fatalf("a killed fill left cache entries %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) == 0 {
		t.Fatal("expected the killed fill's temporary directory (was the child killed mid-write?)")
	}
	diffSnapshots(t, "venv after a killed cache fill", before, venvState(t, v))
	c, err := OpenCache(cache, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	run(t, v.Executable(), "-c", "import many.m49")
	if _, err := c.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "tmp")); len(ents) != 0 {
		t.Fatalf("prune left tmp leftovers %v", ents)
	}
}

func TestKilledInstallIsRolledBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	cachePath := filepath.Join(dir, "cache")
	c, err := OpenCache(cachePath, CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]member{}
	for i := 0; i < 40; i++ {
		files["killme/m"+strconv.Itoa(i)+".py"] = member{data: "X = 1\n"}
	}
	v1 := buildWheel(t, dir, wheelSpec{name: "killme", version: "1.0", files: map[string]member{"killme/__init__.py": {data: "V = 1\n"}, "killme/only1.py": {data: ""}}})
	if _, err := v.Install(ctx, []Wheel{{Path: v1}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	before := venvState(t, v)
	files["killme/__init__.py"] = member{data: "V = 2\n"}
	v2 := buildWheel(t, dir, wheelSpec{name: "killme", version: "2.0", files: files})
	// Killed while placing version 2 over version 1.
	killedInstall(t, "venv", 15, v, cachePath, v2)
	if txns, _ := filepath.Glob(filepath.Join(v.Dir, ".deploykit-txn-*")); len(txns) != 1 {
		t.Fatalf("expected the killed transaction's journal, found %v", txns)
	}
	if err := v.Recover(ctx, nil); err != nil {
		t.Fatal(err)
	}
	diffSnapshots(t, "venv after recovering a killed upgrade", before, venvState(t, v))
	run(t, v.Executable(), "-c", "import killme, killme.only1; assert killme.V == 1")
	// And the upgrade then goes through.
	if _, err := v.Install(ctx, []Wheel{{Path: v2}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	run(t, v.Executable(), "-c", "import killme, killme.m39; assert killme.V == 2")
}
