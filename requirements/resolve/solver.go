package resolve

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/index"
	"github.com/deploykit/deploykit/requirements/pep440"
)

type pkgID int32

const rootID pkgID = 0

// pkg is a PubGrub package: a project, or a project with one extra (a
// virtual package that depends on the project at the same version and on
// the extra's requirements, as uv and Poetry model extras).
type pkg struct {
	name  string // normalized project name; "" for the root
	extra string
	base  pkgID // the project itself, for an extra
	// cands are the index's versions, newest first, then one candidate
	// per direct reference ("name @ URL") known for the project
	// (Candidate.URL set).
	cands []Candidate
	order int
}

func (p *pkg) label() string {
	if p.name == "" {
		return "the requirements"
	}
	if p.extra != "" {
		return p.name + "[" + p.extra + "]"
	}
	return p.name
}

type causeKind uint8

const (
	kindRoot causeKind = iota
	kindDependency
	kindNoVersions
	kindPython
	kindConstraint
	kindPrerelease
	kindYanked
	kindDerived
)

type tentry struct {
	p pkgID
	t term
}

// incompat is a set of terms that must not all hold.
type incompat struct {
	terms []tentry
	kind  causeKind
	c1    *incompat // derived: the conflict
	c2    *incompat // derived: the satisfier's cause
	req   string    // dependency: the requirement as written, for messages
	spec  pep440.Specifiers
	dep   pkgID  // dependency: the package depended on
	msg   string // external causes: the reason
	// subsumed: a wider incompatibility replaces this one in propagation
	// (it stays valid as a cause).
	subsumed bool
}

type assignment struct {
	p        pkgID
	t        term
	decision bool
	level    int
	cause    *incompat
}

type solver struct {
	ctx  context.Context
	opts *Options
	f    *fetcher
	log  *slog.Logger

	pkgs  []*pkg
	ids   map[string]pkgID
	roots []requirements.Requirement

	incompats [][]*incompat
	depsOn    [][]*incompat // per package: the dependency incompatibilities on it

	assigns []assignment
	byPkg   [][]int // per package: indexes into assigns
	cum     []term  // per package: intersection of its assignments
	hasCum  []bool
	decided []int // per package: the chosen candidate, or -1
	level   int

	python      pep440.Version
	constraints map[string][]requirements.Requirement
	// urls are the direct references known for each project, shared by
	// every restart of a resolution; rootURL marks projects the roots
	// give by URL (their index versions are never needed).
	urls      *directRefs
	upgrade   map[string]bool
	warned    map[string]bool
	warnings  []string
	deps      map[pkgID][]pkgID // decided package -> packages it depends on
	depSeen   map[depKey]*incompat
	decisions int
	conflicts int
}

func (s *solver) n(p pkgID) int { return len(s.pkgs[p].cands) }

func (s *solver) cumTerm(p pkgID) term {
	if s.hasCum[p] {
		return s.cum[p]
	}
	return anyTerm(s.n(p))
}

func (s *solver) isDecided(p pkgID) bool { return s.decided[p] >= 0 }

// addPkg appends a package and its per-package solver state.
func (s *solver) addPkg(pk *pkg) pkgID {
	id := pkgID(len(s.pkgs))
	pk.order = len(s.pkgs)
	s.pkgs = append(s.pkgs, pk)
	s.byPkg = append(s.byPkg, nil)
	s.cum = append(s.cum, term{})
	s.hasCum = append(s.hasCum, false)
	s.decided = append(s.decided, -1)
	s.incompats = append(s.incompats, nil)
	s.depsOn = append(s.depsOn, nil)
	return id
}

func (s *solver) warn(key, msg string) {
	if s.warned[key] {
		return
	}
	s.warned[key] = true
	s.warnings = append(s.warnings, msg)
	s.log.Warn(msg)
}

