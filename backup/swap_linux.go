package backup

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// swapDir exchanges staging and target atomically (renameat2
// RENAME_EXCHANGE): at every instant target is either the old or the new
// tree. When target does not exist, staging is renamed to it, and staging
// is left absent.
func swapDir(staging, target string) error {
	err := unix.Renameat2(unix.AT_FDCWD, staging, unix.AT_FDCWD, target, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOENT) {
		if _, serr := os.Lstat(target); errors.Is(serr, os.ErrNotExist) {
			return os.Rename(staging, target)
		}
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return swapByRenames(staging, target)
	}
	return err
}
