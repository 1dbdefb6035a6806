// Package venv finds Python interpreters, creates virtual environments
// natively, installs wheels into them exactly as pip does, keeps a
// content-addressed cache of unpacked wheels shared by every environment on
// the host, and syncs an environment to an exact set of distributions.
//
// Nothing here runs pip or the venv module. Python is run only to ask an
// interpreter about itself (once per interpreter and user, see "The
// interpreter facts cache") and to byte-compile modules (once per wheel
// and interpreter, in the cache).
//
// # Interpreters
//
// [Discover] lists interpreters in $PATH (but not pyenv's shims, which
// run the same interpreters through a slow bash pyenv), /usr/local/bin,
// /usr/bin and pyenv's versions/*/bin; [Find] picks the newest whose version satisfies a
// Masterminds/semver constraint and, when none does, returns a
// [*NoInterpreterError] listing every candidate and why it was rejected.
// [FindPython] accepts what a user types after --python (a path, a command
// name or a constraint). [Inspect] returns one interpreter's [Interpreter]
// facts: version, implementation, prefixes, sysconfig paths, the tag facts
// requirements/dist computes supported wheel tags from, and the PEP 508
// marker environment.
//
// # The interpreter facts cache
//
// With InspectOptions.CacheDir (DiscoverOptions.CacheDir, OpenOptions.CacheDir)
// set, Inspect keeps each interpreter's facts in
// CacheDir/interpreters/KEY.json and runs the interpreter only on a miss,
// so a process that needs them pays a file read (about 0.1 ms) instead of
// an interpreter start (about 60 ms). The deploykit CLI passes every
// command the same directory: the user's cache, [UserCacheDir]
// ($XDG_CACHE_HOME/deploykit, by default ~/.cache/deploykit), or, run as
// root, its root's cache ROOT/cache (/srv/deploykit/cache by default),
// where instance operations keep theirs; --cache-dir overrides it.
//
//   - What is in it: one file per interpreter, the facts' JSON (the
//     Interpreter fields) with its sha256.
//   - How it is invalidated: KEY is a hash of the interpreter's path and
//     resolved path; its device, inode, size, modification and change
//     times (ctime cannot be set back: an interpreter replaced by another
//     of the same size and mtime, as `cp -p` of pyenv's equally sized
//     launchers does, still gets a new key); the kernel's release and
//     version (markers); the dynamic linker's cache (/etc/ld.so.cache,
//     rewritten when the C library, which decides manylinux tags, is
//     upgraded); and the version of the facts script. Anything else makes
//     a new key, and the old file is simply no longer read (a pyenv shim,
//     a launcher script, is never cached: its target can change).
//   - What can go wrong: a file that is empty, cut short, edited or
//     damaged (its sha256 does not match), or holds another interpreter's
//     facts, is ignored: the interpreter is run and the file rewritten
//     (atomically). A cache that cannot be written costs a run of the
//     interpreter, never an error.
//
// Deleting the directory is always safe.
//
// # Virtual environments
//
// [Create] writes what CPython's venv module writes on POSIX (pyvenv.cfg,
// bin/python links, lib/pythonX.Y/site-packages, lib64, activation scripts
// adapted from CPython's templates) into a sibling directory and renames it
// into place, so a half-built environment is never found where a complete
// one is expected (see Create for why this is sound although venvs are not
// relocatable). [Open] reads an existing one.
//
// # Installing wheels
//
// [Venv.Install] follows pip's installer (pip/_internal/operations/install/wheel.py)
// and the binary distribution format specification:
//   - members go to purelib or platlib by Root-Is-Purelib; NAME.data/KEY/
//     members to the purelib, platlib, headers (include/site/pythonX.Y/NAME),
//     scripts and data directories; .data scripts starting with "#!python"
//     get the venv's interpreter; setuptools wrappers of entry points are
//     skipped;
//   - console_scripts and gui_scripts launchers are pip's (distlib's) text,
//     with the /bin/sh exec trick for interpreter paths with spaces or over
//     127 bytes, and pip's special case of versioned pip/easy_install names;
//   - INSTALLER ("deploykit"), REQUESTED, direct_url.json (PEP 610, byte
//     for byte as pip writes it) and a rewritten RECORD (sorted, CRLF, hashes
//     of changed and generated files, compiled modules without hashes);
//   - modules are byte-compiled when wanted, in parallel worker processes,
//     into the cache: PEP 552 checked-hash pycs (reproducible; pip writes
//     these when SOURCE_DATE_EPOCH is set, timestamp pycs otherwise), timestamp
//     pycs on Python 3.6.
//
// Before anything is placed, every member is checked against the rules in
// wheel.go (clean relative names, one .dist-info, Wheel-Version 1.x,
// supported tags) and verified against RECORD's sha256 while it is
// unpacked; a failure is a [*WheelError] naming the wheel and the member.
// The differential tests install the same real wheels with pip and with
// Install into twin venvs at the same path and require identical trees and
// contents apart from INSTALLER and compiled modules; pip then checks, lists
// and uninstalls what Install put there.
//
// Known differences from pip: a .data script whose #!python line is
// rewritten is not byte-compiled (pip compiles bin/NAME.py scripts); files
// linked from a shared cache are read-only (0444/0555); wheels with symlink
// members or with members missing from RECORD are rejected (pip installs
// them).
//
// Install, [Venv.Uninstall], [Venv.Sync] and [Venv.Compile] are
// transactions (see txn.go): the venv ends as it was or as asked, also
// when the process is killed, in which case the next operation on the venv
// (or [Venv.Recover]) rolls the interrupted one back. Their files are
// placed without probing (place.go): what exists comes from one listing
// per existing directory, each new directory is made once, and each file
// is linked straight into place. [Venv.Compile] byte-compiles what an
// install placed without compiling, so a caller can do other work while
// CPython compiles; the venv ends as an install that compiled leaves it.
//
// # Cache and sync
//
// A [Cache] (ROOT/cache) holds each wheel unpacked once, keyed by its
// sha256, and links files into venvs by reflink, hard link or copy; see
// Cache for its layout and safety rules, [Cache.Prune] and [Cache.Verify]. [Venv.Sync]
// makes a venv hold exactly a set of [Distribution] values (as a lock file
// names them), installing, replacing and removing in one transaction with
// bounded parallelism. Progress is reported through InstallOptions.OnEvent
// and logs go to InstallOptions.Logger; the package never prints.
package venv
