package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cli times the deploykit binary as a user runs it — whole processes, on
// the work directory's disk — next to python -m venv, pip and cp -al in
// the same run, each round printed, then the medians and their ratio.
func cli(args []string) error {
	fs := flag.NewFlagSet("cli", flag.ExitOnError)
	dk := fs.String("deploykit", "", "the deploykit binary (go build ./examples/deploykit)")
	python := fs.String("python", "", "interpreter (with pip)")
	wheelDir := fs.String("wheels", "", "the wheelhouse: *.whl and roots.txt")
	work := fs.String("work", "", "scratch directory on the disk to measure")
	floor := fs.String("floor", "", "a Go program that does nothing, for the process-start floor")
	venvRounds := fs.Int("venv-rounds", 21, "rounds of venv creation (0: skip)")
	warmRounds := fs.Int("warm-rounds", 5, "rounds of the warm install (0: skip)")
	coldRounds := fs.Int("cold-rounds", 1, "rounds of each cold install (0: skip)")
	fs.Parse(args)
	b, err := os.ReadFile(filepath.Join(*wheelDir, "roots.txt"))
	if err != nil {
		return err
	}
	roots := strings.Fields(string(b))
	wheels, _ := filepath.Glob(filepath.Join(*wheelDir, "*.whl"))
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(*work, &st); err != nil {
		return err
	}
	fmt.Printf("deploykit as a user runs it: %s (go build), Python %s, %d roots of the %d-wheel wheelhouse %s\n", *dk, *python, len(roots), len(wheels), *wheelDir)
	fmt.Printf("work directory %s (filesystem magic %#x%s), %d CPUs\n\n", *work, st.Type, fsName(int64(st.Type)), runtime.NumCPU())

	r := &runner{work: *work}
	warmRoot := filepath.Join(*work, "root-warm")
	dkEnv := func(root string) []string {
		// As root the facts cache is ROOT/cache, else $XDG_CACHE_HOME/deploykit.
		return []string{"DEPLOYKIT_ROOT=" + root, "XDG_CACHE_HOME=" + filepath.Join(root, "xdg")}
	}

	install := func(env []string, dir string, extra ...string) (usage, error) {
		u1, err := r.run(env, *dk, "venv", dir, "--python", *python)
		if err != nil {
			return usage{}, err
		}
		a := append([]string{"install", "--venv", dir, "--no-index", "-f", *wheelDir}, extra...)
		u2, err := r.run(env, *dk, append(a, roots...)...)
		return u1.add(u2), err
	}
	pipArgs := func(dir, cache string, extra ...string) []string {
		a := []string{"-m", "pip", "--python", filepath.Join(dir, "bin", "python"), "install", "--no-index", "-f", *wheelDir, "--cache-dir", cache}
		return append(append(a, extra...), roots...)
	}

	// 1. venv creation.
	if *venvRounds > 0 {
		if err := r.venvs(*dk, *python, *floor, *venvRounds, dkEnv(warmRoot)); err != nil {
			return err
		}
	}
	// 2. Warm install onto the disk, against cp -al of the same tree.
	if *warmRounds > 0 {
		if err := r.warm(*dk, *python, *wheelDir, roots, *warmRounds, dkEnv(warmRoot), install, pipArgs); err != nil {
			return err
		}
	}
	// 3.
	return r.cold(*python, roots, *coldRounds, dkEnv, install, pipArgs)
}

