// Command benchcmd drives scripts/bench/resolve.sh: it serves a simple
// index directory on 127.0.0.1, and resolves requirement lists against an
// index cold (empty cache) or warm (cache filled by a previous run),
// printing the median time.
//
//	benchcmd serve [-delay 20ms] DIR   print the URL, serve until killed
//	benchcmd resolve -index URL -python PY -n N [-warm] REQ...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/deploykit/deploykit/internal/indextest"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/resolve"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchcmd serve DIR | resolve [flags] REQ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "resolve":
		err = bench(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchcmd:", err)
		os.Exit(1)
	}
}

// serve runs internal/indextest's server: keep-alive, a delay per
// response, requests counted (GET URL/-/counts, POST URL/-/reset).
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	delay := fs.Duration("delay", indextest.DefaultDelay, "wait before each response")
	noHashes := fs.Bool("no-hashes", false, "serve pages without #sha256= fragments")
	noMetadata := fs.Bool("no-metadata", false, "serve no PEP 658 metadata")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("serve [-delay D] [-no-hashes] [-no-metadata] DIR")
	}
	srv, err := indextest.Start(fs.Arg(0), indextest.Options{Delay: *delay, NoHashes: *noHashes, NoMetadata: *noMetadata})
	if err != nil {
		return err
	}
	fmt.Println(srv.URL)
	os.Stdout.Sync()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	return srv.Close()
}

func bench(args []string) error {
	fs := flag.NewFlagSet("resolve", flag.ExitOnError)
	indexURL := fs.String("index", "", "simple index URL")
	python := fs.String("python", "python3", "target interpreter")
	n := fs.Int("n", 5, "runs")
	warm := fs.Bool("warm", false, "keep the cache between runs (one untimed run fills it)")
	fs.Parse(args)
	ctx := context.Background()
	var roots []requirements.Requirement
	for _, a := range fs.Args() {
		r, err := requirements.ParseRequirement(a)
		if err != nil {
			return err
		}
		roots = append(roots, r)
	}
	tg, err := resolve.ProbeTarget(ctx, *python)
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp("", "benchcmd-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	once := func(dir string) (time.Duration, int, error) {
		start := time.Now()
		f, err := index.New(index.Options{IndexURL: *indexURL, CacheDir: dir})
		if err != nil {
			return 0, 0, err
		}
		defer f.Close()
		p := &resolve.IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}
		res, err := resolve.Resolve(ctx, p, roots, resolve.Options{Environment: tg.Environment})
		if err != nil {
			return 0, 0, err
		}
		return time.Since(start), len(res.Packages), nil
	}
	if *warm {
		if _, _, err := once(cache); err != nil {
			return err
		}
	}
	var times []time.Duration
	pkgs := 0
	for i := 0; i < *n; i++ {
		dir := cache
		if !*warm {
			dir, err = os.MkdirTemp("", "benchcmd-cold-")
			if err != nil {
				return err
			}
		}
		d, np, err := once(dir)
		if !*warm {
			os.RemoveAll(dir)
		}
		if err != nil {
			return err
		}
		times = append(times, d)
		pkgs = np
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("%.4f %d\n", times[len(times)/2].Seconds(), pkgs)
	return nil
}
