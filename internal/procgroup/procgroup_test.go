//go:build unix

package procgroup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A grandchild started in the background dies with the command when the
// context is cancelled; without the group kill it would be reparented and
// keep running.
func TestKillOnCancelKillsGrandchildren(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `sleep 60 & echo $!; wait`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	KillOnCancel(cmd)
	if !cmd.SysProcAttr.Setpgid || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Fatalf("SysProcAttr = %+v: want Setpgid and the caller's Pdeathsig kept", cmd.SysProcAttr)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	if pgid, err := syscall.Getpgid(grandchild); err != nil || pgid != cmd.Process.Pid {
		t.Fatalf("grandchild %d in group %d (%v), want the command's own group %d", grandchild, pgid, err, cmd.Process.Pid)
	}
	cancel()
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("Wait = %v, state %v: want the shell killed by SIGKILL", err, cmd.ProcessState)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(grandchild) {
		if time.Now().After(deadline) {
			syscall.Kill(grandchild, syscall.SIGKILL)
			t.Fatalf("grandchild %d still alive after the command was cancelled", grandchild)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cancelling a command that has already exited is not an error.
func TestKillOnCancelAfterExit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "/bin/true")
	KillOnCancel(cmd)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := cmd.Cancel(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("Cancel after exit = %v", err)
	}
}

// alive reports whether pid runs: a zombie (killed, not yet reaped by
// whoever inherited it) does not.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return !(i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X'))
}