// venvs is part 1: venv creation, deploykit against python -m venv,
// beside the floors of starting a process on this machine: /bin/true (the
// cost of a process at all), a Go program that does nothing (the Go
// runtime's start) and deploykit --help (deploykit's start, no work).
func (r *runner) venvs(dk, python, floor string, rounds int, env []string) error {
	fmt.Println("1. venv creation, whole processes (interpreter facts cached by a first run):")
	if _, err := r.run(env, dk, "venv", r.fresh("first"), "--python", python); err != nil {
		return err
	}
	truePath, _ := exec.LookPath("true")
	var dkV, pyV, trueV, floorV, helpV []usage
	for i := range rounds {
		a, err := r.run(env, dk, "venv", r.fresh("dkv"), "--python", python)
		if err != nil {
			return err
		}
		p, err := r.run(nil, python, "-m", "venv", "--without-pip", r.fresh("pyv"))
		if err != nil {
			return err
		}
		h, err := r.run(env, dk, "--help")
		if err != nil {
			return err
		}
		dkV, pyV, helpV = append(dkV, a), append(pyV, p), append(helpV, h)
		if truePath != "" {
			t, err := r.run(nil, truePath)
			if err != nil {
				return err
			}
			trueV = append(trueV, t)
		}
		if floor != "" {
			f, err := r.run(nil, floor)
			if err != nil {
				return err
			}
			floorV = append(floorV, f)
		}
		if i < 5 || i == rounds-1 {
			fmt.Printf("   round %2d: deploykit venv %6.2f ms   python -m venv --without-pip %6.1f ms\n", i+1, ms(a.wall), ms(p.wall))
		}
	}
	dkm, pym := medianUsage(dkV), medianUsage(pyV)
	fmt.Printf("   median of %d: deploykit venv %.2f ms, python -m venv --without-pip %.1f ms: ratio %.1fx   (goal: <= 5 ms and >= 10x)\n",
		rounds, ms(dkm.wall), ms(pym.wall), float64(pym.wall)/float64(dkm.wall))
	fmt.Println("   process start on this machine (medians; CPU = user + system of the process, which load changes least):")
	floors := []struct {
		name string
		u    []usage
	}{{"/bin/true (any process)", trueV}, {"a Go program that does nothing", floorV}, {"deploykit --help", helpV}}
	fmt.Printf("     %-34s %8.2f ms wall %8.2f ms CPU\n", "deploykit venv", ms(dkm.wall), ms(dkm.cpu))
	for _, f := range floors {
		if len(f.u) == 0 {
			continue
		}
		m := medianUsage(f.u)
		fmt.Printf("     %-34s %8.2f ms wall %8.2f ms CPU   deploykit venv is %.1fx its wall, %.1fx its CPU\n",
			f.name, ms(m.wall), ms(m.cpu), float64(dkm.wall)/float64(m.wall), float64(dkm.cpu)/float64(m.cpu))
	}
	fmt.Println()
	return nil
}

// medianUsage is the median wall time and the median CPU time of us.
func medianUsage(us []usage) usage {
	var w, c []time.Duration
	for _, u := range us {
		w, c = append(w, u.wall), append(c, u.cpu)
	}
	return usage{wall: median(w), cpu: median(c)}
}

