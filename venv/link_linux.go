package venv

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// linkMethod is how a cached file gets into a venv.
type linkMethod int

const (
	linkAuto    linkMethod = iota
	linkReflink            // FICLONE: a copy-on-write clone (btrfs, xfs, bcachefs)
	linkHard               // a hard link: same inode, read-only
	linkCopy               // a plain copy (copy_file_range)
)

func (m linkMethod) String() string {
	return [...]string{"auto", "reflink", "hardlink", "copy"}[m]
}

func devOf(p string) uint64 {
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0
	}
	return st.Dev
}

// place puts the cached file src at dst (which must not exist) with the
// given mode for the cloning methods. The method is chosen once per pair
// of filesystems: the first of reflink, hard link, copy that works; a
// later error in a chosen method falls back to the next one.
func (c *Cache) place(src, dst string, devs [2]uint64) error {
	if c.private {
		return os.Rename(src, dst)
	}
	c.mu.Lock()
	m := c.methods[devs]
	if c.force != linkAuto {
		m = c.force
	}
	c.mu.Unlock()
	if m == linkAuto {
		m = linkReflink
	}
	for ; m <= linkCopy; m++ {
		err := linkWith(m, src, dst)
		if err == nil {
			c.mu.Lock()
			if c.methods[devs] != m {
				c.methods[devs] = m
				c.log.Debug("cache link method", "method", m.String(), "cache", c.dir)
			}
			c.mu.Unlock()
			return nil
		}
		if m == linkCopy || !fallbackErr(err) {
			return err
		}
	}
	return nil
}

// fallbackErr: errors that mean "this method does not work here", not
// "this file cannot be placed".
func fallbackErr(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.EXDEV, unix.EPERM, unix.EMLINK, unix.EINVAL, unix.ENOTTY, unix.ENOSYS, unix.EACCES, unix.EBADF} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func linkWith(m linkMethod, src, dst string) error {
	if m == linkHard {
		return os.Link(src, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if m == linkReflink {
		err = unix.IoctlFileClone(int(out.Fd()), int(in.Fd()))
	} else {
		_, err = io.Copy(out, in)
	}
	if err == nil {
		err = out.Chmod(st.Mode().Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Timestamp pycs (Python 3.6) compare the source's mtime.
		err = os.Chtimes(dst, st.ModTime(), st.ModTime())
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