// register returns the package for a project (and extra), fetching its
// candidates the first time it is seen.
func (s *solver) register(name, extra string, direct *requirements.Requirement) (pkgID, error) {
	key := name
	if extra != "" {
		key += "[" + extra + "]"
	}
	if direct != nil && direct.URL != "" && s.urls.add(name, *direct) {
		if _, ok := s.ids[name]; ok {
			// The project's candidates are fixed: start again with the
			// new direct reference among them.
			return 0, &restartError{name: name, url: direct.URL}
		}
	}
	if id, ok := s.ids[key]; ok {
		return id, nil
	}
	if extra != "" {
		base, err := s.register(name, "", direct)
		if err != nil {
			return 0, err
		}
		id := s.addPkg(&pkg{name: name, extra: extra, base: base, cands: s.pkgs[base].cands})
		s.ids[key] = id
		return id, nil
	}
	var cands []Candidate
	if !s.urls.root[name] {
		var err error
		cands, err = s.f.versions(s.ctx, name)
		if err != nil {
			return 0, err
		}
	}
	if refs := s.urls.byName[name]; len(refs) > 0 {
		dp, ok := s.f.p.(DirectProvider)
		if !ok {
			return 0, fmt.Errorf("%s: direct references are not supported by this provider", refs[0].String())
		}
		cands = append([]Candidate(nil), cands...)
		for _, r := range refs {
			c, err := s.f.direct(s.ctx, dp, r)
			if err != nil {
				return 0, err
			}
			cands = append(cands, c)
		}
	}
	p := &pkg{name: name, cands: cands}
	id := s.addPkg(p)
	p.base = id
	s.ids[key] = id
	n := len(cands)
	// Versions whose index entry already rules them out for the target
	// interpreter: one incompatibility per Requires-Python value.
	byRP := map[string]vset{}
	var rps []string
	for i, c := range cands {
		if c.RequiresPython == "" {
			continue
		}
		if !s.pythonOK(c.RequiresPython) {
			if byRP[c.RequiresPython] == nil {
				byRP[c.RequiresPython] = emptySet(n)
				rps = append(rps, c.RequiresPython)
			}
			byRP[c.RequiresPython].add(i)
		}
	}
	for _, rp := range rps {
		s.addIncompat(&incompat{terms: []tentry{{id, term{byRP[rp], false}}}, kind: kindPython, msg: rp})
	}
	for _, c := range s.constraints[name] {
		allowed := s.matching(id, c.Specifiers)
		bad := allowed.not(n)
		if !bad.empty() {
			s.addIncompat(&incompat{terms: []tentry{{id, term{bad, false}}}, kind: kindConstraint, req: reqDisplay(c)})
		}
	}
	// Start fetching the metadata of the version most likely to be chosen.
	if n > 0 {
		best := 0
		if v, ok := s.preferred(id); ok {
			best = v
		}
		s.f.prefetchMetadata(s.ctx, cands[best])
	}
	return id, nil
}

func (s *solver) pythonOK(rp string) bool { return requiresPythonOK(rp, s.python) }

// matching is the set of candidates a specifier allows. Pre-releases are
// part of the set: whether one may be chosen is decided at decision time,
// from all requirers' specifiers, as pip does.
func (s *solver) matching(p pkgID, spec pep440.Specifiers) vset {
	cands := s.pkgs[p].cands
	set := emptySet(len(cands))
	for i, c := range cands {
		if spec.ContainsWith(c.Version, pep440.PrereleaseAllow) {
			set.add(i)
		}
	}
	return set
}

func (s *solver) preferred(p pkgID) (int, bool) {
	pk := s.pkgs[p]
	if s.opts.Upgrade || s.upgrade[pk.name] {
		return 0, false
	}
	v, ok := s.opts.Preferences[pk.name]
	if !ok {
		return 0, false
	}
	for i, c := range pk.cands {
		if c.Version.Compare(v) == 0 {
			return i, true
		}
	}
	return 0, false
}

func (s *solver) addIncompat(inc *incompat) {
	for _, e := range inc.terms {
		s.incompats[e.p] = append(s.incompats[e.p], inc)
	}
	if inc.kind == kindDependency && len(inc.terms) == 2 && inc.terms[1].p == inc.dep && inc.terms[0].p != inc.dep {
		s.depsOn[inc.dep] = append(s.depsOn[inc.dep], inc)
	}
}

// newDerived builds the incompatibility PubGrub's resolution rule
// produces, merging terms on the same package and dropping the root,
// which is always selected.
func (s *solver) newIncompat(terms []tentry, kind causeKind) *incompat {
	merged := map[pkgID]term{}
	var order []pkgID
	for _, e := range terms {
		if t, ok := merged[e.p]; ok {
			merged[e.p] = t.intersect(e.t, s.n(e.p))
		} else {
			merged[e.p] = e.t
			order = append(order, e.p)
		}
	}
	out := make([]tentry, 0, len(order))
	for _, p := range order {
		t := merged[p]
		if p == rootID && t.positive() && len(order) > 1 && kind == kindDerived {
			continue
		}
		if t.none && t.set.equal(fullSet(s.n(p))) {
			continue // allows everything: always satisfied, says nothing
		}
		out = append(out, tentry{p, t})
	}
	return &incompat{terms: out, kind: kind}
}

