//go:build unix

package pep517

import (
	"os"
	"os/exec"
	"syscall"
)

// killTree makes cancellation stop the hook and everything it started
// (compilers, setup.py subprocesses): the hook runs in its own process
// group, and the whole group is killed.
func killTree(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
}

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
