// Package resolve chooses one version of every project a requirement list
// needs, so that every requirement holds in the target environment.
//
// The algorithm is PubGrub (Natalie Weizenbaum's, as in pub and uv:
// https://github.com/dart-lang/pub/blob/master/doc/solver.md): unit
// propagation over incompatibilities, decisions, and conflict-driven
// clause learning with backjumping. When no solution exists, the learned
// derivation is told back as a chain of "Because …" sentences naming the
// requirements in conflict (NoSolutionError.Explanation).
//
// The resolver sees a Provider (candidates and their metadata), never HTTP;
// requirements/index implements one over package indexes, find-links,
// local files and VCS. Every package's candidates are fetched once, so a
// version range is a bit set over that finite list.
//
// Provider calls run ahead of the solver, as in uv: as soon as a
// requirement is known, its project's candidates, the metadata of the
// version the solver will most likely choose and, transitively, theirs
// are fetched on a bounded pool. Over a remote index a resolution then
// takes about two round trips (page, metadata) per level of its
// dependency graph rather than per package. The solver waits only on the
// answer it needs next, and answers are memoized by project and version,
// so the outcome does not depend on the order in which they arrive.
//
// Semantics follow pip 24:
//   - extras are virtual packages "name[extra]" depending on "name" at the
//     same version (self-referential extras such as a[all] → a[x] work); an
//     extra a version does not provide is a warning, and the package is
//     installed without it;
//   - markers are evaluated for Options.Environment (full
//     python_full_version); Requires-Python of every candidate (index and
//     metadata) is checked against it;
//   - constraints (-c) restrict versions without adding packages;
//   - pre-releases: with Options.Pre always; otherwise a pre-release is a
//     candidate only when a specifier on that package, merged from all its
//     current requirers and constraints, names a pre-release with an
//     inclusive operator (==, >=, <=, ~=, ===) — packaging's
//     SpecifierSet.prereleases — or when that merged specifier is empty and
//     the package has no final release at all;
//   - yanked versions (PEP 592) are used only when every remaining
//     candidate is yanked and a specifier pins with == (not a wildcard) or
//     ===;
//   - "current requirers" are all requirements whose requirer is in the
//     partial solution. A package left with only pre-releases (or only
//     yanked versions) is decided after every other package, so that a
//     requirer decided later still counts; the fact "not allowed" is
//     learned together with the decisions it was made under, so choosing
//     other versions of the requirers after backtracking reconsiders it.
//     Two differences from pip remain. pip's outcome depends on the
//     order it meets requirements: it fails when it looks at a
//     requirement naming no pre-release alone before the one that names
//     it (roots "dk-gt dk-late" in pipdiff_test.go; "dk-late dk-gt"
//     agrees), where this resolver merges both and succeeds. And a
//     pre-release chosen under the "empty specifier, no final release"
//     rule is kept when a requirer with a non-empty specifier (which
//     would disallow it) is decided later; pip would then reject it;
//   - Options.Preferences (an existing lock) are tried first, except for
//     Options.UpgradePackages;
//   - a direct reference ("name @ URL", from the roots or from any
//     dependency's metadata) wins over the indexes: while a requirer by
//     URL is part of the solution, the project is that URL's
//     distribution (requirements by name must accept its version), and
//     two different URLs for one project are a conflict explained with
//     both requirers. A URL first met after the project's candidates
//     were fixed restarts the resolution with it known (provider answers
//     are cached). A known URL is not offered to requirements by name
//     alone, as pip does not, unless nothing else is left;
//   - Options.PreferBinary (pip's --prefer-binary) tries versions with a
//     wheel for the target before newer sdist-only versions.
//
// IndexProvider adapts requirements/index (wheel tags of the target,
// data-requires-python, hash-checking mode, direct references);
// Resolution.Lock turns a resolution into a PEP 751 lock
// (requirements/lock), and InputFromFile reads pip requirements files.
// Use ProbeTarget to describe the target interpreter.
package resolve