type relation int

const (
	relSatisfied relation = iota
	relContradicted
	relInconclusive
)

func (s *solver) relationOf(e tentry) relation {
	if !s.hasCum[e.p] {
		// Nothing is known about the package: a term that does not allow
		// everything (those are dropped) is inconclusive.
		return relInconclusive
	}
	c := s.cum[e.p]
	if c.subsetOf(e.t) {
		return relSatisfied
	}
	if c.disjoint(e.t) {
		return relContradicted
	}
	return relInconclusive
}

// incompatRelation: satisfied (a conflict), almost satisfied (unsat is
// the one inconclusive term), or nothing to do (ok=false).
func (s *solver) incompatRelation(inc *incompat) (conflict bool, unsat *tentry, ok bool) {
	for i := range inc.terms {
		switch s.relationOf(inc.terms[i]) {
		case relContradicted:
			return false, nil, false
		case relInconclusive:
			if unsat != nil {
				return false, nil, false
			}
			unsat = &inc.terms[i]
		}
	}
	if unsat == nil {
		return true, nil, true
	}
	return false, unsat, true
}

func (s *solver) assign(a assignment) {
	s.assigns = append(s.assigns, a)
	s.byPkg[a.p] = append(s.byPkg[a.p], len(s.assigns)-1)
	s.cum[a.p] = s.cumTerm(a.p).intersect(a.t, s.n(a.p))
	s.hasCum[a.p] = true
}

func (s *solver) derive(p pkgID, t term, cause *incompat) {
	s.assign(assignment{p: p, t: t, level: s.level, cause: cause})
}

func (s *solver) decide(p pkgID, idx int) {
	s.decisions++
	if s.opts.Progress != nil && p != rootID {
		s.opts.Progress(Event{Kind: EventDecision, Name: s.pkgs[p].label(), Version: s.pkgs[p].cands[idx].Version.String(), Decisions: s.decisions, Conflicts: s.conflicts})
	}
	s.level++
	s.decided[p] = idx
	s.assign(assignment{p: p, t: term{singleton(s.n(p), idx), false}, decision: true, level: s.level})
}

func (s *solver) backtrack(level int) {
	touched := map[pkgID]bool{}
	for len(s.assigns) > 0 {
		a := s.assigns[len(s.assigns)-1]
		if a.level <= level {
			break
		}
		s.assigns = s.assigns[:len(s.assigns)-1]
		l := s.byPkg[a.p]
		s.byPkg[a.p] = l[:len(l)-1]
		if a.decision {
			s.decided[a.p] = -1
		}
		touched[a.p] = true
	}
	for p := range touched {
		if len(s.byPkg[p]) == 0 {
			s.hasCum[p] = false
			continue
		}
		t := anyTerm(s.n(p))
		for _, i := range s.byPkg[p] {
			t = t.intersect(s.assigns[i].t, s.n(p))
		}
		s.cum[p] = t
	}
	s.level = level
}

// satisfier returns the index of the earliest assignment at which the
// assignments to p satisfy t.
func (s *solver) satisfier(p pkgID, t term) int {
	acc := anyTerm(s.n(p))
	for _, i := range s.byPkg[p] {
		acc = acc.intersect(s.assigns[i].t, s.n(p))
		if acc.subsetOf(t) {
			return i
		}
	}
	// Unreachable for a satisfied term; -1 makes a logic error visible.
	return -1
}

func (s *solver) isFailure(inc *incompat) bool {
	return len(inc.terms) == 0 || len(inc.terms) == 1 && inc.terms[0].p == rootID && inc.terms[0].t.positive()
}

var errInternal = errors.New("resolver internal error")

