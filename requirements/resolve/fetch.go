package resolve

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
)

// fetcher memoizes provider calls and runs them ahead of the solver on a
// bounded pool: while the solver works through one package, the versions
// of its dependencies and the metadata of likely choices are on their way
// (follow, in prefetch.go, runs through the whole graph).
type fetcher struct {
	p   Provider
	sem chan struct{}
	// guess, when set, lets follow run ahead of the solver (prefetch.go).
	guess *guesser

	mu       sync.Mutex
	vers     map[string]*future[[]Candidate]
	meta     map[metaKey]*future[*Metadata]
	directs  map[string]*future[Candidate]
	inflight sync.WaitGroup
}

type metaKey struct{ name, version, url string }

type future[T any] struct {
	done    chan struct{}
	val     T
	err     error
	fn      func() (T, error)
	claimed atomic.Bool // whoever claims it runs fn: the pool or the waiter
}

func (fu *future[T]) run() {
	fu.val, fu.err = fu.fn()
	close(fu.done)
}

func newFetcher(p Provider, concurrency int) *fetcher {
	if concurrency <= 0 {
		concurrency = index.DefaultConcurrency
	}
	return &fetcher{
		p:       p,
		sem:     make(chan struct{}, concurrency),
		vers:    map[string]*future[[]Candidate]{},
		meta:    map[metaKey]*future[*Metadata]{},
		directs: map[string]*future[Candidate]{},
	}
}

func start[K comparable, T any](ctx context.Context, f *fetcher, m map[K]*future[T], k K, fn func() (T, error)) *future[T] {
	f.mu.Lock()
	if fu, ok := m[k]; ok {
		f.mu.Unlock()
		return fu
	}
	fu := &future[T]{done: make(chan struct{}), fn: fn}
	m[k] = fu
	f.mu.Unlock()
	f.inflight.Add(1)
	go func() {
		defer f.inflight.Done()
		select {
		case f.sem <- struct{}{}:
		case <-ctx.Done():
			// The resolution is over: nobody will wait for it.
			if fu.claimed.CompareAndSwap(false, true) {
				fu.err = ctx.Err()
				close(fu.done)
			}
			return
		}
		defer func() { <-f.sem }()
		if fu.claimed.CompareAndSwap(false, true) {
			fu.run()
		}
	}()
	return fu
}

// wait returns the future's result. When no worker has started it yet,
// the caller runs it itself: the solver needs it now, and a fast provider
// is quicker called than scheduled.
func wait[T any](ctx context.Context, fu *future[T]) (T, error) {
	if fu.claimed.CompareAndSwap(false, true) {
		fu.run()
	}
	select {
	case <-fu.done:
		return fu.val, fu.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (f *fetcher) prefetchVersions(ctx context.Context, name string) *future[[]Candidate] {
	return start(ctx, f, f.vers, name, func() ([]Candidate, error) {
		cs, err := f.p.Versions(ctx, name)
		if err != nil {
			return nil, err
		}
		return sortCandidates(cs), nil
	})
}

func (f *fetcher) versions(ctx context.Context, name string) ([]Candidate, error) {
	return wait(ctx, f.prefetchVersions(ctx, name))
}

func (f *fetcher) prefetchMetadata(ctx context.Context, c Candidate) *future[*Metadata] {
	return start(ctx, f, f.meta, metaKey{c.Name, c.Version.String(), c.URL}, func() (*Metadata, error) {
		return f.p.Metadata(ctx, c)
	})
}

func (f *fetcher) metadata(ctx context.Context, c Candidate) (*Metadata, error) {
	return wait(ctx, f.prefetchMetadata(ctx, c))
}

func (f *fetcher) direct(ctx context.Context, dp DirectProvider, r requirements.Requirement) (Candidate, error) {
	return wait(ctx, start(ctx, f, f.directs, r.URL, func() (Candidate, error) {
		c, err := dp.Direct(ctx, r)
		c.URL = r.URL
		return c, err
	}))
}

// sortCandidates orders newest first and drops repeated versions (the
// provider's first entry for a version wins).
func sortCandidates(cs []Candidate) []Candidate {
	out := append([]Candidate(nil), cs...)
	sortStable(out)
	kept := out[:0]
	for i, c := range out {
		if i > 0 && c.Version.Compare(out[i-1].Version) == 0 {
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// cachedMetadata returns metadata already fetched, without fetching.
func (f *fetcher) cachedMetadata(c Candidate) (*Metadata, bool) {
	f.mu.Lock()
	fu := f.meta[metaKey{c.Name, c.Version.String(), c.URL}]
	f.mu.Unlock()
	if fu == nil {
		return nil, false
	}
	select {
	case <-fu.done:
		return fu.val, fu.err == nil && fu.val != nil
	default:
		return nil, false
	}
}
