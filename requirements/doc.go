// Package requirements reads what a Python application says it needs:
// project names, PEP 508 dependency specifiers and environment markers,
// and pip requirements files. It is the layer between version arithmetic
// (requirements/pep440) and everything that acts on requirements —
// distribution metadata (requirements/dist), package sources
// (requirements/index), the resolver and lock files.
//
// The behaviour follows the reference implementations exactly, and is
// tested against them:
//
//   - Names: PEP 503 normalization (NormalizeName: lower case, runs of
//     "-", "_", "." become one "-") and the core-metadata name rule
//     (ValidName). Extra names are normalized the same way (PEP 685).
//
//   - Requirements: PEP 508 (https://peps.python.org/pep-0508/) as parsed
//     by pypa/packaging 26.x: extras, specifiers with or without
//     parentheses, "name @ url", a marker after ";". ParseRequirement uses
//     packaging's tokenizer rules and recursive-descent grammar, so it
//     accepts and rejects the same strings and reports the same messages;
//     Requirement.String matches str(Requirement).
//
//   - Markers: the full marker grammar ("and" binds tighter than "or",
//     parentheses, "in"/"not in"). Evaluation follows packaging: for
//     python_version, python_full_version, implementation_version and
//     platform_release the comparison is a PEP 440 specifier when the
//     right-hand side forms one, otherwise a string comparison in which
//     "<" and ">" are false and "<=" and ">=" mean equality; "~=" and
//     "===" on strings are an ErrUndefinedComparison. `extra` values are
//     normalized (PEP 685). EvalOptions selects packaging's evaluation
//     context, including the set-valued `extras` and `dependency_groups`
//     of lock files (PEP 751). CurrentEnvironment asks a real interpreter
//     for its marker values once and caches the answer.
//
//   - Requirements files: pip's format
//     (https://pip.pypa.io/en/stable/reference/requirements-file-format/)
//     with pip's parser as the reference (pip/_internal/req/req_file.py):
//     "#" comments at the start of a line or after whitespace, backslash
//     continuations, ${VAR} expansion (only that form, upper-case names),
//     -r/-c includes resolved against the including file (cycles are an
//     ErrIncludeCycle error naming the chain), -e, per-requirement --hash,
//     --global-option and --config-settings, the index options (-i,
//     --extra-index-url, -f, --no-index, --pre, --trusted-host,
//     --only-binary, --no-binary, --prefer-binary, --require-hashes),
//     URLs, local archives and directories, and VCS URLs (git+, hg+, bzr+,
//     svn+ with @rev, #egg= and #subdirectory=). Lines are interpreted as
//     pip's req/constructors.py does; relative paths are resolved against
//     FileOptions.WorkDir, pip's working directory. Files are decoded as
//     pip's auto_decode does (byte-order marks, PEP 263 coding lines for
//     UTF-8, Latin-1 and ASCII, else UTF-8). Files may be named by file:
//     URL, and by http(s) URL when FileOptions.HTTPClient is set; includes
//     from a URL are resolved against it.
//
// Parse failures are *ParseError values carrying the file, line and column
// and wrapping a sentinel (ErrInvalidRequirement, ErrInvalidMarker,
// ErrInvalidFile); evaluation failures are *EvalError values.
//
// Known differences from packaging, all in inputs no real project writes:
// marker strings using \N{…} escapes or lone surrogates are rejected, and
// parenthesis nesting deeper than 100 is an error. Where packaging's
// str(Marker) cannot be read back (a value holding both quote characters,
// a backslash or a line break) String uses escapes instead, so that every
// Marker and Requirement round-trips.
package requirements