func (s *solver) resolveConflict(inc *incompat) (*incompat, error) {
	s.conflicts++
	if s.opts.Progress != nil {
		s.opts.Progress(Event{Kind: EventConflict, Decisions: s.decisions, Conflicts: s.conflicts})
	}
	original := inc
	for {
		if s.isFailure(inc) {
			return nil, &NoSolutionError{s: s, root: inc}
		}
		var mostRecent *tentry
		satIdx := -1
		prevLevel := 1
		for i := range inc.terms {
			e := &inc.terms[i]
			idx := s.satisfier(e.p, e.t)
			if idx < 0 {
				return nil, fmt.Errorf("%w: term on %s not satisfied in conflict", errInternal, s.pkgs[e.p].label())
			}
			if idx > satIdx {
				if satIdx >= 0 {
					prevLevel = max(prevLevel, s.assigns[satIdx].level)
				}
				mostRecent, satIdx = e, idx
			} else {
				prevLevel = max(prevLevel, s.assigns[idx].level)
			}
		}
		sat := s.assigns[satIdx]
		n := s.n(sat.p)
		diff := sat.t.intersect(mostRecent.t.negate(n), n)
		if !diff.isEmpty() {
			if pi := s.satisfier(sat.p, diff.negate(n)); pi >= 0 {
				prevLevel = max(prevLevel, s.assigns[pi].level)
			}
		}
		if sat.decision || prevLevel != sat.level {
			if inc != original {
				s.addIncompat(inc)
			}
			s.backtrack(prevLevel)
			return inc, nil
		}
		var terms []tentry
		for _, e := range inc.terms {
			if e.p != sat.p {
				terms = append(terms, e)
			}
		}
		for _, e := range sat.cause.terms {
			if e.p != sat.p {
				terms = append(terms, e)
			}
		}
		if !diff.isEmpty() {
			terms = append(terms, tentry{sat.p, diff.negate(n)})
		}
		derived := s.newIncompat(terms, kindDerived)
		derived.c1, derived.c2 = inc, sat.cause
		inc = derived
	}
}

func (s *solver) propagate(start pkgID) error {
	changed := []pkgID{start}
	inChanged := map[pkgID]bool{start: true}
	for len(changed) > 0 {
		p := changed[len(changed)-1]
		changed = changed[:len(changed)-1]
		delete(inChanged, p)
		incs := s.incompats[p]
		for i := len(incs) - 1; i >= 0; i-- {
			inc := incs[i]
			if inc.subsumed {
				continue
			}
			conflict, unsat, ok := s.incompatRelation(inc)
			if !ok {
				continue
			}
			if conflict {
				root, err := s.resolveConflict(inc)
				if err != nil {
					return err
				}
				c2, u, ok2 := s.incompatRelation(root)
				if c2 || !ok2 || u == nil {
					return fmt.Errorf("%w: learned clause is not almost satisfied after backtracking", errInternal)
				}
				s.derive(u.p, u.t.negate(s.n(u.p)), root)
				changed = changed[:0]
				inChanged = map[pkgID]bool{u.p: true}
				changed = append(changed, u.p)
				break
			}
			s.derive(unsat.p, unsat.t.negate(s.n(unsat.p)), inc)
			if !inChanged[unsat.p] {
				inChanged[unsat.p] = true
				changed = append(changed, unsat.p)
			}
		}
	}
	return nil
}

// choosePackage picks the undecided package with a positive derivation
// and the fewest remaining versions (the first seen on a tie): few
// choices first finds conflicts early.
func (s *solver) choosePackage(skip map[pkgID]bool) (pkgID, bool) {
	best := pkgID(-1)
	bestCount := 0
	for i, t := range s.cum {
		p := pkgID(i)
		if !s.hasCum[p] || !t.positive() || s.isDecided(p) || skip[p] {
			continue
		}
		c := t.set.count()
		if best < 0 || c < bestCount || c == bestCount && s.pkgs[p].order < s.pkgs[best].order {
			best, bestCount = p, c
		}
	}
	return best, best >= 0
}

// activeSpecifiers returns the specifiers of every requirement currently
// constraining p (dependencies of decided packages and constraints): pip
// merges them into one SpecifierSet before filtering candidates.
func (s *solver) activeSpecifiers(p pkgID) []pep440.Specifiers {
	var out []pep440.Specifiers
	pk := s.pkgs[p]
	// Every dependency whose requirer is in the solution counts, also one
	// that derived nothing because p was already narrower.
	for _, inc := range s.depsOn[p] {
		if s.relationOf(inc.terms[0]) == relSatisfied {
			out = append(out, inc.spec)
		}
	}
	for _, c := range s.constraints[pk.name] {
		out = append(out, c.Specifiers)
	}
	return out
}

