// Package venv finds Python interpreters, creates virtual environments
// natively, installs wheels into them exactly as pip does, keeps a
// content-addressed cache of unpacked wheels shared by every environment on
// the host, and syncs an environment to an exact set of distributions.
//
// Nothing here runs pip or the venv module. Python is run only to ask an
// interpreter about itself (once per interpreter, cached by path, size and
// mtime) and to byte-compile installed modules.
//
// # Interpreters
//
// [Discover] lists interpreters in $PATH, /usr/local/bin, /usr/bin and
// pyenv's versions/*/bin; [Find] picks the newest whose version satisfies a
// Masterminds/semver constraint and, when none does, returns a
// [*NoInterpreterError] listing every candidate and why it was rejected.
// [Inspect] returns one interpreter's [Interpreter] facts: version,
// implementation, prefixes, sysconfig paths, the platform tag facts wheel
// compatibility is computed from, and the PEP 508 marker environment.
//
// # Virtual environments
//
// [Create] writes what CPython's venv module writes on POSIX (pyvenv.cfg,
// bin/python links, lib/pythonX.Y/site-packages, lib64, activation scripts
// adapted from CPython's templates) into a sibling directory and renames it
// into place, so a half-built environment is never found where a complete
// one is expected (see Create for why this is sound although venvs are not
// relocatable). [Open] reads an existing one.
package venv