// warm is part 2: the warm install onto the disk, against cp -al of the
// same tree, and pip.
func (r *runner) warm(dk, python, wheelDir string, roots []string, rounds int, env []string,
	install func([]string, string, ...string) (usage, error), pipArgs func(string, string, ...string) []string) error {
	fmt.Println("2. venv + install --no-compile --no-index -f WHEELHOUSE ROOTS, warm cache, against cp -al of the installed tree:")
	src := r.fresh("warm-src")
	if _, err := install(env, src, "--no-compile"); err != nil { // fills the cache
		return err
	}
	var dkW, cpW []time.Duration
	var dkWC, cpWC []time.Duration
	for i := range rounds {
		a, err := install(env, r.fresh("warm"), "--no-compile")
		if err != nil {
			return err
		}
		c, err := r.run(nil, "cp", "-al", src, r.fresh("cpal"))
		if err != nil {
			return err
		}
		dkW, cpW, dkWC, cpWC = append(dkW, a.wall), append(cpW, c.wall), append(dkWC, a.cpu), append(cpWC, c.cpu)
		fmt.Printf("   round %d: deploykit %6.3f s (%.2f CPU-s)   cp -al %6.3f s (%.2f CPU-s)\n", i+1, a.wall.Seconds(), a.cpu.Seconds(), c.wall.Seconds(), c.cpu.Seconds())
	}
	dkwm, cpwm := median(dkW), median(cpW)
	fmt.Printf("   median: deploykit %.3f s (%.2f CPU-s), cp -al %.3f s (%.2f CPU-s): %.2fx the cp -al floor   (goal: <= 1.5x)\n",
		dkwm.Seconds(), median(dkWC).Seconds(), cpwm.Seconds(), median(cpWC).Seconds(), float64(dkwm)/float64(cpwm))
	pipDir := r.fresh("pipw")
	if _, err := r.run(nil, python, "-m", "venv", "--without-pip", pipDir); err != nil {
		return err
	}
	pipCache := filepath.Join(r.work, "pip-cache-warm")
	if _, err := r.run(nil, python, pipArgs(pipDir, pipCache, "--no-compile")...); err != nil { // fills pip's cache
		return err
	}
	pipDir = r.fresh("pipw2")
	p0, err := r.run(nil, python, "-m", "venv", "--without-pip", pipDir)
	if err != nil {
		return err
	}
	p1, err := r.run(nil, python, pipArgs(pipDir, pipCache, "--no-compile")...)
	if err != nil {
		return err
	}
	pw := p0.add(p1)
	fmt.Printf("   pip, the same (python -m venv --without-pip + pip install --no-compile, warm pip cache), once: %.2f s: deploykit is %.0fx faster\n",
		pw.wall.Seconds(), float64(pw.wall)/float64(dkwm))
	if strace, err := exec.LookPath("strace"); err == nil {
		dir := r.fresh("strace")
		if _, err := r.run(env, dk, "venv", dir, "--python", python); err != nil {
			return err
		}
		dkc, err := r.strace(strace, env, dk, append([]string{"install", "--venv", dir, "--no-compile", "--no-index", "-f", wheelDir}, roots...)...)
		if err != nil {
			return err
		}
		cpc, err := r.strace(strace, nil, "cp", "-al", src, r.fresh("cpal-strace"))
		if err != nil {
			return err
		}
		fmt.Println("   system calls (strace -f -c, one run each; counts do not depend on load):")
		for _, name := range []string{"total", "newfstatat", "mkdirat", "linkat", "openat", "getdents64", "futex"} {
			fmt.Printf("     %-11s deploykit install %6d calls %6d failed   cp -al %6d calls %6d failed\n", name, dkc[name][0], dkc[name][1], cpc[name][0], cpc[name][1])
		}
	}
	fmt.Println()
	return nil
}