// prereleaseNamed reports whether a specifier names a pre-release with an
// inclusive operator (packaging's Specifier.prereleases, which pip 24
// uses through SpecifierSet.prereleases).
func prereleaseNamed(spec pep440.Specifiers) bool {
	for _, sp := range spec.Items() {
		switch sp.Operator() {
		case "==", ">=", "<=", "~=", "===":
		default:
			continue
		}
		v := strings.TrimSuffix(sp.Version(), ".*")
		pv, err := pep440.Parse(v)
		if err == nil && pv.IsPrerelease() {
			return true
		}
	}
	return false
}

func pinned(specs []pep440.Specifiers) bool {
	for _, spec := range specs {
		for _, sp := range spec.Items() {
			if sp.Operator() == "===" || sp.Operator() == "==" && !strings.HasSuffix(sp.Version(), ".*") {
				return true
			}
		}
	}
	return false
}

// allowed applies pip's candidate policy (pre-releases, yanked) to the
// versions the partial solution still allows for p. excluded says why
// the rest were dropped when nothing remains.
func (s *solver) allowed(p pkgID, set vset) (keep []int, excluded causeKind) {
	pk := s.pkgs[p]
	idxs := set.indexes()
	if p == rootID {
		return idxs, 0
	}
	// A direct reference is used only when a "name @ URL" requirement
	// asks for it (its term then allows nothing else); pip does not offer
	// it to requirements by name alone. Pre-release and yanked rules do
	// not apply to it.
	var index []int
	for _, i := range idxs {
		if pk.cands[i].URL == "" {
			index = append(index, i)
		}
	}
	if len(index) == 0 {
		return idxs, 0
	}
	idxs = index
	plain := true
	for _, i := range idxs {
		if c := pk.cands[i]; c.Yanked || c.Version.IsPrerelease() {
			plain = false
			break
		}
	}
	if plain {
		// Only final, unyanked versions: the requirers' specifiers
		// cannot change anything.
		return idxs, 0
	}
	specs := s.activeSpecifiers(p)
	if pk.extra != "" {
		specs = append(specs, s.activeSpecifiers(pk.base)...)
	}
	allowPre := s.opts.Pre
	empty := true
	for _, sp := range specs {
		if !sp.IsEmpty() {
			empty = false
		}
		if prereleaseNamed(sp) {
			allowPre = true
		}
	}
	if !allowPre && empty {
		final := false
		for _, c := range pk.cands {
			if !c.Version.IsPrerelease() {
				final = true
				break
			}
		}
		allowPre = !final
	}
	var noPre []int
	for _, i := range idxs {
		if allowPre || !pk.cands[i].Version.IsPrerelease() {
			noPre = append(noPre, i)
		}
	}
	if len(noPre) == 0 {
		return nil, kindPrerelease
	}
	var notYanked []int
	for _, i := range noPre {
		if !pk.cands[i].Yanked {
			notYanked = append(notYanked, i)
		}
	}
	if len(notYanked) == 0 {
		if pinned(specs) {
			return noPre, 0
		}
		return nil, kindYanked
	}
	return notYanked, 0
}

