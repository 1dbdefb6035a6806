package backup

import (
	"errors"
	"os"
)

// swapByRenames is the fallback where RENAME_EXCHANGE is not supported:
// target moves aside, staging moves in, and the old tree ends up at
// staging's name, as with an exchange. Between the two renames target is
// briefly absent; if the second fails the first is undone.
func swapByRenames(staging, target string) error {
	aside := staging + ".old"
	if err := os.Rename(target, aside); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(staging, target); err != nil {
		os.Rename(aside, target)
		return err
	}
	if err := os.Rename(aside, staging); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
