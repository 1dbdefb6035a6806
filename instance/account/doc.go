// Package account gives each deploykit instance its own Unix user and
// group and sets the ownership and modes of the instance's directory tree,
// so that instances on one host cannot read or change each other's files:
// the kernel enforces it through numeric uids and gids.
//
// # Names
//
// An instance name is 1 to 24 characters: lower-case ASCII letters, digits
// and '-', starting with a letter (ValidateName). It maps to
//
//	Unix user, Unix group, PostgreSQL role, PostgreSQL database = Prefix + name
//
// with Prefix "dk-" by default (so "staging" → "dk-staging", at most 27
// characters: within the 32 of useradd and the 63 of PostgreSQL). The map is
// injective because a fixed prefix is prepended to a name that is kept as
// it is; NameFor inverts it. One name for all four is deliberate: the local
// PostgreSQL server authenticates an instance's processes by peer
// authentication with "sameuser" (internal/pgcluster), which needs the Unix
// user, the role and the database to carry the same name — no ident map,
// no rewriting of '-' to '_' (which would let "a-b" and "a_b" collide if
// '_' were ever allowed). SQL always quotes these names as identifiers.
//
// # Users
//
// Manager.Ensure creates a system user and group (useradd/groupadd: no
// login shell, home in the instance directory, not created) or finds the
// existing ones; Manager.Remove deletes them; both are idempotent. With
// Options.Root the passwd and group files under that directory are used
// instead of the host's (useradd --prefix), so tests need not add users to
// the host: processes still run with the numeric uids, and the kernel's
// checks are the same.
//
// # Modes
//
// Account.Secure sets a tree's ownership and modes:
//
//	instance dir          root:GROUP 0750   only the instance (and root) can enter
//	code (releases, venv) root:GROUP 0750 at the top, root-owned inside,
//	                      never group/world-writable: read-only to the instance
//	data, run, log        USER:GROUP 0750 dirs, no world access inside
//	secrets               USER:GROUP 0700 dir, 0600 files
//
// and no setuid, setgid or sticky bit survives in code or data (a setuid
// file that Secure hands to root would otherwise run as root).
//
// Access is gated by the top directories rather than by every file: a venv
// links files out of the shared wheel cache, and those inodes must stay
// readable to every instance. The walk uses file descriptors (openat with
// O_NOFOLLOW, fchown/fchmod on the opened file), so an instance user who
// swaps a directory for a symlink while root walks its data cannot redirect
// a chown or chmod outside the tree.
//
// Account.Command runs a program as the instance user: uid and gid set,
// supplementary groups cleared, a clean environment.
//
// # Unprivileged mode
//
// Without root (or with Options.Unprivileged), no users are created: every
// instance runs as the current user. Directories, roles and databases stay
// separate, but uid isolation is off — Manager.Warning says so, and Ensure
// logs it (log/slog, level Warn) for every instance it is asked for.
package account
