// Package lock reads and writes pylock.toml files, the lock file format of
// PEP 751 (https://packaging.python.org/en/latest/specifications/pylock-toml/),
// lock-version "1.0", and exports a lock as a hashed pip requirements file.
//
// A lock is the exact, reproducible outcome of a resolution: one entry per
// package with its version and where its code comes from — wheels and an
// sdist from an index (each with hashes), a VCS checkout pinned to a commit,
// or a local directory. requirements/resolve produces a Lock; venv installs
// one.
//
// Rules this package enforces on read (Parse) and write (Encode):
//   - lock-version is "1.0"; a lock with a higher minor version is read (with
//     Lock.Warnings), a different major version is rejected.
//   - every package has a valid name; at most one of vcs, directory, archive,
//     or the sdist/wheels pair is given.
//   - every wheel, sdist and archive has a url or a path, and at least one
//     hash; a wheel's name is its file name, derived from url/path when absent.
//   - a vcs entry has a type (git, hg, bzr, svn), a url or path, and a
//     commit-id.
//
// Encode writes keys in the order the specification lists them and sorts
// packages by name then version, wheels by name and hashes by algorithm, so
// the same Lock always gives the same bytes. WriteFile replaces a file
// atomically: a failed write leaves the previous lock in place.
package lock