// step makes one decision (or records why none is possible) and returns
// the package to propagate from; done when every package is decided.
func (s *solver) step() (pkgID, bool, error) {
	p, ok := s.choosePackage(nil)
	if !ok {
		return 0, true, nil
	}
	t := s.cumTerm(p)
	keep, why := s.allowed(p, t.set)
	// A package left with pre-releases (or yanked versions) only waits
	// until every other package is decided: pip merges the specifiers of
	// all requirers, and one decided later may name a pre-release of it
	// (or pin it).
	var postponed map[pkgID]bool
	first := p
	for len(keep) == 0 && (why == kindPrerelease || why == kindYanked) {
		if postponed == nil {
			postponed = map[pkgID]bool{}
		}
		postponed[p] = true
		next, ok := s.choosePackage(postponed)
		if !ok {
			p = first
			t = s.cumTerm(p)
			keep, why = s.allowed(p, t.set)
			break
		}
		p = next
		t = s.cumTerm(p)
		keep, why = s.allowed(p, t.set)
	}
	pk := s.pkgs[p]
	if len(keep) == 0 {
		kind := kindNoVersions
		if why != 0 {
			kind = why
		}
		terms := []tentry{{p, term{t.set, false}}}
		if kind == kindPrerelease || kind == kindYanked {
			// Whether pre-releases (or yanked versions) are allowed
			// depends on the specifiers of the requirers, that is on the
			// versions decided so far: the fact holds only with them, so
			// that after backtracking a requirer that names a pre-release
			// (or pins) brings them back, as pip's merged specifiers do.
			for _, a := range s.assigns {
				if a.decision && a.p != rootID && a.p != p {
					terms = append(terms, tentry{a.p, a.t})
				}
			}
		}
		s.addIncompat(&incompat{terms: terms, kind: kind})
		return p, false, nil
	}
	if s.opts.PreferBinary {
		// pip sorts versions with a wheel before sdist-only ones, each
		// group newest first; a stable partition keeps that order.
		var wheels, sdists []int
		for _, k := range keep {
			if pk.cands[k].Wheel || pk.cands[k].URL != "" {
				wheels = append(wheels, k)
			} else {
				sdists = append(sdists, k)
			}
		}
		keep = append(wheels, sdists...)
	}
	idx := keep[0]
	if pi, ok := s.preferred(p); ok {
		for _, k := range keep {
			if k == pi {
				idx = pi
				break
			}
		}
	}
	// Prefetch the metadata of the next candidates too: after a conflict
	// the resolver usually tries them.
	for _, k := range keep[1:min(len(keep), 3)] {
		s.f.prefetchMetadata(s.ctx, pk.cands[k])
	}
	deps, usable, err := s.dependencies(p, idx)
	if err != nil {
		return 0, false, err
	}
	if !usable {
		// The version was ruled out (Requires-Python): propagate.
		return p, false, nil
	}
	conflict := false
	for _, inc := range deps {
		s.addIncompat(inc)
		// pub: if a dependency is already impossible, do not decide; the
		// propagation will find the conflict.
		all := true
		for _, e := range inc.terms {
			if e.p == p {
				continue
			}
			if s.relationOf(e) != relSatisfied {
				all = false
			}
		}
		if all {
			conflict = true
		}
	}
	if !conflict {
		s.decide(p, idx)
	}
	return p, false, nil
}

// dependencies builds the dependency incompatibilities of p at candidate
// idx; usable is false when the candidate itself is ruled out.
func (s *solver) dependencies(p pkgID, idx int) (deps []*incompat, usable bool, err error) {
	pk := s.pkgs[p]
	n := s.n(p)
	self := term{singleton(n, idx), false}
	var reqs []requirements.Requirement
	var out []*incompat
	if p == rootID {
		reqs = s.roots
	} else {
		c := pk.cands[idx]
		md, err := s.f.metadata(s.ctx, c)
		if err != nil {
			return nil, false, fmt.Errorf("metadata of %s %s: %w", pk.name, c.Version, err)
		}
		for _, w := range md.Warnings {
			s.warn(w, w)
		}
		if pk.extra == "" && !md.RequiresPython.IsEmpty() && !md.RequiresPython.ContainsWith(s.python, pep440.PrereleaseAllow) {
			s.addIncompat(&incompat{terms: []tentry{{p, self}}, kind: kindPython, msg: md.RequiresPython.String()})
			return nil, false, nil
		}
		env := s.opts.Environment
		if pk.extra != "" {
			out = append(out, s.depIncompat(p, self, pk.base, term{singleton(n, idx), false}, pk.name+"=="+c.Version.String(), pep440.Specifiers{}))
			provided := false
			for _, e := range md.ProvidesExtra {
				if requirements.NormalizeName(e) == pk.extra {
					provided = true
				}
			}
			if !provided {
				s.warn(pk.name+"["+pk.extra+"]", fmt.Sprintf("%s %s does not provide the extra '%s'", pk.name, c.Version, pk.extra))
			}
			withExtra := requirements.Environment{}
			for k, v := range env {
				withExtra[k] = v
			}
			withExtra["extra"] = pk.extra
			for _, r := range md.RequiresDist {
				if r.Marker == nil {
					continue // already a dependency of the project itself
				}
				ok, err := r.Marker.Evaluate(withExtra)
				if err != nil {
					return nil, false, fmt.Errorf("%s %s: requirement %q: %w", pk.name, c.Version, r.String(), err)
				}
				if !ok {
					continue
				}
				if base, _ := r.Marker.Evaluate(env); base {
					continue
				}
				reqs = append(reqs, r)
			}
		} else {
			for _, r := range md.RequiresDist {
				if r.Marker != nil {
					ok, err := r.Marker.Evaluate(env)
					if err != nil {
						return nil, false, fmt.Errorf("%s %s: requirement %q: %w", pk.name, c.Version, r.String(), err)
					}
					if !ok {
						continue
					}
				}
				reqs = append(reqs, r)
			}
		}
	}
	var depIDs []pkgID
	// Fetch every dependency's versions, and what they will need, at
	// once; then register in order.
	for _, r := range reqs {
		s.f.follow(s.ctx, r)
	}
	for _, r := range reqs {
		name := requirements.NormalizeName(r.Name)
		var direct *requirements.Requirement
		if r.URL != "" {
			rr := r
			direct = &rr
		}
		targets := []string{""}
		targets = append(targets, r.Extras...)
		for _, extra := range targets {
			d, err := s.register(name, extra, direct)
			if err != nil {
				var se *index.SourceError
				if errors.As(err, &se) && requirements.NormalizeName(se.Project) == name {
					// "looking up NAME on SOURCE: …" names it already.
					if p == rootID {
						return nil, false, err
					}
					return nil, false, fmt.Errorf("%w (required by %s)", err, s.describe(p, idx))
				}
				return nil, false, fmt.Errorf("%s (required by %s): %w", reqDisplay(r), s.describe(p, idx), err)
			}
			var set vset
			if r.URL != "" {
				set = emptySet(s.n(d))
				for i, c := range s.pkgs[d].cands {
					if c.URL == r.URL {
						set.add(i)
					}
				}
			} else {
				set = s.matching(d, r.Specifiers)
			}
			out = append(out, s.depIncompat(p, self, d, term{set, false}, reqDisplay(r), r.Specifiers))
			depIDs = append(depIDs, d)
		}
	}
	s.deps[p] = depIDs
	return out, true, nil
}

