package resolve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/deploykit/deploykit/requirements"
	"github.com/deploykit/deploykit/requirements/pep440"
)

// Options tunes Resolve. The zero value resolves for an environment that
// must be given (Environment), newest versions first, no pre-releases.
type Options struct {
	// Environment is the target interpreter's marker environment
	// (requirements.CurrentEnvironment); markers are evaluated against it
	// and every candidate's Requires-Python is checked against its
	// python_full_version.
	Environment requirements.Environment
	// Constraints restrict versions of packages without requiring them
	// (pip's -c).
	Constraints []requirements.Requirement
	// Pre allows pre-releases everywhere (pip's --pre). Without it,
	// pip 24's rule applies: see the package documentation.
	Pre bool
	// PreferBinary is pip's --prefer-binary: a version with a wheel for
	// the target is tried before any newer version that has only an
	// sdist (Candidate.Wheel), as pip's CandidateEvaluator ranks them.
	// It changes the order of the tries, not what is allowed: when no
	// version with a wheel fits, an sdist-only version is still chosen.
	PreferBinary bool
	// Preferences are versions to keep when still possible, usually those
	// of an existing lock, so that re-locking changes only what it must.
	Preferences map[string]pep440.Version // by normalized name
	// Upgrade ignores all Preferences; UpgradePackages ignores them for
	// the named packages only (pip-tools' --upgrade-package).
	Upgrade         bool
	UpgradePackages []string
	// Concurrency bounds the provider calls in flight (default
	// index.DefaultConcurrency).
	Concurrency int
	// Logger receives warnings (an extra a package does not provide);
	// nil discards them.
	Logger *slog.Logger
	// Progress, when set, is told about each decision and conflict (for a
	// CLI's progress display). It is called from Resolve's goroutine.
	Progress func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventDecision: Name is tried at Version.
	EventDecision EventKind = iota + 1
	// EventConflict: a conflict was found and learned; the resolver
	// backtracks.
	EventConflict
)

// Event is a step of a resolution.
type Event struct {
	Kind      EventKind
	Name      string // normalized project name ("name[extra]" for extras)
	Version   string
	Decisions int // decisions so far
	Conflicts int // conflicts so far
}

// Resolution is a successful resolution.
type Resolution struct {
	Packages []Resolved // sorted by name
	// Warnings are also logged; an unknown extra is one.
	Warnings []string
}

// Resolved is one chosen project.
type Resolved struct {
	Name      string // normalized
	Candidate Candidate
	Extras    []string // the extras some requirer asked for, sorted
	// Dependencies are the normalized names this package requires in the
	// target environment (with its chosen extras).
	Dependencies []string
	// Direct is true for a package given by a direct reference.
	Direct bool
	// RequiresPython is the chosen version's Requires-Python (metadata,
	// else the index's), "" when none.
	RequiresPython string
}

// Find returns the resolved package with the given name, or nil.
func (r *Resolution) Find(name string) *Resolved {
	n := requirements.NormalizeName(name)
	for i := range r.Packages {
		if r.Packages[i].Name == n {
			return &r.Packages[i]
		}
	}
	return nil
}

// ErrNoSolution is wrapped by *NoSolutionError.
var ErrNoSolution = errors.New("no set of versions satisfies the requirements")

// NoSolutionError explains why the requirements cannot be met, from the
// derivation PubGrub recorded: the chain of requirements in conflict.
type NoSolutionError struct {
	s    *solver
	root *incompat
	text string
}

func (e *NoSolutionError) Error() string {
	return ErrNoSolution.Error() + ":\n" + e.Explanation()
}

func (e *NoSolutionError) Unwrap() error { return ErrNoSolution }

// Explanation is the derivation in words, one numbered line per step
// that is referred to later.
func (e *NoSolutionError) Explanation() string {
	if e.text == "" {
		e.text = explain(e.s, e.root)
	}
	return e.text
}

