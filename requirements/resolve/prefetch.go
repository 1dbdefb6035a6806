package resolve

import (
	"context"
	"strings"
	"sync"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// The solver learns a package's dependencies only when it decides the
// package, one package at a time; waiting for each package's page and
// then its metadata at that moment makes a resolution over a remote index
// cost two round trips per package. So, as uv does, the fetcher runs
// ahead: as soon as a requirement is known, it fetches the project's
// page, guesses the version the solver will most likely choose, fetches
// that version's metadata and follows its requirements the same way. The
// dependency graph is then fetched in about two round trips per level of
// its depth, with a bounded number of requests in flight, while the
// solver waits only on the answer it needs now.
//
// The fetcher runs ahead only through metadata the provider calls cheap
// (CheapMetadata): an sdist's may take a build, and a build runs code, so
// a guess never starts one; the solver asks for it when it needs it.
//
// Speculation changes what is fetched early, never what the solver sees:
// every answer is memoized by its key (project, or project and version)
// and the provider's answer for a key does not depend on when it is
// asked. A wrong guess costs requests, not correctness. Errors of
// speculative fetches are kept, unreported, for the solver to meet if it
// needs the same answer.

// guesser picks, for a requirement, the candidate the solver is likely to
// choose: what the solver would try first if this requirement were the
// only one on the project.
type guesser struct {
	env          requirements.Environment
	python       pep440.Version
	pre          bool
	preferBinary bool
	prefs        map[string]pep440.Version
	upgradeAll   bool
	upgrade      map[string]bool
	constraints  map[string][]requirements.Requirement

	mu       sync.Mutex
	followed map[string]bool
}

// follow starts fetching what resolving r will need: the project's
// candidates, the metadata of the likely one, and, transitively, the same
// for its requirements in the target environment. It returns at once.
func (f *fetcher) follow(ctx context.Context, r requirements.Requirement) {
	g := f.guess
	if g == nil || r.URL != "" {
		// Direct references may need a checkout or a build: the solver
		// asks for them when it meets them.
		return
	}
	name := requirements.NormalizeName(r.Name)
	key := name + "\x00" + r.Specifiers.String() + "\x00" + strings.Join(r.Extras, ",")
	g.mu.Lock()
	seen := g.followed[key]
	g.followed[key] = true
	g.mu.Unlock()
	if seen {
		return
	}
	vf := f.prefetchVersions(ctx, name)
	f.inflight.Add(1)
	go func() {
		defer f.inflight.Done()
		cands, err := settled(ctx, vf)
		if err != nil {
			return
		}
		c, ok := g.likely(name, r.Specifiers, cands)
		if !ok {
			return
		}
		if cm, ok := f.p.(CheapMetadata); ok && !cm.CheapMetadata(c) {
			return
		}
		md, err := settled(ctx, f.prefetchMetadata(ctx, c))
		if err != nil || md == nil {
			return
		}
		for _, d := range g.requires(md, r.Extras) {
			f.follow(ctx, d)
		}
	}()
}

// settled waits for a future someone else runs (the pool or the solver).
func settled[T any](ctx context.Context, fu *future[T]) (T, error) {
	select {
	case <-fu.done:
		return fu.val, fu.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// likely returns the candidate the solver would try first for a project
// required with spec alone: the preferred (locked) version when allowed,
// else the newest allowed final release — with a wheel first under
// PreferBinary — else the newest allowed pre-release.
func (g *guesser) likely(name string, spec pep440.Specifiers, cands []Candidate) (Candidate, bool) {
	pref, hasPref := g.prefs[name]
	hasPref = hasPref && !g.upgradeAll && !g.upgrade[name]
	allowPre := g.pre || prereleaseNamed(spec)
	var first, firstWheel, firstPre *Candidate
	for i := range cands {
		c := &cands[i]
		if c.URL != "" || c.Yanked || !spec.ContainsWith(c.Version, pep440.PrereleaseAllow) || !requiresPythonOK(c.RequiresPython, g.python) {
			continue
		}
		if !g.constrained(name, c.Version) {
			continue
		}
		if hasPref && c.Version.Compare(pref) == 0 {
			return *c, true
		}
		if c.Version.IsPrerelease() && !allowPre {
			if firstPre == nil {
				firstPre = c
			}
			continue
		}
		if first == nil {
			first = c
		}
		if firstWheel == nil && c.Wheel {
			firstWheel = c
		}
	}
	switch {
	case g.preferBinary && firstWheel != nil:
		return *firstWheel, true
	case first != nil:
		return *first, true
	case firstPre != nil:
		return *firstPre, true
	}
	return Candidate{}, false
}

func (g *guesser) constrained(name string, v pep440.Version) bool {
	for _, c := range g.constraints[name] {
		if !c.Specifiers.ContainsWith(v, pep440.PrereleaseAllow) {
			return false
		}
	}
	return true
}

// requires lists a candidate's requirements that hold in the target
// environment, with those of the given extras.
func (g *guesser) requires(md *Metadata, extras []string) []requirements.Requirement {
	var out []requirements.Requirement
	for _, r := range md.RequiresDist {
		if r.Marker == nil {
			out = append(out, r)
			continue
		}
		if ok, err := r.Marker.Evaluate(g.env); err == nil && ok {
			out = append(out, r)
			continue
		}
		for _, e := range extras {
			env := requirements.Environment{}
			for k, v := range g.env {
				env[k] = v
			}
			env["extra"] = requirements.NormalizeName(e)
			if ok, err := r.Marker.Evaluate(env); err == nil && ok {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// requiresPythonOK reports whether an index's data-requires-python admits
// the target; an unparsable one is ignored, as pip does.
func requiresPythonOK(rp string, python pep440.Version) bool {
	if rp == "" {
		return true
	}
	spec, err := pep440.ParseSpecifiers(rp)
	if err != nil {
		return true
	}
	return spec.ContainsWith(python, pep440.PrereleaseAllow)
}
