package schema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/deploykit/deploykit/instance/account"
	"github.com/deploykit/deploykit/internal/tailbuf"
)

// ErrHookFailed: a migration hook exited unsuccessfully (see *HookError).
var ErrHookFailed = errors.New("schema: migration hook failed")

// HookError reports a failed hook with the end of its output.
type HookError struct {
	Argv   []string
	Err    error
	Output string // last 4 KiB of stdout+stderr
}

func (e *HookError) Error() string {
	return fmt.Sprintf("schema: migration hook %q: %v\n%s", strings.Join(e.Argv, " "), e.Err, strings.TrimSpace(e.Output))
}

func (e *HookError) Unwrap() []error { return []error{ErrHookFailed, e.Err} }

// RunHook runs an application's migration command (e.g. ["python", "-m",
// "django", "migrate", "--noinput"]) as the instance's Unix user, with
// the instance's environment env ("KEY=value": DATABASE_URL, the spec's
// [env], PATH with the venv's bin first…) over account's clean base, in
// dir. Output goes to out (may be nil) and, on failure, into the error.
// Cancelling ctx ends the hook's whole process group (SIGTERM, then
// SIGKILL after 10 seconds).
func RunHook(ctx context.Context, acct *account.Account, argv, env []string, dir string, out io.Writer) error {
	cmd, err := acct.GroupCommand(ctx, argv, env, dir, 10*time.Second)
	if err != nil {
		return &HookError{Argv: argv, Err: err}
	}
	tail := &tailbuf.Buffer{Max: 4096}
	w := io.Writer(tail)
	if out != nil {
		w = io.MultiWriter(out, tail)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return &HookError{Argv: argv, Err: err, Output: tail.String()}
	}
	return nil
}
