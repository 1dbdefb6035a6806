// Package vcs checks out source trees from version control for direct
// references in requirement lists, as pip's VCS support does
// (https://pip.pypa.io/en/stable/topics/vcs-support/):
//
//	git+https://host/repo.git@v1.2#subdirectory=pkg
//	hg+https://host/repo@default
//	bzr+lp:project@tag:1.0          (Breezy's brz)
//
// A reference names a branch, tag or revision after "@" (default: the
// repository's default head). Checkout resolves it to the exact
// commit/revision id (the Pin that a lock records), keeps a mirror of
// the repository to fetch into, and exports the tree at that commit into
// a directory keyed by commit, so a second checkout of the same commit
// is free. Directories are published by rename: a failure leaves no
// partial checkout.
package vcs
