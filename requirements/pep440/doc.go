// Package pep440 implements Python version identifiers and version
// specifiers as defined by PEP 440 (https://peps.python.org/pep-0440/) and
// the "Version specifiers" specification of the Python Packaging Authority,
// with exactly the behaviour of pypa/packaging 26.x, the reference
// implementation pip uses.
//
// Versions:
//
//   - [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], where Parse also accepts
//     what packaging accepts and normalizes: any letter case, a leading "v",
//     surrounding whitespace, the spellings alpha, beta, c, pre, preview
//     (pre-releases) and rev, r, "-N" (post-releases), "_", "-" or "." as
//     separators, and implicit numbers ("1.0a" is "1.0a0").
//   - Only PEP 440 versions exist; there is no "legacy" version. A string
//     that is not a version can still be matched by the "===" operator.
//   - Numbers have no size limit: a release segment of 30 digits parses,
//     prints and compares exactly.
//   - Order: epoch, then release with trailing zeros ignored (1.0 == 1.0.0),
//     then 1.0.dev0 < 1.0a1.dev0 < 1.0a1 < 1.0a1.post1 < 1.0b1 < 1.0rc1 <
//     1.0 < 1.0+local < 1.0.post1.dev0 < 1.0.post1. Version.Compare does not
//     allocate.
//
// Specifiers (Specifier is one clause, Specifiers a comma-separated set):
//
//   - ~=, ==, !=, <=, >=, <, >, === and the prefix forms ==X.* and !=X.*.
//   - A local label in the candidate is ignored unless the specifier names
//     one (==1.0 matches 1.0+ubuntu1).
//   - Exclusive comparisons: <1.0 excludes 1.0's pre-releases, >1.0
//     excludes 1.0's post-releases (unless the specifier names a
//     post-release).
//   - Pre-releases (PrereleasePolicy): a lone version is accepted by
//     Contains under PrereleaseDefault (packaging 26.0's rule: there is no
//     alternative to prefer); Filter drops pre-releases unless the set names
//     one or no final release matches, in which case the matching
//     pre-releases are returned.
//
// Matching converts every specifier to sorted intervals over the version
// line, intersected once per set, in the manner of packaging's _ranges
// module; this also gives Specifiers.IsUnsatisfiable, And (packaging's
// s & o) and the set relations IsSubset, IsSuperset and IsDisjoint
// (packaging 26.3).
//
// This package is the bottom of deploykit's requirements stack: package
// requirements (PEP 508) embeds Specifiers, requirements/dist parses
// versions out of file names, and the resolver orders candidates with
// Version.Compare.
package pep440