// Resolve finds one version of every project the roots need in the
// target environment, such that every requirement holds: PubGrub
// (https://github.com/dart-lang/pub/blob/master/doc/solver.md) over the
// provider's candidates. A *NoSolutionError explains an impossibility;
// other errors (an index that cannot be reached, bad metadata) name the
// requirement and the source.
func Resolve(ctx context.Context, p Provider, roots []requirements.Requirement, opts Options) (*Resolution, error) {
	if opts.Environment == nil {
		return nil, errors.New("resolve: Options.Environment is required")
	}
	pyv := opts.Environment["python_full_version"]
	if pyv == "" {
		pyv = opts.Environment["python_version"]
	}
	python, err := pep440.Parse(pyv)
	if err != nil {
		return nil, fmt.Errorf("resolve: target python_full_version %q: %w", pyv, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(ctx)
	f := newFetcher(p, opts.Concurrency)
	defer f.inflight.Wait()
	defer cancel()

	var constraints = map[string][]requirements.Requirement{}
	for _, c := range opts.Constraints {
		if c.Marker != nil {
			ok, err := c.Marker.Evaluate(opts.Environment)
			if err != nil {
				return nil, fmt.Errorf("constraint %s: %w", c.String(), err)
			}
			if !ok {
				continue
			}
		}
		n := requirements.NormalizeName(c.Name)
		constraints[n] = append(constraints[n], c)
	}
	var active []requirements.Requirement
	urls := &directRefs{byName: map[string][]requirements.Requirement{}, root: map[string]bool{}}
	for _, r := range roots {
		if r.Marker != nil {
			ok, err := r.Marker.Evaluate(opts.Environment)
			if err != nil {
				return nil, fmt.Errorf("requirement %s: %w", r.String(), err)
			}
			if !ok {
				continue
			}
		}
		active = append(active, r)
		if r.URL != "" {
			n := requirements.NormalizeName(r.Name)
			urls.add(n, r)
			urls.root[n] = true
		}
	}
	upgrade := map[string]bool{}
	for _, u := range opts.UpgradePackages {
		upgrade[requirements.NormalizeName(u)] = true
	}
	f.guess = &guesser{
		env: opts.Environment, python: python, pre: opts.Pre, preferBinary: opts.PreferBinary,
		prefs: opts.Preferences, upgradeAll: opts.Upgrade, upgrade: upgrade, constraints: constraints,
		followed: map[string]bool{},
	}
	for {
		s := &solver{
			ctx: ctx, opts: &opts, f: f, log: log,
			ids:         map[string]pkgID{},
			python:      python,
			roots:       active,
			constraints: constraints,
			urls:        urls,
			upgrade:     upgrade,
			warned:      map[string]bool{},
			deps:        map[pkgID][]pkgID{},
			depSeen:     map[depKey]*incompat{},
		}
		res, err := s.run()
		var restart *restartError
		if errors.As(err, &restart) {
			log.Debug("a direct reference to a project already met: starting again", "project", restart.name, "url", restart.url)
			continue
		}
		return res, err
	}
}

// run is one PubGrub resolution over s.roots.
func (s *solver) run() (*Resolution, error) {
	s.addPkg(&pkg{cands: []Candidate{{}}})
	s.ids[""] = rootID
	// Projects given by URL among the roots are registered first: their
	// candidates are the direct references only.
	for _, r := range s.roots {
		if r.URL != "" {
			if _, err := s.register(requirements.NormalizeName(r.Name), "", nil); err != nil {
				if strings.Contains(err.Error(), r.Name+" @ ") {
					return nil, err // the provider named the reference already
				}
				return nil, fmt.Errorf("%s: %w", r.String(), err)
			}
		}
	}
	s.addIncompat(&incompat{terms: []tentry{{rootID, term{emptySet(1), true}}}, kind: kindRoot})
	next := rootID
	for {
		if err := s.propagate(next); err != nil {
			return nil, err
		}
		p, done, err := s.step()
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		next = p
	}
	return s.solution(), nil
}

func (s *solver) solution() *Resolution {
	res := &Resolution{Warnings: s.warnings}
	byName := map[string]*Resolved{}
	var names []string
	for i, idx := range s.decided {
		p, pk := pkgID(i), s.pkgs[i]
		if idx < 0 || p == rootID || pk.extra != "" {
			continue
		}
		c := pk.cands[idx]
		rp := c.RequiresPython
		if md, ok := s.f.cachedMetadata(c); ok && !md.RequiresPython.IsEmpty() {
			rp = md.RequiresPython.String()
		}
		byName[pk.name] = &Resolved{Name: pk.name, Candidate: c, Direct: c.URL != "", RequiresPython: rp}
		names = append(names, pk.name)
	}
	for i, idx := range s.decided {
		p, pk := pkgID(i), s.pkgs[i]
		if idx < 0 || p == rootID {
			continue
		}
		r := byName[pk.name]
		if pk.extra != "" {
			r.Extras = append(r.Extras, pk.extra)
		}
		for _, d := range s.deps[p] {
			dn := s.pkgs[d].name
			if dn != pk.name && !slices.Contains(r.Dependencies, dn) {
				r.Dependencies = append(r.Dependencies, dn)
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		r := byName[n]
		sort.Strings(r.Extras)
		sort.Strings(r.Dependencies)
		res.Packages = append(res.Packages, *r)
	}
	return res
}

func sortStable(cs []Candidate) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Version.Compare(cs[j].Version) > 0 })
}
