// Package procgroup makes a command's cancellation stop everything it
// started, not only the direct child: the command runs as the leader of a
// process group of its own (setpgid(2)), and when its context ends the
// whole group gets SIGKILL (kill(2) with a negative pid).
//
// Builds (compilers under a PEP 517 hook), initdb's bootstrap backend and
// nsenter's child in a container all fork helpers that would otherwise
// outlive a cancelled context; venv/pep517, internal/pgcluster and
// internal/nspawn share this one way of preventing it.
package procgroup
