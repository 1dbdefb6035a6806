package account

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultPath is PATH for commands run as an instance when env sets none.
const DefaultPath = "/usr/local/bin:/usr/bin:/bin"

// Env returns the clean base environment of a process of the account:
// HOME, USER, LOGNAME, PATH (DefaultPath), LANG=C.UTF-8, overlaid by
// extra ("KEY=value"; later entries win). Nothing is inherited from the
// caller.
func (a *Account) Env(extra ...string) []string {
	base := []string{
		"HOME=" + a.Home,
		"USER=" + a.User,
		"LOGNAME=" + a.User,
		"PATH=" + DefaultPath,
		"LANG=C.UTF-8",
	}
	return mergeEnv(base, extra)
}

func mergeEnv(base, extra []string) []string {
	idx := map[string]int{}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range append(base, extra...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// Command returns a command that runs argv as the account, in dir ("" is
// the account's home), with the environment a.Env(env...): uid and gid of
// the account, supplementary groups cleared. It stays in the caller's
// process group and session, so an interactive command keeps the terminal
// (see GroupCommand for unattended work). The program is looked up in the
// PATH of that environment.
func (a *Account) Command(ctx context.Context, argv []string, env []string, dir string) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("account: empty command")
	}
	full := a.Env(env...)
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		var pathVar string
		for _, kv := range full {
			if v, ok := strings.CutPrefix(kv, "PATH="); ok {
				pathVar = v
			}
		}
		p, err := lookPathIn(prog, pathVar)
		if err != nil {
			return nil, err
		}
		prog = p
	}
	cmd := exec.CommandContext(ctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = full
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = a.Home
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: a.Credential()}
	return cmd, nil
}

// GroupCommand is Command for unattended work (migration hooks, builds):
// the program gets a process group of its own, and when ctx ends the whole
// group gets SIGTERM, then SIGKILL after grace — not only the direct child,
// so no grandchild outlives the deploy that started it.
func (a *Account) GroupCommand(ctx context.Context, argv []string, env []string, dir string, grace time.Duration) (*exec.Cmd, error) {
	cmd, err := a.Command(ctx, argv, env, dir)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error {
		pid := cmd.Process.Pid
		err := syscall.Kill(-pid, syscall.SIGTERM)
		go func() {
			time.Sleep(grace)
			syscall.Kill(-pid, syscall.SIGKILL)
		}()
		return err
	}
	cmd.WaitDelay = grace + time.Second
	return cmd, nil
}
