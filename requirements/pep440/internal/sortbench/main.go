// Command sortbench times parsing and sorting a file of version strings
// (one a line) with package pep440, for scripts/bench/pep440.sh. It prints
// the best wall time in seconds over -runs runs and, with -check, the
// sorted normalized versions to compare with Python's order.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/requirements/pep440"
)

func main() {
	runs := flag.Int("runs", 5, "timed runs; the best is reported")
	check := flag.String("check", "", "write the sorted normalized versions to this file")
	procs := flag.Int("procs", 1, "GOMAXPROCS; 1 (the default) runs single-threaded, as CPython does")
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sortbench [-runs N] [-check OUT] VERSIONS.txt")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	f.Close()
	best, bestCPU := time.Duration(1<<63-1), time.Duration(1<<63-1)
	var sorted []pep440.Version
	for r := 0; r < *runs; r++ {
		start, startCPU := time.Now(), cpuTime()
		vs := make([]pep440.Version, len(lines))
		for i, s := range lines {
			v, err := pep440.Parse(s)
			if err != nil {
				fmt.Fprintf(os.Stderr, "line %d: %v\n", i+1, err)
				os.Exit(1)
			}
			vs[i] = v
		}
		pep440.Sort(vs)
		best = min(best, time.Since(start))
		bestCPU = min(bestCPU, cpuTime()-startCPU)
		sorted = vs
	}
	if *check != "" {
		out, err := os.Create(*check)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w := bufio.NewWriter(out)
		for _, v := range sorted {
			fmt.Fprintln(w, v)
		}
		if err := w.Flush(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out.Close()
	}
	fmt.Printf("%.6f %.6f\n", best.Seconds(), bestCPU.Seconds())
}

// cpuTime is the user and system time used by the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
