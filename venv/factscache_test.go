package venv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/testenv"
)

// rewriteFacts edits the cached facts in file and stores them with a
// matching checksum, as a valid cache file.
func rewriteFacts(t *testing.T, file string, edit func(map[string]any)) {
	t.Helper()
	var f factsFile
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(f.Facts, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
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

func factsFiles(t *testing.T, cache string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cache, "interpreters", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestInspectCachesByStamp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := testenv.Pythons(t)[0]
	cache := t.TempDir()
	a, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	files := factsFiles(t, cache)
	if len(files) != 1 || a.Stamp == "" {
		t.Fatalf("cache files %v, stamp %q", files, a.Stamp)
	}
	// Poison the cached facts (with a valid checksum): a second Inspect
	// must read them back, which proves it did not run the interpreter.
	rewriteFacts(t, files[0], func(m map[string]any) { m["cache_tag"] = "from-cache-" + m["cache_tag"].(string) })
	c, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.CacheTag, "from-cache-") {
		t.Fatalf("second Inspect ran the interpreter again (cache tag %q)", c.CacheTag)
	}
	if a.Markers["python_full_version"] != p.Version || a.VenvPaths["purelib"] == "" {
		t.Fatalf("facts: %+v", a)
	}
}

// TestInspectNeverTrustsADamagedCacheFile: whatever happened to a cache
// file — a crash that left it empty or cut short, a flipped bit, garbage,
// an edit without the checksum, the facts of another interpreter under
// its name — Inspect runs the interpreter and answers with its true
// facts, and mends the file.
func TestInspectNeverTrustsADamagedCacheFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := testenv.Pythons(t)
	p, other := ps[len(ps)-1], ps[0]
	cache := t.TempDir()
	want, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	file := factsFiles(t, cache)[0]
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// The facts of another interpreter, validly stored under p's key.
	otherCache := t.TempDir()
	if _, err := Inspect(ctx, other.Path, InspectOptions{CacheDir: otherCache}); err != nil {
		t.Fatal(err)
	}
	otherFacts, err := os.ReadFile(factsFiles(t, otherCache)[0])
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(good), `"version":"`) + len(`"version":"`)
	flipped := []byte(string(good))
	flipped[i] ^= 0x01 // "3.13.0" becomes "2.13.0": still valid JSON
	damages := map[string][]byte{
		"empty":             {},
		"truncated":         good[:len(good)/2],
		"garbage":           []byte("\x00\x01not json at all"),
		"flipped bit":       flipped,
		"edited":            []byte(strings.Replace(string(good), `"cache_tag":"`, `"cache_tag":"x`, 1)),
		"no checksum":       []byte(`{"facts":` + string(good[strings.Index(string(good), `"facts":`)+8:])),
		"other interpreter": otherFacts,
	}
	for name, damaged := range damages {
		if err := os.WriteFile(file, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Version != want.Version || got.CacheTag != want.CacheTag || got.Path != want.Path || got.Markers["python_full_version"] != p.Version {
			t.Errorf("%s cache file: Inspect says %s %s (%s), want %s %s (%s)", name, got.Version, got.CacheTag, got.Path, want.Version, want.CacheTag, want.Path)
		}
		if b, _ := os.ReadFile(file); len(b) == 0 || string(b) == string(damaged) {
			t.Errorf("%s cache file: not rewritten", name)
		}
	}
}

// copyInterpreter copies the interpreter behind python to dir/bin/python3,
// padded with zeros to size bytes (the dynamic loader ignores what follows
// an ELF file's segments), with a pyvenv.cfg that makes the copy find its
// standard library — what `python -m venv --copies` does.
func copyInterpreter(t *testing.T, python, dir string, size int64, mtime time.Time) {
	t.Helper()
	real, err := filepath.EvalSymlinks(python)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(real)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	tmp := filepath.Join(dir, "bin", ".python3.tmp")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(out, in)
	if err == nil && n < size {
		_, err = out.Write(make([]byte, size-n))
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	// Replaced as installers and `cp` onto a running binary do: a new
	// file renamed over the old one.
	if err := os.Rename(tmp, filepath.Join(dir, "bin", "python3")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pyvenv.cfg"), []byte("home = "+filepath.Dir(real)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInspectCacheNoticesAReplacedInterpreter replaces an interpreter by
// another version at the same path, with the same size and modification
// time (`cp -p` of pyenv's launchers, which are 17,584 bytes for 3.9,
// 3.10 and 3.11 alike): the cached facts of the first must not be taken
// for the second.
func TestInspectCacheNoticesAReplacedInterpreter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := testenv.Pythons(t)
	a, b := ps[0], ps[len(ps)-1]
	if a.Version == b.Version {
		testenv.Skip(t, "needs two Python versions, found only %s", a.Version)
	}
	sizeOf := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	size := max(sizeOf(a.Path), sizeOf(b.Path))
	mtime := time.Unix(1700000000, 0)
	dir := t.TempDir()
	python := filepath.Join(dir, "bin", "python3")
	cache := t.TempDir()

	copyInterpreter(t, a.Path, dir, size, mtime)
	first, err := Inspect(ctx, python, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if first.Markers["python_full_version"] != a.Version {
		t.Fatalf("copy of %s says %s", a.Path, first.Markers["python_full_version"])
	}
	copyInterpreter(t, b.Path, dir, size, mtime)
	if sizeOf(python) != size {
		t.Fatalf("size %d, want %d", sizeOf(python), size)
	}
	second, err := Inspect(ctx, python, InspectOptions{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	if second.Markers["python_full_version"] != b.Version || second.Version != b.Version {
		t.Fatalf("after replacing %s (same path, size and mtime) by %s, Inspect says %s: stale cached facts", a.Version, b.Version, second.Version)
	}
	if n := len(factsFiles(t, cache)); n != 2 {
		t.Fatalf("%d cache files, want one per interpreter", n)
	}
}

// TestInspectWithAnUnwritableCache: a cache that cannot be written costs a
// run of the interpreter, never an error or wrong facts.
func TestInspectWithAnUnwritableCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := testenv.Pythons(t)[0]
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(blocked, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(blocked, "interpreters"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cache := range []string{filepath.Join(notADir, "cache"), blocked} {
		for range 2 {
			py, err := Inspect(ctx, p.Path, InspectOptions{CacheDir: cache})
			if err != nil {
				t.Fatalf("cache %s: %v", cache, err)
			}
			if py.Markers["python_full_version"] != p.Version {
				t.Fatalf("cache %s: facts say %s, want %s", cache, py.Markers["python_full_version"], p.Version)
			}
		}
	}
}

func TestUserCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, err := UserCacheDir(); err != nil || d != "/x/cache/deploykit" {
		t.Fatalf("UserCacheDir() = %q, %v with XDG_CACHE_HOME", d, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/someone")
	if d, err := UserCacheDir(); err != nil || d != "/home/someone/.cache/deploykit" {
		t.Fatalf("UserCacheDir() = %q, %v without XDG_CACHE_HOME", d, err)
	}
}
