package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/deploykit/deploykit/venv"
)

// jobs times a warm install of the wheelhouse (no compiling) into a new
// venv on the work directory's disk with 1, 2, 4 and 8 workers, the
// settings taking turns round after round so that a change in the
// machine's load hits them alike.
func jobs(args []string) error {
	fs := flag.NewFlagSet("jobs", flag.ExitOnError)
	python := fs.String("python", "", "interpreter")
	wheelDir := fs.String("wheels", "", "directory of .whl files")
	work := fs.String("work", "", "scratch directory on the disk to measure")
	rounds := fs.Int("rounds", 7, "rounds")
	fs.Parse(args)
	ctx := context.Background()
	py, err := venv.Inspect(ctx, *python, venv.InspectOptions{})
	if err != nil {
		return err
	}
	c, err := venv.OpenCache(filepath.Join(*work, "cache"), venv.CacheOptions{})
	if err != nil {
		return err
	}
	wheels, _ := filepath.Glob(filepath.Join(*wheelDir, "*.whl"))
	var ws []venv.Wheel
	for _, w := range wheels {
		ws = append(ws, venv.Wheel{Path: w, Requested: true})
	}
	n := 0
	install := func(jobs int) (time.Duration, error) {
		n++
		dir := filepath.Join(*work, "v"+strconv.Itoa(n))
		t0 := time.Now()
		v, err := venv.Create(ctx, dir, py, venv.CreateOptions{})
		if err != nil {
			return 0, err
		}
		if _, err := v.Install(ctx, ws, venv.InstallOptions{Cache: c, NoCompile: true, Jobs: jobs}); err != nil {
			return 0, err
		}
		d := time.Since(t0)
		return d, os.RemoveAll(dir)
	}
	if _, err := install(0); err != nil { // fills the cache
		return err
	}
	settings := []int{1, 2, 4, 8}
	times := map[int][]time.Duration{}
	for r := range *rounds {
		fmt.Printf("round %d:", r+1)
		for _, j := range settings {
			d, err := install(j)
			if err != nil {
				return err
			}
			times[j] = append(times[j], d)
			fmt.Printf("  %d workers %.3f s", j, d.Seconds())
		}
		fmt.Println()
	}
	fmt.Print("median:")
	for _, j := range settings {
		fmt.Printf("  %d workers %.3f s", j, median(times[j]).Seconds())
	}
	fmt.Println()
	return nil
}
