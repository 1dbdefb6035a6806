// Command benchcmd times deploykit's venv creation and wheel installs
// against python -m venv and pip on the same wheels; scripts/bench/venv.sh
// runs it. Subcommands:
//
//	benchcmd all -python PY -wheels DIR -work DIR [-n N]
//	    every comparison, printed with ratios
//	benchcmd install -python PY -cache DIR -venv DIR WHEEL...
//	    one Create + Install (for /usr/bin/time -v peak memory)
//	benchcmd cli -deploykit BIN -python PY -wheels DIR -work DIR [-floor BIN]
//	    the deploykit CLI as whole processes against python -m venv,
//	    pip and cp -al, on the work directory's disk (cli.go)
//	benchcmd jobs -python PY -wheels DIR -work DIR [-rounds N]
//	    a warm install with 1, 2, 4 and 8 workers, taking turns (jobs.go)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/venv"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchcmd all|install|cli|jobs ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "all":
		err = all(os.Args[2:])
	case "install":
		err = installOnce(os.Args[2:])
	case "cli":
		err = cli(os.Args[2:])
	case "jobs":
		err = jobs(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

func installOnce(args []string) error {
	fs := flag.NewFlagSet("install", flag.ExitOnError)
	python := fs.String("python", "", "interpreter")
	cache := fs.String("cache", "", "cache dir")
	dir := fs.String("venv", "", "venv dir (must not exist)")
	noCompile := fs.Bool("no-compile", false, "skip byte-compilation")
	fs.Parse(args)
	ctx := context.Background()
	t0 := time.Now()
	py, err := venv.Inspect(ctx, *python, venv.InspectOptions{CacheDir: *cache})
	if err != nil {
		return err
	}
	c, err := venv.OpenCache(*cache, venv.CacheOptions{})
	if err != nil {
		return err
	}
	v, err := venv.Create(ctx, *dir, py, venv.CreateOptions{CacheDir: *cache})
	if err != nil {
		return err
	}
	var ws []venv.Wheel
	for _, w := range fs.Args() {
		ws = append(ws, venv.Wheel{Path: w, Requested: true})
	}
	if _, err := v.Install(ctx, ws, venv.InstallOptions{Cache: c, NoCompile: *noCompile}); err != nil {
		return err
	}
	fmt.Printf("installed %d wheels in %v\n", len(ws), time.Since(t0).Round(time.Millisecond))
	return nil
}

// cpuNow is the CPU time (user+system) used so far by this process and
// its waited-for children (pip, the compiler processes).
func cpuNow() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func runCmd(name string, args ...string) (time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PIP_FIND_LINKS=")
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return d, nil
}

var wheelRe = regexp.MustCompile(`^([^-]+)-([^-]+)-`)

func all(args []string) error {
	fs := flag.NewFlagSet("all", flag.ExitOnError)
	python := fs.String("python", "", "interpreter (with pip; the wheels' ABI)")
	wheelDir := fs.String("wheels", "", "directory of .whl files")
	work := fs.String("work", "", "scratch directory")
	n := fs.Int("n", 20, "venv creations to time")
	fs.Parse(args)
	ctx := context.Background()
	wheels, _ := filepath.Glob(filepath.Join(*wheelDir, "*.whl"))
	if len(wheels) == 0 {
		return fmt.Errorf("no wheels in %s", *wheelDir)
	}
	var reqs []string
	for _, w := range wheels {
		m := wheelRe.FindStringSubmatch(filepath.Base(w))
		reqs = append(reqs, m[1]+"=="+m[2])
	}
	py, err := venv.Inspect(ctx, *python, venv.InspectOptions{})
	if err != nil {
		return err
	}
	fmt.Printf("interpreter: %s\nwheels: %d from %s\n\n", py, len(wheels), *wheelDir)

	// 1. venv creation.
	var dk, pv []time.Duration
	for i := 0; i < *n; i++ {
		t0 := time.Now()
		if _, err := venv.Create(ctx, filepath.Join(*work, "create", fmt.Sprint("dk", i)), py, venv.CreateOptions{}); err != nil {
			return err
		}
		dk = append(dk, time.Since(t0))
	}
	for i := 0; i < 5; i++ {
		d, err := runCmd(py.Path, "-m", "venv", "--without-pip", filepath.Join(*work, "create", fmt.Sprint("py", i)))
		if err != nil {
			return err
		}
		pv = append(pv, d)
	}
	dkCreate, pyCreate := median(dk), median(pv)
	fmt.Printf("venv creation (median): deploykit %v   python -m venv --without-pip %v   ratio %.0fx\n\n",
		dkCreate.Round(10*time.Microsecond), pyCreate.Round(time.Millisecond), float64(pyCreate)/float64(dkCreate))

	// 2. pip: cold (fresh pip cache) then warm (same cache), each into a
	// fresh venv; pip runs from the base interpreter with --python.
	pipInstall := func(tag, cacheDir string, extra ...string) (time.Duration, error) {
		dir := filepath.Join(*work, "pip-"+tag)
		if _, err := runCmd(py.Path, "-m", "venv", "--without-pip", dir); err != nil {
			return 0, err
		}
		a := append([]string{"-m", "pip", "--python", filepath.Join(dir, "bin", "python"), "install", "--no-index", "--no-deps",
			"--find-links", *wheelDir, "--cache-dir", cacheDir}, extra...)
		return runCmd(py.Path, append(a, reqs...)...)
	}
	pipCache := filepath.Join(*work, "pip-cache")
	c0 := cpuNow()
	pipCold, err := pipInstall("cold", pipCache)
	if err != nil {
		return err
	}
	pipColdCPU := cpuNow() - c0
	pipWarm, err := pipInstall("warm", pipCache)
	if err != nil {
		return err
	}
	c0 = cpuNow()
	pipNoCompile, err := pipInstall("nocompile", pipCache, "--no-compile")
	if err != nil {
		return err
	}
	pipNoCompileCPU := cpuNow() - c0
	// The classic recipe the issue replaces: python -m venv (with pip,
	// through ensurepip), then that pip installs the wheels.
	classicDir := filepath.Join(*work, "pip-classic")
	t0 := time.Now()
	if _, err := runCmd(py.Path, "-m", "venv", classicDir); err != nil {
		return err
	}
	if _, err := runCmd(filepath.Join(classicDir, "bin", "python"), append([]string{"-m", "pip", "install", "--no-index", "--no-deps",
		"--find-links", *wheelDir, "--cache-dir", filepath.Join(*work, "pip-classic-cache")}, reqs...)...); err != nil {
		return err
	}
	classic := time.Since(t0)

	// 3. deploykit: cold (empty cache: hash, unpack, verify, compile),
	// warm (a new venv from the filled cache), and a third venv.
	dkInstall := func(tag, cacheDir string, noCompile bool) (time.Duration, error) {
		t0 := time.Now()
		c, err := venv.OpenCache(cacheDir, venv.CacheOptions{})
		if err != nil {
			return 0, err
		}
		v, err := venv.Create(ctx, filepath.Join(*work, "dk-"+tag), py, venv.CreateOptions{})
		if err != nil {
			return 0, err
		}
		var ws []venv.Wheel
		for _, w := range wheels {
			ws = append(ws, venv.Wheel{Path: w, Requested: true})
		}
		if _, err := v.Install(ctx, ws, venv.InstallOptions{Cache: c, NoCompile: noCompile}); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	dkCache := filepath.Join(*work, "dk-cache")
	c0 = cpuNow()
	dkCold, err := dkInstall("cold", dkCache, false)
	if err != nil {
		return err
	}
	dkColdCPU := cpuNow() - c0
	dkWarm, err := dkInstall("warm", dkCache, false)
	if err != nil {
		return err
	}
	dkThird, err := dkInstall("third", dkCache, false)
	if err != nil {
		return err
	}
	c0 = cpuNow()
	dkNoCompileCold, err := dkInstall("nocompile-cold", filepath.Join(*work, "dk-cache-nc"), true)
	if err != nil {
		return err
	}
	dkNoCompileCPU := cpuNow() - c0

	r := func(a, b time.Duration) float64 { return float64(a) / float64(b) }
	fmt.Printf("install of all %d wheels into a fresh venv (deploykit times include creating the venv):\n", len(wheels))
	fmt.Printf("  cold  deploykit %8v   pip %8v   ratio %5.1fx   (empty caches; both byte-compile)\n", dkCold.Round(time.Millisecond), pipCold.Round(time.Millisecond), r(pipCold, dkCold))
	fmt.Printf("  warm  deploykit %8v   pip %8v   ratio %5.1fx   (caches filled by the cold run)\n", dkWarm.Round(time.Millisecond), pipWarm.Round(time.Millisecond), r(pipWarm, dkWarm))
	fmt.Printf("  cold CPU time (user+sys, incl. compiler processes): deploykit %v   pip %v\n", dkColdCPU.Round(10*time.Millisecond), pipColdCPU.Round(10*time.Millisecond))
	fmt.Printf("  third venv of the same set from the warm cache: %v\n", dkThird.Round(time.Millisecond))
	fmt.Printf("  classic recipe, cold (python -m venv with pip, then pip install): %v   ratio %.1fx\n", classic.Round(time.Millisecond), r(classic, dkCold))
	fmt.Printf("  --no-compile, cold: deploykit %v   pip %v   ratio %.1fx   (CPU: deploykit %v, pip %v)\n", dkNoCompileCold.Round(time.Millisecond), pipNoCompile.Round(time.Millisecond), r(pipNoCompile, dkNoCompileCold),
		dkNoCompileCPU.Round(10*time.Millisecond), pipNoCompileCPU.Round(10*time.Millisecond))
	// What byte-compilation costs, and what that allows: CPython's compiler
	// does the same work for any installer; spread over every CPU at best.
	pipCompile, dkCompile := pipColdCPU-pipNoCompileCPU, dkColdCPU-dkNoCompileCPU
	cpus := runtime.NumCPU()
	best := time.Duration(float64(pipCompile)/float64(cpus)) + dkNoCompileCold
	fmt.Printf("  byte-compilation alone (CPU): pip %v in one process, deploykit %v over %d worker processes\n", pipCompile.Round(10*time.Millisecond), dkCompile.Round(10*time.Millisecond), cpus)
	fmt.Printf("  ceiling with compilation on %d CPUs (pip's compile CPU / %d + deploykit's install without it): %v, ratio %.1fx\n", cpus, cpus, best.Round(time.Millisecond), r(pipCold, best))
	return nil
}
