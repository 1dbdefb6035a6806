package venv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchDir is a scratch directory on the machine's disk ($DEPLOYKIT_BENCH_DIR,
// else /var/tmp), not tmpfs: the install figures are about a real
// filesystem's directory operations.
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
	b.Cleanup(func() { removeTree(dir) })
	return dir
}

// BenchmarkCreate is venv creation in-process (the CLI figure, process
// start included, is examples/deploykit's BenchmarkCLIVenv).
func BenchmarkCreate(b *testing.B) {
	py := py311(b)
	dir := benchDir(b)
	i := 0
	for b.Loop() {
		i++
		if _, err := Create(context.Background(), filepath.Join(dir, strconv.Itoa(i)), py, CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstallWarmToDisk installs the whole wheelhouse without
// compiling into a new venv from a warm cache on the disk, in-process,
// with the default parallelism and with 1, 2, 4 and 8 workers.
func BenchmarkInstallWarmToDisk(b *testing.B) {
	for _, jobs := range []int{0, 1, 2, 4, 8} {
		name := "jobs=" + strconv.Itoa(jobs)
		if jobs == 0 {
			name = "jobs=default"
		}
		b.Run(name, func(b *testing.B) { benchInstallWarm(b, jobs) })
	}
}

func benchInstallWarm(b *testing.B, jobs int) {
	ctx := context.Background()
	py := py311(b)
	dir := benchDir(b)
	c, err := OpenCache(filepath.Join(dir, "cache"), CacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var ws []Wheel
	for _, w := range wheelhouseSubset(b, nil) {
		ws = append(ws, Wheel{Path: w, Requested: true})
	}
	install := func(name string) {
		v, err := Create(ctx, filepath.Join(dir, name), py, CreateOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Install(ctx, ws, InstallOptions{Cache: c, NoCompile: true, Jobs: jobs}); err != nil {
			b.Fatal(err)
		}
	}
	install("warm")
	i := 0
	for b.Loop() {
		i++
		install(strconv.Itoa(i))
	}
}
