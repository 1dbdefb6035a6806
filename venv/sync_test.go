package venv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/deploykit/deploykit/internal/filehash"
	"github.com/deploykit/deploykit/requirements"
)

func lockDist(t testing.TB, name, version, wheel string) Distribution {
	sum, err := filehash.SHA256(wheel)
	if err != nil {
		t.Fatal(err)
	}
	return Distribution{Name: name, Version: version, Wheel: wheel, SHA256: sum}
}

func names(ds []Dist) string {
	var s []string
	for _, d := range ds {
		s = append(s, requirements.NormalizeName(d.Name)+"=="+d.Version)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func TestSyncMakesVenvHoldExactlyTheSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a1 := simpleWheel(t, dir, "alpha", "1.0", nil)
	b1 := simpleWheel(t, dir, "beta", "1.0", nil)
	b2 := simpleWheel(t, dir, "beta", "2.0", nil)
	g1 := simpleWheel(t, dir, "gamma", "1.0", nil)
	d1 := simpleWheel(t, dir, "delta", "1.0", nil)
	v := newTestVenv(t, py)
	var events []Event
	var mu sync.Mutex
	opts := InstallOptions{Cache: c, Jobs: 3, OnEvent: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }}
	r, err := v.Sync(ctx, []Distribution{lockDist(t, "alpha", "1.0", a1), lockDist(t, "beta", "1.0", b1), lockDist(t, "gamma", "1.0", g1)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(r.Installed); got != "alpha==1.0 beta==1.0 gamma==1.0" {
		t.Fatalf("first sync installed %s", got)
	}
	r, err = v.Sync(ctx, []Distribution{lockDist(t, "alpha", "1.0", a1), lockDist(t, "Beta", "2.0", b2), lockDist(t, "delta", "1.0", d1)}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if names(r.Installed) != "beta==2.0 delta==1.0" || names(r.Removed) != "gamma==1.0" || names(r.Unchanged) != "alpha==1.0" {
		t.Fatalf("second sync: installed %s, removed %s, unchanged %s", names(r.Installed), names(r.Removed), names(r.Unchanged))
	}
	ds, _ := v.Installed(ctx)
	if names(ds) != "alpha==1.0 beta==2.0 delta==1.0" {
		t.Fatalf("venv holds %s", names(ds))
	}
	if _, err := os.Stat(filepath.Join(v.Purelib, "gamma")); err == nil {
		t.Fatal("gamma's files remain")
	}
	run(t, v.Executable(), "-c", "import alpha, beta, delta; assert beta.VERSION == '2.0'")
	kinds := map[EventKind]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if kinds[EventInstalled] != 5 || kinds[EventRemoved] != 1 || kinds[EventUnpacked] != 5 {
		t.Fatalf("events %v", kinds)
	}
	// A third sync with the same set changes nothing.
	r, err = v.Sync(ctx, []Distribution{lockDist(t, "alpha", "1.0", a1), lockDist(t, "beta", "2.0", b2), lockDist(t, "delta", "1.0", d1)}, opts)
	if err != nil || len(r.Installed)+len(r.Removed) != 0 || len(r.Unchanged) != 3 {
		t.Fatalf("idempotent sync: %+v %v", r, err)
	}

	// The same version rebuilt (another sha256) is replaced.
	rebuilt := filepath.Join(dir, "rebuilt")
	os.Mkdir(rebuilt, 0o755)
	a1b := simpleWheel(t, rebuilt, "alpha", "1.0", map[string]member{"alpha/extra.py": {data: "REBUILT = True\n"}})
	r, err = v.Sync(ctx, []Distribution{lockDist(t, "alpha", "1.0", a1b), lockDist(t, "beta", "2.0", b2), lockDist(t, "delta", "1.0", d1)}, opts)
	if err != nil || names(r.Installed) != "alpha==1.0" || len(r.Removed) != 0 {
		t.Fatalf("sync of a rebuilt wheel: %+v %v", r, err)
	}
	run(t, v.Executable(), "-c", "import alpha.extra")

	// A wrong hash, or a wheel that is not what the lock says, changes nothing.
	before := venvState(t, v)
	bad := lockDist(t, "gamma", "1.0", g1)
	bad.SHA256 = strings.Repeat("0", 64)
	_, err = v.Sync(ctx, []Distribution{bad}, opts)
	if !errors.Is(err, ErrHashMismatch) || !strings.Contains(err.Error(), g1) {
		t.Fatalf("sync with a wrong hash: %v", err)
	}
	_, err = v.Sync(ctx, []Distribution{lockDist(t, "gamma", "2.0", g1)}, opts)
	if !errors.Is(err, ErrDistMismatch) {
		t.Fatalf("sync with a mismatched wheel: %v", err)
	}
	diffSnapshots(t, "venv after failed syncs", before, venvState(t, v))
}

func TestConcurrentFillsOfOneEntryBothSucceed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	w := simpleWheel(t, dir, "shared", "1.0", map[string]member{"shared/big.py": {data: strings.Repeat("A = 1\n", 20000)}})
	cacheDir := filepath.Join(dir, "cache")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	venvs := make([]*Venv, 4)
	for i := range venvs {
		venvs[i] = newTestVenv(t, py)
	}
	for i := range venvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Cache values: as separate processes, they race on
			// the rename, not on an in-process lock.
			c, err := OpenCache(cacheDir, CacheOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = venvs[i].Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: c})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("install %d: %v", i, err)
		}
		run(t, venvs[i].Executable(), "-c", "import shared.big")
	}
	if ents, _ := os.ReadDir(filepath.Join(cacheDir, "wheels")); len(ents) != 1 {
		t.Fatalf("wheel entries: %v", ents)
	}
	if ents, _ := os.ReadDir(filepath.Join(cacheDir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp leftovers: %v", ents)
	}
}

func TestPruneRemovesOnlyUnreferencedEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	common := simpleWheel(t, dir, "common", "1.0", nil)
	only := simpleWheel(t, dir, "onlyone", "1.0", nil)
	keep, gone := newTestVenv(t, py), newTestVenv(t, py)
	if _, err := keep.Install(ctx, []Wheel{{Path: common}}, InstallOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Install(ctx, []Wheel{{Path: common}, {Path: only}}, InstallOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Prune(ctx)
	if err != nil || st.Removed != 0 || st.Kept != 2 {
		t.Fatalf("prune with both venvs: %+v %v", st, err)
	}
	if err := os.RemoveAll(gone.Dir); err != nil {
		t.Fatal(err)
	}
	st, err = c.Prune(ctx)
	if err != nil || st.Removed != 1 || st.Kept != 1 {
		t.Fatalf("prune after removing a venv: %+v %v", st, err)
	}
	onlySum, _ := filehash.SHA256(only)
	if _, err := os.Stat(filepath.Join(c.Dir(), "wheels", onlySum)); err == nil {
		t.Fatal("unreferenced entry kept")
	}
	if pycs, _ := filepath.Glob(filepath.Join(c.Dir(), "pyc", onlySum+"-*")); len(pycs) != 0 {
		t.Fatalf("its compiled modules kept: %v", pycs)
	}
	run(t, keep.Executable(), "-c", "import common")
	// Reinstalling after a prune refills the cache.
	w := newTestVenv(t, py)
	if _, err := w.Install(ctx, []Wheel{{Path: only}}, InstallOptions{Cache: c}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheVerifyFindsTamperedEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := simpleWheel(t, dir, "tamper", "1.0", nil)
	v := newTestVenv(t, py)
	if _, err := v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	if ps, err := c.Verify(ctx, false); err != nil || len(ps) != 0 {
		t.Fatalf("fresh cache: %v %v", ps, err)
	}
	sum, _ := filehash.SHA256(w)
	f := filepath.Join(c.Dir(), "wheels", sum, "files", "tamper", "__init__.py")
	os.Chmod(filepath.Dir(f), 0o755)
	os.Remove(f)
	os.WriteFile(f, []byte("evil = 1\n"), 0o444)
	ps, err := c.Verify(ctx, true)
	if err != nil || len(ps) != 1 || ps[0].File != "tamper/__init__.py" || !errors.Is(ps[0].Err, ErrHashMismatch) {
		t.Fatalf("tampered cache: %+v %v", ps, err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "wheels", sum)); err == nil {
		t.Fatal("tampered entry not removed")
	}
	// The next install unpacks it again.
	w2 := newTestVenv(t, py)
	if _, err := w2.Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: c, NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	run(t, w2.Executable(), "-c", "import tamper; assert not hasattr(tamper, 'evil')")
}

func TestUninstallRemovesWhatPipInstalled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	pip := bundledPip(t, py)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	before := venvState(t, v)
	w := dataWheel(t, dir)
	run(t, v.Executable(), filepath.Join(pip, "pip"), "install", "--no-index", "--no-deps", "--no-cache-dir", "--disable-pip-version-check", w)
	ds, err := v.Installed(ctx)
	if err != nil || names(ds) != "dk-data==1.2" {
		t.Fatalf("after pip install: %s %v", names(ds), err)
	}
	if _, err := v.Uninstall(ctx, []string{"dk-data"}, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	diffSnapshots(t, "after uninstalling pip's install", before, venvState(t, v))
}

// TestTwoProcessesFillOneEntry runs two real processes installing the same
// wheel through one cache at once.
func TestTwoProcessesFillOneEntry(t *testing.T) {
	t.Parallel()
	py := py311(t)
	dir := t.TempDir()
	files := map[string]member{}
	for i := 0; i < 200; i++ {
		files["twoproc/m"+strconv.Itoa(i)+".py"] = member{data: strings.Repeat("# x\n", 500)}
	}
	w := buildWheel(t, dir, wheelSpec{name: "twoproc", version: "1.0", files: files})
	cache := filepath.Join(dir, "cache")
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := 0; i < 2; i++ {
		v := newTestVenv(t, py)
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$")
		cmd.Env = append(os.Environ(), "DK_KILL_MODE=none", "DK_KILL_VENV="+v.Dir, "DK_KILL_CACHE="+cache, "DK_KILL_WHEEL="+w)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
		defer func() { run(t, v.Executable(), "-c", "import twoproc.m199") }()
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(cache, "wheels")); len(ents) != 1 {
		t.Fatalf("entries: %v", ents)
	}
}

func TestWheelDigestFollowsRewrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "x.whl")
	os.WriteFile(p, []byte("one"), 0o644)
	st, _ := os.Stat(p)
	a, err := c.wheelDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := c.wheelDigest(p); b != a {
		t.Fatal("digest not stable")
	}
	// Same size, mtime set back: ctime still tells the rewrite apart.
	os.WriteFile(p, []byte("two"), 0o644)
	os.Chtimes(p, st.ModTime(), st.ModTime())
	b, err := c.wheelDigest(p)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := filehash.SHA256(p); b != want || b == a {
		t.Fatalf("digest after rewrite %s, want %s", b, want)
	}
}
