package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/internal/indextest"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements/lock"
)

// TestCLILockReadsPagesAndMetadataOnly locks the whole wheelhouse from
// its index, whose pages give every file's sha256 and PEP 658 metadata:
// `deploykit lock` reads each project's page and one metadata file per
// package, and downloads no file (it used to download every wheel).
func TestCLILockReadsPagesAndMetadataOnly(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	py := testenv.PythonMinor(t, "3.11")
	data, err := os.ReadFile(filepath.Join(wh.Dir, "roots.txt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := strings.Fields(string(data))
	srv := indextest.New(t, wh.IndexDir, indextest.Options{})
	dir := t.TempDir()
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	out := filepath.Join(dir, "pylock.toml")
	args := append([]string{"lock", "-i", srv.IndexURL(), "--python", py.Path, "--cache-dir", filepath.Join(dir, "cache"), "-o", out}, roots...)
	c.ok(args...)
	lk, err := lock.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(lk.Packages))
	if n < int64(len(roots)) {
		t.Fatalf("the lock has %d packages for %d roots", n, len(roots))
	}
	for _, p := range lk.Packages {
		if len(p.Wheels) == 0 || p.Wheels[0].Hashes["sha256"] == "" {
			t.Errorf("%s: no wheel with a sha256 in the lock", p.Name)
		}
	}
	if got := srv.Counts(); got.Pages != n || got.Metadata != n || got.Wheels != 0 || got.Sdists != 0 || got.Other != 0 {
		t.Errorf("locking %d packages made %v; want %d pages, %d metadata files, nothing else", n, got, n, n)
	}
}

// TestCLIInstallDownloadsEachWheelOnce installs from the wheelhouse's
// index, 20 ms away: every package installed is one page, one metadata
// file and one wheel, whichever order they were fetched in.
func TestCLIInstallDownloadsEachWheelOnce(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	py := testenv.SystemPython(t)
	srv := indextest.New(t, wh.IndexDir, indextest.Options{Delay: indextest.DefaultDelay})
	dir := t.TempDir()
	c := &cli{t: t, root: filepath.Join(dir, "root"), env: []string{"DEPLOYKIT_ROOT="}}
	v := filepath.Join(dir, "venv")
	c.ok("venv", v, "--python", py.Path)
	so := c.ok("install", "--venv", v, "--no-compile", "-i", srv.IndexURL(), "--cache-dir", filepath.Join(dir, "cache"), "requests", "sqlparse")
	installed := strings.Fields(strings.TrimPrefix(strings.TrimSpace(so), "Successfully installed "))
	n := int64(len(installed))
	if n < 5 {
		t.Fatalf("install: %s", so)
	}
	if got := srv.Counts(); got.Pages != n || got.Metadata != n || got.Wheels != n || got.Sdists != 0 || got.Other != 0 {
		t.Errorf("installing %d packages made %v; want %d pages, metadata files and wheels", n, got, n)
	}
}
