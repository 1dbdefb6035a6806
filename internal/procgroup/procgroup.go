//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

// KillOnCancel puts cmd (not yet started) in a process group of its own
// and sets cmd.Cancel to SIGKILL that group. Other SysProcAttr fields the
// caller set (credentials, Pdeathsig) are kept; cmd.WaitDelay is left to
// the caller.
//
// Should the group be gone already (a race with the command's own exit),
// the direct child is killed instead, which reports os.ErrProcessDone for
// a finished process, so exec does not turn the race into an error.
func KillOnCancel(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
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
