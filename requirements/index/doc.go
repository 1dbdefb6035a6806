// Package index finds Python distributions on the sources pip knows:
//
//   - simple repositories: PEP 503 HTML and PEP 691 JSON pages (content
//     negotiation, JSON preferred), PEP 592 yanked files,
//     data-requires-python, hashes from URL fragments or JSON, PEP 658/714
//     metadata files fetched instead of whole wheels;
//   - --index-url, --extra-index-url, --find-links (local directories,
//     local HTML files, HTML pages), --no-index, --trusted-host;
//   - basic auth from the source URL or .netrc, reused for the files of
//     the same host;
//   - direct references: local wheels, sdists (their PKG-INFO is used
//     without a build when it is static, PEP 643: metadata 2.2+ and no
//     dynamic Requires-Dist/Requires-Python), project directories (static
//     pyproject.toml [project] metadata, PEP 621, else a PEP 517 build
//     through the Builder interface, which venv/pep517 implements) and
//     VCS URLs (subpackage vcs: git, hg, bzr via brz; pinned to a commit).
//
// Pages are cached on disk and revalidated with ETag/Last-Modified (or
// served while fresh per Cache-Control max-age); metadata files and
// downloads are immutable and verified against their hashes every time
// they are used. HTTP requests run on a bounded pool (DefaultConcurrency
// in flight) over connections kept alive for reuse. An index's 404 for
// a project means "no versions"; other failures are errors naming the
// project and the source.
//
// requirements/resolve turns a Finder into a resolver Provider.
package index