// cold is part 3: cold installs, byte-compiling or not, and the ceiling.
func (r *runner) cold(python string, roots []string, rounds int, dkEnv func(string) []string,
	install func([]string, string, ...string) (usage, error), pipArgs func(string, string, ...string) []string) error {
	if rounds == 0 {
		return nil
	}
	fmt.Printf("3. cold caches: venv + install of the %d roots, deploykit and pip, byte-compiling and not:\n", len(roots))
	var dkC, dkN, pipC, pipN usage
	for i := range rounds {
		tag := strconv.Itoa(i)
		c, err := install(dkEnv(r.fresh("root-cold"+tag)), r.fresh("cold"+tag))
		if err != nil {
			return err
		}
		n, err := install(dkEnv(r.fresh("root-nc"+tag)), r.fresh("nc"+tag), "--no-compile")
		if err != nil {
			return err
		}
		pc, err := r.pipCold(python, pipArgs, "pipc"+tag)
		if err != nil {
			return err
		}
		pn, err := r.pipCold(python, pipArgs, "pipn"+tag, "--no-compile")
		if err != nil {
			return err
		}
		fmt.Printf("   round %d: deploykit %.2f s (%.2f CPU-s), --no-compile %.2f s (%.2f CPU-s)   pip %.2f s (%.2f CPU-s), --no-compile %.2f s (%.2f CPU-s)\n",
			i+1, c.wall.Seconds(), c.cpu.Seconds(), n.wall.Seconds(), n.cpu.Seconds(), pc.wall.Seconds(), pc.cpu.Seconds(), pn.wall.Seconds(), pn.cpu.Seconds())
		dkC, dkN, pipC, pipN = best(dkC, c, i), best(dkN, n, i), best(pipC, pc, i), best(pipN, pn, i)
	}
	cpus := runtime.NumCPU()
	pipCompile, dkCompile := pipC.cpu-pipN.cpu, dkC.cpu-dkN.cpu
	ceiling := time.Duration(float64(pipCompile)/float64(cpus)) + dkN.wall
	fmt.Printf("   fastest: deploykit %.2f s, pip %.2f s: %.1fx pip; --no-compile: deploykit %.2f s, pip %.2f s: %.1fx\n",
		dkC.wall.Seconds(), pipC.wall.Seconds(), float64(pipC.wall)/float64(dkC.wall), dkN.wall.Seconds(), pipN.wall.Seconds(), float64(pipN.wall)/float64(dkN.wall))
	fmt.Printf("   byte-compilation alone (CPU): pip %.2f s in one process, deploykit %.2f s over its worker processes\n", pipCompile.Seconds(), dkCompile.Seconds())
	fmt.Printf("   ceiling on %d CPUs (pip's compile CPU / %d + deploykit's cold install without it): %.2f s; deploykit is %.2fx the ceiling   (goal: <= 1.1x)\n",
		cpus, cpus, ceiling.Seconds(), float64(dkC.wall)/float64(ceiling))
	// On a loaded machine no run gets the CPUs the ceiling assumes; the
	// CPU-seconds compare the work itself.
	fmt.Printf("   in CPU-seconds (what load changes least): deploykit %.2f against pip's compiling plus deploykit's install without it %.2f: %.2fx\n",
		dkC.cpu.Seconds(), (pipCompile + dkN.cpu).Seconds(), float64(dkC.cpu)/float64(pipCompile+dkN.cpu))
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fsName(magic int64) string {
	switch magic {
	case 0xef53:
		return ", ext2/3/4"
	case 0x01021994:
		return ", tmpfs: not a disk"
	case 0x58465342:
		return ", xfs"
	case 0x9123683e:
		return ", btrfs"
	}
	return ""
}

// usage is a process's wall time and CPU time (user+system, its waited-for
// children included: the compiler processes, pip's own).
type usage struct{ wall, cpu time.Duration }

func (u usage) add(v usage) usage { return usage{u.wall + v.wall, u.cpu + v.cpu} }

func best(have, u usage, i int) usage {
	if i == 0 || u.wall < have.wall {
		return u
	}
	return have
}

type runner struct {
	work string
	n    int
}

// fresh names a new directory under the work directory.
func (r *runner) fresh(tag string) string {
	r.n++
	return filepath.Join(r.work, fmt.Sprintf("%s-%d", tag, r.n))
}

func (r *runner) run(env []string, name string, args ...string) (usage, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(append(os.Environ(), "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1", "PIP_FIND_LINKS="), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	if err != nil {
		return usage{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return usage{wall, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}, nil
}

func (r *runner) pipCold(python string, pipArgs func(dir, cache string, extra ...string) []string, tag string, extra ...string) (usage, error) {
	dir := r.fresh(tag)
	u1, err := r.run(nil, python, "-m", "venv", "--without-pip", dir)
	if err != nil {
		return usage{}, err
	}
	u2, err := r.run(nil, python, pipArgs(dir, r.fresh(tag+"-cache"), extra...)...)
	return u1.add(u2), err
}

// strace runs a command under strace -f -c and returns calls and errors
// per system call ("total" for all).
func (r *runner) strace(strace string, env []string, name string, args ...string) (map[string][2]int, error) {
	out := r.fresh("strace") + ".txt"
	if _, err := r.run(env, strace, append([]string{"-f", "-c", "-o", out, name}, args...)...); err != nil {
		return nil, err
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	counts := map[string][2]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || fs[0] == "%" || strings.HasPrefix(fs[0], "-") {
			continue
		}
		calls, _ := strconv.Atoi(fs[3])
		errs := 0
		if len(fs) == 6 {
			errs, _ = strconv.Atoi(fs[4])
		}
		counts[fs[len(fs)-1]] = [2]int{calls, errs}
	}
	return counts, sc.Err()
}
