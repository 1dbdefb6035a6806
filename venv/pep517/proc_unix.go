//go:build unix

package pep517

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path, creating it; the returned
// function releases it. Builds of one source tree are serialized because
// backends such as setuptools write build/ and *.egg-info into the tree.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
