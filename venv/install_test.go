package venv

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func simpleWheel(t testing.TB, dir, name, version string, extra map[string]member) string {
	files := map[string]member{
		strings.ReplaceAll(name, "-", "_") + "/__init__.py": {data: "VERSION = '" + version + "'\n"},
	}
	for k, v := range extra {
		files[k] = v
	}
	return buildWheel(t, dir, wheelSpec{name: name, version: version, files: files})
}

// venvState is everything in the venv but the activation scripts, for
// "left as it was" checks.
func venvState(t testing.TB, v *Venv) map[string]string {
	return snapshot(t, v.Dir, nil)
}

func TestInstallRejectsBadWheelsAndLeavesVenvUntouched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	good := simpleWheel(t, dir, "good", "1.0", nil)
	bad := map[string]struct {
		path string
		want error
		file string // the member the error must name
	}{
		"hash mismatch": {buildWheel(t, dir, wheelSpec{name: "hashbad", version: "1.0",
			files:          map[string]member{"hashbad/__init__.py": {data: "x = 1\n"}},
			recordOverride: map[string]string{"hashbad/__init__.py": recordHashOf([]byte("x = 2\n"))}}), ErrHashMismatch, "hashbad/__init__.py"},
		"path traversal": {buildWheel(t, dir, wheelSpec{name: "trav", version: "1.0",
			files: map[string]member{"trav/__init__.py": {data: ""}}, rawNames: []string{"trav/../../../../etc/evil"}}), ErrUnsafePath, "trav/../../../../etc/evil"},
		"absolute path": {buildWheel(t, dir, wheelSpec{name: "absp", version: "1.0",
			files: map[string]member{"absp/__init__.py": {data: ""}}, rawNames: []string{"/tmp/evil"}}), ErrUnsafePath, "/tmp/evil"},
		"not in RECORD": {buildWheel(t, dir, wheelSpec{name: "unrec", version: "1.0",
			files: map[string]member{"unrec/__init__.py": {data: ""}}, rawNames: []string{"unrec/sneaky.py"}}), ErrBadWheel, "unrec/sneaky.py"},
		"wrong platform": {buildWheel(t, dir, wheelSpec{name: "winonly", version: "1.0", tag: "cp311-cp311-win_amd64",
			files: map[string]member{"winonly/__init__.py": {data: ""}}}), ErrIncompatible, ""},
		"wrong python": {buildWheel(t, dir, wheelSpec{name: "py2only", version: "1.0", tag: "py2-none-any",
			files: map[string]member{"py2only/__init__.py": {data: ""}}}), ErrIncompatible, ""},
		"weak hash": {buildWheel(t, dir, wheelSpec{name: "md5", version: "1.0",
			files:          map[string]member{"md5/__init__.py": {data: ""}},
			recordOverride: map[string]string{"md5/__init__.py": "md5=1B2M2Y8AsgTpgAmY7PhCfg"}}), ErrBadWheel, "md5/__init__.py"},
	}
	// A truncated and a corrupted copy of a real wheel.
	src, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	trunc := filepath.Join(dir, "trunc-1.0-py3-none-any.whl")
	os.WriteFile(trunc, src[:len(src)/2], 0o644)
	bad["truncated"] = struct {
		path string
		want error
		file string
	}{trunc, ErrBadWheel, ""}
	cpath := simpleWheel(t, dir, "corr", "1.0", map[string]member{"corr/data.txt": {data: strings.Repeat("corrupt me ", 100)}})
	corrupt, _ := os.ReadFile(cpath)
	// Flip a byte inside a member's compressed data.
	zr, err := zip.NewReader(bytes.NewReader(corrupt), int64(len(corrupt)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "corr/data.txt" {
			off, _ := f.DataOffset()
			corrupt[off+int64(f.CompressedSize64)/2] ^= 0xff
		}
	}
	os.WriteFile(cpath, corrupt, 0o644)
	bad["corrupt member"] = struct {
		path string
		want error
		file string
	}{cpath, nil, ""}

	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			v := newTestVenv(t, py)
			cache, err := OpenCache(filepath.Join(t.TempDir(), "cache"), CacheOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := venvState(t, v)
			// The bad wheel comes with a good one: neither is installed.
			_, err = v.Install(ctx, []Wheel{{Path: good}, {Path: tc.path}}, InstallOptions{Cache: cache})
			if err == nil {
				t.Fatal("installed")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var we *WheelError
			if !errors.As(err, &we) || we.Wheel != tc.path {
				t.Fatalf("error does not name the wheel %s: %v", tc.path, err)
			}
			if tc.file != "" && we.File != tc.file {
				t.Fatalf("error names file %q, want %q: %v", we.File, tc.file, err)
			}
			diffSnapshots(t, "venv after a failed install", before, venvState(t, v))
			ents, _ := os.ReadDir(filepath.Join(cache.Dir(), "wheels"))
			for _, e := range ents {
				if _, err := os.Stat(filepath.Join(cache.Dir(), "wheels", e.Name(), "entry.json")); err != nil {
					t.Errorf("incomplete cache entry %s", e.Name())
				}
			}
		})
	}
}

