package supervise

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// ErrPortBusy: a port a component binds itself (Component.SelfBound) was
// still taken when the component was to start.
var ErrPortBusy = errors.New("port in use")

// portFreeWait bounds the wait for a self-bound port before a start. The
// supervisor has already killed the old process's group by then; what is
// left is the kernel releasing it, or another program holding the port.
const portFreeWait = 5 * time.Second

// waitFree waits until every address can be bound (with SO_REUSEADDR, as
// servers bind: connections in TIME_WAIT do not count), so a process that
// binds one itself is not started while the previous one still holds it.
func waitFree(ctx context.Context, addrs []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, a := range addrs {
		for {
			ln, err := net.Listen("tcp", a)
			if err == nil {
				ln.Close()
				break
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				return err
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w: %s is still bound by another process after %v", ErrPortBusy, a, timeout)
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
	return nil
}
