package account

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Tree names the parts of an instance's directory tree that Secure sets
// up; empty fields and missing paths are skipped.
type Tree struct {
	// Dir is the instance directory: root:GROUP 0750. Only the top is
	// changed; the other fields name what is inside.
	Dir string
	// Code holds trees the instance must read but not change (releases,
	// venvs): root:GROUP 0750 at the top, everything inside root-owned
	// with group and world write bits cleared.
	Code []string
	// Writable holds trees the instance owns (data, run, log):
	// USER:GROUP, directories 0750 at the top, world bits cleared inside.
	Writable []string
	// Secrets is the secrets directory: USER:GROUP 0700, files 0600.
	Secrets string
	// Private holds single files to be root:GROUP 0640 (instance.toml).
	Private []string
}

// Secure sets ownership and modes of t (see the package doc). In
// unprivileged mode ownership stays with the caller and only the modes
// are set. It stops at the first error, which names the path.
func (a *Account) Secure(ctx context.Context, t Tree) error {
	rootUID, rootGID := 0, a.GID
	userUID, userGID := a.UID, a.GID
	if !a.Privileged {
		rootUID, rootGID, userUID, userGID = -1, -1, -1, -1
	}
	if t.Dir != "" {
		if err := fixTop(t.Dir, rootUID, rootGID, 0o750); err != nil {
			return err
		}
	}
	for _, p := range t.Private {
		if err := fixTop(p, rootUID, rootGID, 0o640); err != nil {
			return err
		}
	}
	for _, d := range t.Code {
		err := walk(ctx, d, func(fd int, st *unix.Stat_t, top bool) (int, int, uint32) {
			// Never setuid/setgid: a root-owned code file with the bit
			// (from a crafted wheel) would run as root.
			mode := st.Mode & 0o777 &^ 0o022
			gid := 0
			if top {
				mode, gid = 0o750, rootGID
			}
			if !a.Privileged {
				return -1, -1, mode
			}
			return rootUID, gid, mode
		})
		if err != nil {
			return err
		}
	}
	for _, d := range t.Writable {
		err := walk(ctx, d, func(fd int, st *unix.Stat_t, top bool) (int, int, uint32) {
			mode := st.Mode & 0o777 &^ 0o007
			if top {
				mode = 0o750
			}
			return userUID, userGID, mode
		})
		if err != nil {
			return err
		}
	}
	if t.Secrets != "" {
		err := walk(ctx, t.Secrets, func(fd int, st *unix.Stat_t, top bool) (int, int, uint32) {
			mode := uint32(0o600)
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				mode = 0o700
			}
			return userUID, userGID, mode
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fixTop sets one path (not followed if a symlink: then it is an error).
func fixTop(path string, uid, gid int, mode uint32) error {
	fd, st, err := openNoFollow(unix.AT_FDCWD, path, path)
	if fd < 0 || err != nil {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("account: %s is a symlink; refusing to follow it", path)
	}
	return apply(fd, path, st, uid, gid, mode)
}

// apply sets owner and mode on an O_PATH (or ordinary) descriptor: chown
// through AT_EMPTY_PATH and chmod through /proc/self/fd, both on the
// opened inode, never on a path an instance could swap meanwhile.
func apply(fd int, path string, st *unix.Stat_t, uid, gid int, mode uint32) error {
	if (uid >= 0 && uint32(uid) != st.Uid) || (gid >= 0 && uint32(gid) != st.Gid) {
		if err := unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "chown", Path: path, Err: err}
		}
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK || st.Mode&0o7777 == mode {
		return nil
	}
	if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// walk visits root and everything below it without following symlinks,
// through directory descriptors, and applies what decide returns
// (uid/gid -1: unchanged). Symlinks get their owner set, never a mode.
// A missing root is skipped; a root that is a symlink is an error.
func walk(ctx context.Context, root string, decide func(fd int, st *unix.Stat_t, top bool) (uid, gid int, mode uint32)) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("account: %s is not a directory (or is a symlink)", root)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: root, Err: err}
	}
	return walkDir(ctx, fd, root, true, decide)
}

func walkDir(ctx context.Context, fd int, path string, top bool, decide func(int, *unix.Stat_t, bool) (int, int, uint32)) error {
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := ctx.Err(); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	uid, gid, mode := decide(fd, &st, top)
	// Make the directory ours to read before listing (modes are applied
	// on the way down; an instance may have made a subdirectory 0000).
	if err := apply(fd, path, &st, uid, gid, mode); err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	if err != nil {
		return &os.PathError{Op: "readdir", Path: path, Err: err}
	}
	for _, e := range ents {
		child := filepath.Join(path, e.Name())
		if e.IsDir() {
			cfd, err := unix.Openat(fd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				// Swapped for something else since the listing: handle it
				// as a non-directory below.
				if err := walkLeaf(fd, e.Name(), child, decide); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return &os.PathError{Op: "open", Path: child, Err: err}
			}
			if err := walkDir(ctx, cfd, child, false, decide); err != nil {
				return err
			}
			continue
		}
		if err := walkLeaf(fd, e.Name(), child, decide); err != nil {
			return err
		}
	}
	return nil
}

func walkLeaf(dirfd int, name, path string, decide func(int, *unix.Stat_t, bool) (int, int, uint32)) error {
	fd, st, err := openNoFollow(dirfd, name, path)
	if fd < 0 || err != nil {
		return err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// Became a directory after the listing: leave it for the next run
		// rather than descend through an O_PATH descriptor.
		return nil
	}
	uid, gid, mode := decide(fd, st, false)
	return apply(fd, path, st, uid, gid, mode)
}

// openNoFollow opens name (relative to dirfd; path is its full name for
// errors) as an O_PATH descriptor without following a final symlink, and
// stats what it got. A missing name gives fd -1 and no error: it vanished
// since it was listed, or was never there, and is skipped.
func openNoFollow(dirfd int, name, path string) (int, *unix.Stat_t, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil, nil
	}
	if err != nil {
		return -1, nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return fd, &st, nil
}
