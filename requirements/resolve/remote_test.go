package resolve

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deploykit/deploykit/internal/indextest"
	"github.com/deploykit/deploykit/internal/testenv"
	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/lock"
)

// The tests here resolve against an index that behaves like a remote one
// (internal/indextest): what is fetched, how many round trips it takes,
// and that the outcome does not depend on the order answers come in.

// lockWheelhouse resolves the wheelhouse's roots against srv with a cold
// cache and returns the resolution, the lock's bytes with srv's URL
// replaced by "INDEX", and how long resolving and locking took.
func lockWheelhouse(t testing.TB, srv *indextest.Server) (*Resolution, string, time.Duration) {
	t.Helper()
	wh := testenv.GetWheelhouse(t)
	tg := target(t, testenv.PythonMinor(t, "3.11").Path)
	roots := reqs(t, readLines(t, filepath.Join(wh.Dir, "roots.txt"))...)
	start := time.Now()
	f, err := index.New(index.Options{IndexURL: srv.IndexURL(), CacheDir: t.TempDir(), Netrc: "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Resolve(context.Background(), &IndexProvider{Finder: f, Tags: tg.Tags, Python: tg.Python}, roots, Options{Environment: tg.Environment})
	if err != nil {
		t.Fatal(err)
	}
	l, err := res.Lock(context.Background(), f, LockOptions{Environments: []string{tg.Marker()}})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	b, err := lock.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return res, strings.ReplaceAll(string(b), srv.URL, "INDEX"), el
}

// depth is the number of levels of the resolution's dependency graph: a
// package required by a root is on level 2, and a client that reads a
// project's page and then its metadata cannot know a package of level L
// before 2L round trips.
func depth(res *Resolution, roots []string) int {
	level := map[string]int{}
	var next []string
	for _, r := range roots {
		n := requirements.NormalizeName(r)
		if _, ok := level[n]; !ok && res.Find(n) != nil {
			level[n] = 1
			next = append(next, n)
		}
	}
	deepest := 0
	for len(next) > 0 {
		var more []string
		for _, n := range next {
			deepest = max(deepest, level[n])
			for _, d := range res.Find(n).Dependencies {
				if _, ok := level[d]; !ok {
					level[d] = level[n] + 1
					more = append(more, d)
				}
			}
		}
		next = more
	}
	return deepest
}

// TestLockFallsBackToFilesWhereTheIndexGivesNoHashOrMetadata locks the
// wheelhouse from an index that gives no sha256, no PEP 658 metadata, or
// neither: each wheel is then downloaded, once, as pip and uv do, and the
// lock is byte for byte the one the complete index gives.
func TestLockFallsBackToFilesWhereTheIndexGivesNoHashOrMetadata(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	_, want, _ := lockWheelhouse(t, indextest.New(t, wh.IndexDir, indextest.Options{}))
	for _, tc := range []struct {
		name string
		opts indextest.Options
		meta int64 // metadata files fetched, per package
	}{
		{"no hashes", indextest.Options{NoHashes: true}, 1},
		{"no metadata", indextest.Options{NoMetadata: true}, 0},
		{"neither", indextest.Options{NoHashes: true, NoMetadata: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := indextest.New(t, wh.IndexDir, tc.opts)
			res, got, _ := lockWheelhouse(t, srv)
			if got != want {
				t.Errorf("the lock differs from the complete index's:\n%s\nwant\n%s", got, want)
			}
			n := int64(len(res.Packages))
			if c := srv.Counts(); c.Pages != n || c.Metadata != tc.meta*n || c.Wheels != n || c.Sdists != 0 {
				t.Errorf("locking %d packages made %v; want %d pages, %d metadata files, %d wheels", n, c, n, tc.meta*n, n)
			}
		})
	}
}

// TestResolveOverASlowIndexTakesAboutTwoRoundTripsPerLevel resolves and
// locks the wheelhouse against an index 100 ms away. Fetching a page and
// then a metadata file per level of the dependency graph, the floor is
// depth × 2 round trips; resolving package by package, waiting for each
// one's dependencies when it is decided, took three times that.
func TestResolveOverASlowIndexTakesAboutTwoRoundTripsPerLevel(t *testing.T) {
	wh := testenv.GetWheelhouse(t)
	const delay = 250 * time.Millisecond
	srv := indextest.New(t, wh.IndexDir, indextest.Options{Delay: delay})
	res, _, el := lockWheelhouse(t, srv)
	d := depth(res, readLines(t, filepath.Join(wh.Dir, "roots.txt")))
	floor := time.Duration(2*d) * delay
	c := srv.Counts()
	t.Logf("%d packages, depth %d: %v against a floor of %v (%.2f×); %v, %.1f in flight on average",
		len(res.Packages), d, el.Round(time.Millisecond), floor, float64(el)/float64(floor), c, float64(c.Busy)/float64(el))
	if el > 2*floor {
		t.Errorf("took %v, more than twice the floor of %d levels × 2 round trips × %v = %v", el, d, delay, floor)
	}
}

// jittery answers after a random pause, so that prefetches finish in a
// different order on every run.
type jittery struct {
	Provider
	mu  sync.Mutex
	rng *rand.Rand
}

func (j *jittery) pause() {
	j.mu.Lock()
	d := time.Duration(j.rng.Intn(300)) * time.Microsecond
	j.mu.Unlock()
	time.Sleep(d)
}

func (j *jittery) Versions(ctx context.Context, name string) ([]Candidate, error) {
	j.pause()
	return j.Provider.Versions(ctx, name)
}

func (j *jittery) Metadata(ctx context.Context, c Candidate) (*Metadata, error) {
	j.pause()
	return j.Provider.Metadata(ctx, c)
}

// TestResolutionDoesNotDependOnFetchOrder resolves a graph that needs
// much backtracking, and one that has no solution, with the provider's
// answers arriving in a different order each time (and with one request
// at a time): the versions chosen and the explanation are the same.
func TestResolutionDoesNotDependOnFetchOrder(t *testing.T) {
	m, roots := synthGraph(150, 3)
	want := summary(resolveOK(t, m, Options{Concurrency: 1}, roots...))
	// As in TestSynthetic500UnsatisfiableExplains: the bottom of the graph
	// needs a sink that does not exist.
	bad, badRoots := synthGraph(150, 4)
	for i := 150 - 40; i < 150; i++ {
		for _, r := range bad.pkgs[fmt.Sprintf("p%03d", i)] {
			r.deps = append(r.deps, "sink>=2")
		}
	}
	wantWhy := resolveFail(t, bad, Options{Concurrency: 1}, badRoots...).Explanation()
	for seed := range int64(4) {
		p := &jittery{Provider: m, rng: rand.New(rand.NewSource(seed))}
		res, err := Resolve(context.Background(), p, reqs(t, roots...), Options{Environment: testEnv()})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(res); got != want {
			t.Errorf("seed %d: resolution differs:\n%s\nwant\n%s", seed, got, want)
		}
		_, err = Resolve(context.Background(), &jittery{Provider: bad, rng: rand.New(rand.NewSource(seed))}, reqs(t, badRoots...), Options{Environment: testEnv()})
		ns, ok := err.(*NoSolutionError)
		if !ok {
			t.Fatalf("seed %d: unsatisfiable graph: %v", seed, err)
		}
		if got := ns.Explanation(); got != wantWhy {
			t.Errorf("seed %d: explanation differs:\n%s\nwant\n%s", seed, got, wantWhy)
		}
	}
}

// BenchmarkLockOverARemoteIndex is the regression guard of the lock
// figure (scripts/bench/lock.sh): resolve and lock the wheelhouse, cold,
// against an index DefaultDelay away. It reports requests per lock and
// the time over the graph's latency floor.
func BenchmarkLockOverARemoteIndex(b *testing.B) {
	wh := testenv.GetWheelhouse(b)
	srv := indextest.New(b, wh.IndexDir, indextest.Options{Delay: indextest.DefaultDelay})
	roots := readLines(b, filepath.Join(wh.Dir, "roots.txt"))
	target(b, testenv.PythonMinor(b, "3.11").Path) // probed once, before the clock starts
	var total time.Duration
	var res *Resolution
	for b.Loop() {
		r, _, el := lockWheelhouse(b, srv)
		res, total = r, total+el
	}
	c := srv.Counts()
	floor := time.Duration(2*depth(res, roots)) * indextest.DefaultDelay
	b.ReportMetric(float64(c.Total())/float64(b.N), "requests/op")
	b.ReportMetric(float64(c.Wheels)/float64(b.N), "wheels/op")
	b.ReportMetric(float64(total)/float64(b.N)/float64(floor), "×floor")
}
