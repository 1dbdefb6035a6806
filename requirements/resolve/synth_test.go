package resolve

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deploykit/deploykit/requirements/pep440"
)

// synthGraph builds n packages of 4-10 versions each with a hidden
// solution made of old versions. Every other version depends on packages
// far down the graph with ranges that exclude their hidden version, so
// trying the newest versions first fails only deep down and the resolver
// must learn and backjump a lot.
func synthGraph(n int, seed int64) (*memIndex, []string) {
	rng := rand.New(rand.NewSource(seed))
	m := newMem()
	nv := make([]int, n)
	sol := make([]int, n)
	for i := range n {
		nv[i] = 4 + rng.Intn(7)
		sol[i] = 1 + rng.Intn(2) // an old version
	}
	name := func(i int) string { return fmt.Sprintf("p%03d", i) }
	for i := range n {
		for v := 1; v <= nv[i]; v++ {
			var deps []string
			for k := 0; k < 3 && i+1 < n; k++ {
				j := i + 1 + rng.Intn(min(n-i-1, 40))
				if v == sol[i] {
					deps = append(deps, fmt.Sprintf("%s>=%d,<=%d", name(j), max(1, sol[j]-1), sol[j]+rng.Intn(2)))
				} else {
					// Excludes j's hidden version: only "new" versions of j.
					deps = append(deps, fmt.Sprintf("%s>=%d", name(j), sol[j]+1))
				}
			}
			m.add(name(i), fmt.Sprintf("%d.0", v), deps...)
		}
	}
	// Newer versions of the last packages need a package that cannot be
	// installed, so the new-version branches all die at the bottom.
	for i := n - 40; i < n; i++ {
		for v := sol[i] + 1; v <= nv[i]; v++ {
			r := m.pkgs[name(i)][fmt.Sprintf("%d.0", v)]
			r.deps = append(r.deps, "sink>=2")
		}
	}
	m.add("sink", "1.0")
	var roots []string
	for i := 0; i < n; i += 25 {
		roots = append(roots, name(i))
	}
	return m, roots
}

// checkSolution verifies every dependency of every chosen version holds.
func checkSolution(t *testing.T, m *memIndex, r *Resolution, roots []string) {
	t.Helper()
	chosen := map[string]pep440.Version{}
	for _, p := range r.Packages {
		chosen[p.Name] = p.Candidate.Version
	}
	for _, root := range roots {
		if _, ok := chosen[root]; !ok {
			t.Errorf("root %s not in the solution", root)
		}
	}
	for _, p := range r.Packages {
		md, _ := m.Metadata(context.Background(), p.Candidate)
		for _, d := range md.RequiresDist {
			v, ok := chosen[d.Name]
			if !ok || !d.Specifiers.Contains(v) {
				t.Errorf("%s %s needs %s, solution has %v", p.Name, p.Candidate.Version, d.String(), v)
			}
		}
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func budget() time.Duration {
	if raceEnabled {
		return 20 * time.Second
	}
	return time.Second
}

func TestSynthetic500DeepBacktracking(t *testing.T) {
	m, roots := synthGraph(500, 1)
	cpu := cpuTime()
	start := time.Now()
	r := resolveOK(t, m, Options{}, roots...)
	el, elCPU := time.Since(start), cpuTime()-cpu
	checkSolution(t, m, r, roots)
	t.Logf("%d packages chosen in %v (%v CPU)", len(r.Packages), el, elCPU)
	// CPU time, not wall time: the budget is about the algorithm, and CI
	// machines are shared.
	if elCPU > budget() {
		t.Errorf("took %v CPU, budget %v", elCPU, budget())
	}
}

func TestSynthetic500UnsatisfiableExplains(t *testing.T) {
	m, roots := synthGraph(500, 2)
	// Every version of the packages at the bottom now needs a sink that
	// does not exist: the whole graph above them fails, which the
	// resolver must prove through the backtracking.
	for i := 500 - 40; i < 500; i++ {
		for _, r := range m.pkgs[fmt.Sprintf("p%03d", i)] {
			r.deps = append(r.deps, "sink>=2")
		}
	}
	cpu := cpuTime()
	start := time.Now()
	e := resolveFail(t, m, Options{}, roots...)
	text := e.Explanation()
	el, elCPU := time.Since(start), cpuTime()-cpu
	if !strings.Contains(text, "sink>=2") || !strings.Contains(text, "version solving failed") {
		t.Errorf("explanation:\n%s", text)
	}
	if !errors.Is(e, ErrNoSolution) {
		t.Error("not ErrNoSolution")
	}
	t.Logf("explained in %v (%v CPU), %d lines:\n%s", el, elCPU, strings.Count(text, "\n")+1, text)
	if elCPU > budget() {
		t.Errorf("took %v CPU, budget %v", elCPU, budget())
	}
}

func BenchmarkSynthetic500(b *testing.B) {
	m, roots := synthGraph(500, 1)
	rs := reqs(b, roots...)
	for b.Loop() {
		if _, err := Resolve(context.Background(), m, rs, Options{Environment: testEnv()}); err != nil {
			b.Fatal(err)
		}
	}
}