func TestInstallOnFullOrReadOnlyTargetLeavesVenvUntouched(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	big := simpleWheel(t, dir, "big", "1.0", map[string]member{"big/blob.txt": {data: strings.Repeat("x", 2<<20)}})
	v := newTestVenv(t, py)
	first := simpleWheel(t, dir, "first", "1.0", nil)
	if _, err := v.Install(ctx, []Wheel{{Path: first}}, InstallOptions{NoCompile: true}); err != nil {
		t.Fatal(err)
	}
	before := venvState(t, v)
	// Read-only site-packages: the install fails while placing files.
	if os.Geteuid() != 0 {
		os.Chmod(v.Purelib, 0o555)
		_, err := v.Install(ctx, []Wheel{{Path: big}}, InstallOptions{NoCompile: true})
		os.Chmod(v.Purelib, 0o755)
		if err == nil {
			t.Fatal("install into a read-only site-packages succeeded")
		}
		diffSnapshots(t, "after read-only failure", before, venvState(t, v))
	}
	// A full filesystem: a 1 MiB tmpfs cannot hold the 2 MiB wheel member.
	if os.Geteuid() == 0 {
		mnt := filepath.Join(t.TempDir(), "small")
		os.Mkdir(mnt, 0o755)
		if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
			t.Logf("cannot mount a small tmpfs (%v); full-disk case not run", err)
			return
		}
		defer syscall.Unmount(mnt, 0)
		w := newTestVenvAt(t, py, filepath.Join(mnt, "venv"))
		before := venvState(t, w)
		_, err := w.Install(ctx, []Wheel{{Path: big}}, InstallOptions{NoCompile: true})
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("install onto a full disk: %v, want ENOSPC", err)
		}
		diffSnapshots(t, "after disk-full failure", before, venvState(t, w))
		// The same filesystem remounted read-only: a clear EROFS, nothing
		// changed.
		if err := syscall.Mount("", mnt, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			t.Fatalf("remount read-only: %v", err)
		}
		small := simpleWheel(t, dir, "small", "1.0", nil)
		_, err = w.Install(ctx, []Wheel{{Path: small}}, InstallOptions{NoCompile: true})
		if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), w.Dir) {
			t.Fatalf("install onto a read-only venv: %v, want EROFS naming the venv", err)
		}
		diffSnapshots(t, "after read-only failure", before, venvState(t, w))
	}
}

