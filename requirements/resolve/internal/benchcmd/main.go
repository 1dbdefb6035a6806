// Command benchcmd drives scripts/bench/resolve.sh: it serves a simple
// index directory on 127.0.0.1, and resolves requirement lists against an
// index cold (empty cache) or warm (cache filled by a previous run),
// printing the median time.
//
//	benchcmd serve DIR                 print the URL, serve until killed
//	benchcmd resolve -index URL -python PY -n N [-warm] REQ...
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"time"

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

func serve(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("serve DIR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	os.Stdout.Sync()
	return http.Serve(ln, http.FileServer(http.Dir(args[0])))
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