// depIncompat is "p in self depends on d in dep". When other versions of
// p have the very same dependency, the incompatibility covers them all
// (pub does this when reporting): explanations then say "a >=1.0,<=1.4
// depends on b>=2" once instead of once per version.
func (s *solver) depIncompat(p pkgID, self term, d pkgID, dep term, display string, spec pep440.Specifiers) *incompat {
	key := depKey{p, d, display, setKey(dep.set)}
	if prev, ok := s.depSeen[key]; ok && len(prev.terms) > 0 && prev.terms[0].p == p {
		self = self.union(prev.terms[0].t, s.n(p))
		// The wider incompatibility triggers whenever the old one would:
		// the old one leaves propagation (it may still be a cause).
		prev.subsumed = true
	}
	inc := s.newIncompat([]tentry{{p, self}, {d, dep.negate(s.n(d))}}, kindDependency)
	inc.req = display
	inc.spec = spec
	inc.dep = d
	if len(inc.terms) > 0 && inc.terms[0].p == p {
		s.depSeen[key] = inc
	}
	return inc
}

func setKey(v vset) string {
	b := make([]byte, 8*len(v))
	for i, w := range v {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return string(b)
}

type depKey struct {
	p, d    pkgID
	display string
	set     string
}

func (s *solver) describe(p pkgID, idx int) string {
	pk := s.pkgs[p]
	if p == rootID {
		return "the requirements"
	}
	return pk.label() + " " + pk.cands[idx].Version.String()
}

// reqDisplay is a requirement without its marker, for messages.
func reqDisplay(r requirements.Requirement) string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	if r.URL != "" {
		b.WriteString(" @ " + r.URL)
	} else {
		b.WriteString(r.Specifiers.String())
	}
	return b.String()
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// directRefs are the direct references ("name @ URL") a resolution has
// met, by normalized project name, in the order met.
type directRefs struct {
	byName map[string][]requirements.Requirement
	root   map[string]bool
}

// add records a direct reference and reports whether it is new.
func (d *directRefs) add(name string, r requirements.Requirement) bool {
	for _, have := range d.byName[name] {
		if have.URL == r.URL {
			return false
		}
	}
	d.byName[name] = append(d.byName[name], r)
	return true
}

// restartError stops a resolution that met a direct reference to a
// project whose candidates were already fixed without it: Resolve starts
// again (the provider's answers are cached) with the reference known
// from the start. Each restart adds a reference, so there are at most
// as many restarts as distinct URLs.
type restartError struct{ name, url string }

func (e *restartError) Error() string {
	return fmt.Sprintf("resolution restarted: direct reference %s @ %s", e.name, e.url)
}