func newTestVenvAt(t testing.TB, py *Interpreter, dir string) *Venv {
	v, err := Create(context.Background(), dir, py, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUpgradeReplacesAndUninstallRemoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	empty := venvState(t, v)
	cache, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v1 := simpleWheel(t, dir, "demo-pkg", "1.0", map[string]member{"demo_pkg/old.py": {data: "OLD = 1\n"}})
	v2 := simpleWheel(t, dir, "demo-pkg", "2.0", map[string]member{"demo_pkg/new.py": {data: "NEW = 1\n"}})
	if _, err := v.Install(ctx, []Wheel{{Path: v1}}, InstallOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(v.Purelib, "demo_pkg", "__pycache__", "old."+py.CacheTag+".pyc")); err != nil {
		t.Fatalf("not compiled: %v", err)
	}
	if _, err := v.Install(ctx, []Wheel{{Path: v2}}, InstallOptions{Cache: cache}); err != nil {
		t.Fatal(err)
	}
	ds, err := v.Installed(ctx)
	if err != nil || len(ds) != 1 || ds[0].Version != "2.0" {
		t.Fatalf("installed after upgrade: %+v %v", ds, err)
	}
	for _, gone := range []string{"demo_pkg/old.py", "demo_pkg/__pycache__/old." + py.CacheTag + ".pyc", "demo_pkg-1.0.dist-info"} {
		if _, err := os.Lstat(filepath.Join(v.Purelib, gone)); err == nil {
			t.Errorf("%s survived the upgrade", gone)
		}
	}
	run(t, v.Executable(), "-c", "import demo_pkg.new; assert demo_pkg.VERSION == '2.0'")
	if _, err := v.Uninstall(ctx, []string{"Demo_Pkg"}, InstallOptions{}); err != nil {
		t.Fatal(err)
	}
	diffSnapshots(t, "after uninstall", empty, venvState(t, v))
	if _, err := v.Uninstall(ctx, []string{"demo-pkg"}, InstallOptions{}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("second uninstall: %v", err)
	}
}

func TestUninstallRefusesRecordEscapingVenv(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	v := newTestVenv(t, py)
	w := simpleWheel(t, dir, "esc", "1.0", nil)
	ds, err := v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{NoCompile: true})
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim.txt")
	os.WriteFile(victim, []byte("keep me"), 0o644)
	rec := filepath.Join(ds[0].DistInfo, "RECORD")
	b, _ := os.ReadFile(rec)
	os.WriteFile(rec, append(b, []byte(victim+",,\r\n")...), 0o644)
	if _, err := v.Uninstall(ctx, []string{"esc"}, InstallOptions{}); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("uninstall with an escaping RECORD: %v", err)
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatal("file outside the venv removed")
	}
}

func TestCacheLinksReadOnlyAndFallsBackToCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	w := simpleWheel(t, dir, "linked", "1.0", nil)
	for _, m := range []linkMethod{linkAuto, linkCopy} {
		t.Run(m.String(), func(t *testing.T) {
			cache, err := OpenCache(filepath.Join(t.TempDir(), "cache"), CacheOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cache.force = m
			v := newTestVenv(t, py)
			if _, err := v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{Cache: cache}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(v.Purelib, "linked", "__init__.py")
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o444 {
				t.Errorf("linked file mode %v, want 0444", st.Mode())
			}
			nlink := st.Sys().(*syscall.Stat_t).Nlink
			if m == linkCopy && nlink != 1 {
				t.Errorf("copy has %d links", nlink)
			}
			// The cached files are read-only, and their directories too.
			ents, _ := filepath.Glob(filepath.Join(cache.Dir(), "wheels", "*", "files", "linked"))
			if len(ents) != 1 {
				t.Fatalf("cache entry dirs: %v", ents)
			}
			if st, _ := os.Stat(ents[0]); st.Mode().Perm() != 0o555 {
				t.Errorf("cache dir mode %v", st.Mode())
			}
			// Replacing the venv's file (what installers do) never changes the
			// cache.
			cached := filepath.Join(ents[0], "__init__.py")
			before, _ := os.ReadFile(cached)
			os.Remove(p)
			os.WriteFile(p, []byte("changed"), 0o644)
			after, _ := os.ReadFile(cached)
			if string(before) != string(after) {
				t.Fatal("cache written through")
			}
		})
	}
}

func TestLaunchersRunFromSpacedAndLongVenvPaths(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	py := py311(t)
	dir := t.TempDir()
	w := buildWheel(t, dir, wheelSpec{name: "hello", version: "1.0", files: map[string]member{
		"hello/__init__.py":                    {data: "import sys\ndef main():\n    print('hello', sys.argv[1:])\n"},
		"hello-1.0.dist-info/entry_points.txt": {data: "[console_scripts]\nhello = hello:main\n"},
	}})
	long := filepath.Join(dir, strings.Repeat("d", 60), strings.Repeat("e", 60), "venv")
	for _, p := range []string{filepath.Join(dir, "with space", "venv"), long} {
		v, err := Create(ctx, p, py, CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Install(ctx, []Wheel{{Path: w}}, InstallOptions{NoCompile: true}); err != nil {
			t.Fatal(err)
		}
		script, _ := os.ReadFile(filepath.Join(v.Scripts, "hello"))
		if !strings.HasPrefix(string(script), "#!/bin/sh\n'''exec' ") {
			t.Errorf("%s: launcher does not use the /bin/sh trick:\n%s", p, script)
		}
		if out := run(t, filepath.Join(v.Scripts, "hello"), "a b"); out != "hello ['a b']\n" {
			t.Errorf("%s: launcher printed %q", p, out)
		}
	}
}
